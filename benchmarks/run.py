"""Speed and scale of haircare-expert, measured on the installed package; prints Markdown tables.

    python benchmarks/run.py            # everything (a few minutes)
    python benchmarks/run.py --quick    # fewer profiles, smaller synthetic bases (under a minute)

What it measures (see benchmarks/README.md for the figures and what they mean):

1. the shipped knowledge base: per-consultation inference (engine built once, reset per client)
   over generated profiles, median and p95; the same with experta's stock matcher; a whole
   consultation (validation + inference + assembly + JSON); the direct evaluator (plain Python,
   no Rete) on the same facts, as a ratio;
2. cold start: ``haircare --version`` and ``haircare advise EXAMPLE --format json`` in a fresh
   process (median of several runs); the interview's next-question latency;
3. synthetic knowledge bases of growing size: load, compile and per-profile time;
4. ``haircare batch`` throughput (profiles per second) with 1 and 2 jobs.

Timings depend on the machine and its load; compare figures taken in one run.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from profiles import generate  # noqa: E402
from synthetic import write_rules  # noqa: E402


# -- helpers ------------------------------------------------------------------------------------
def clock(func, items) -> list[float]:
    """Seconds per call of ``func(item)`` for each item."""
    times = []
    for item in items:
        start = time.perf_counter()
        func(item)
        times.append(time.perf_counter() - start)
    return times


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    sys.stdout.flush()


def haircare_command() -> list[str]:
    """``python -m haircare_expert``: the package this interpreter imports (as the console
    script would), so a comparison run with another PYTHONPATH measures that package."""
    return [sys.executable, "-m", "haircare_expert"]


def example_profile() -> Path:
    from importlib import resources
    folder = resources.files("haircare_expert.facts") / "examples"
    return Path(str(sorted(p for p in folder.iterdir() if p.name.endswith(".yaml"))[0]))


def _stock_engine(engine_cls, rulebook):
    """The same rules on experta's own matcher (None for an engine without that option)."""
    try:
        return engine_cls(rulebook, stock_matcher=True)
    except TypeError:
        return None


# -- 1. the shipped knowledge base -------------------------------------------------------------
def shipped(count: int) -> None:
    from haircare_expert.consult.advisor import Advisor
    from haircare_expert.engine.compiler import Engine
    from haircare_expert.knowledge.rulebook import Rulebook

    start = time.perf_counter()
    rulebook = Rulebook.load()
    loaded = time.perf_counter()
    advisor = Advisor(rulebook)
    built = time.perf_counter()
    profiles = generate(count, seed=1)
    facts = [advisor.vocabulary.profile_facts(p)[1] for p in profiles]
    for f in facts[:50]:                      # warm up caches (predicates, templates)
        advisor.engine.run(f)
    engine = clock(advisor.engine.run, facts)
    whole = clock(lambda p: json.dumps(advisor.consult(p).to_json()), profiles)
    firings = statistics.mean(len(advisor.engine.run(f)[1]) for f in facts[:200])
    rows = [["inference (engine.run)", ms(statistics.median(engine)), ms(p95(engine)), "1.00"]]
    stock = _stock_engine(Engine, rulebook)
    if stock is not None:
        stock_times = clock(stock.run, facts)
        rows.append(["inference, experta's stock ReteMatcher", ms(statistics.median(stock_times)),
                     ms(p95(stock_times)), f"{statistics.median(stock_times) / statistics.median(engine):.2f}"])
    rows.append(["whole consultation (validate, infer, assemble, JSON)", ms(statistics.median(whole)),
                 ms(p95(whole)), f"{statistics.median(whole) / statistics.median(engine):.2f}"])
    try:
        from haircare_expert.engine.evaluator import evaluate
    except ImportError:
        rows.append(["direct evaluator", "not available", "", ""])
    else:
        direct = clock(lambda f: evaluate(rulebook, f), facts)
        rows.append(["direct evaluator (plain Python, no Rete)", ms(statistics.median(direct)), ms(p95(direct)),
                     f"{statistics.median(direct) / statistics.median(engine):.2f}"])
    table(f"Shipped knowledge base: {len(rulebook)} rules, {count} generated profiles, "
          f"{firings:.1f} firings a profile on average; load {ms(loaded - start)}, compile {ms(built - loaded)}",
          ["what", "median", "p95", "x engine"], rows)


# -- 2. cold start and the interview ---------------------------------------------------------------
def cold(runs: int) -> None:
    command = haircare_command()
    example = example_profile()
    rows = []
    for label, args in (("haircare --version", ["--version"]),
                        ("haircare advise EXAMPLE --format json", ["advise", str(example), "--format", "json"]),
                        ("haircare advise EXAMPLE (txt report)", ["advise", str(example)])):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            # outside the checkout: `python -m` would import its uninstalled package
            subprocess.run(command + args, check=True, capture_output=True, cwd=tempfile.gettempdir())
            times.append(time.perf_counter() - start)
        rows.append([label, ms(statistics.median(times)), ms(min(times))])
    table(f"Cold start ({runs} runs each, fresh process)", ["command", "median", "best"], rows)


def interview(count: int) -> None:
    try:
        from haircare_expert.consult import interview as iv
    except ImportError:
        print("\n### Interview\n\nhaircare_expert/interview.py is not there yet: pending.")
        return
    from haircare_expert.consult.advisor import Advisor
    advisor = Advisor()
    book = iv.QuestionBook.load(advisor.vocabulary)
    rng = random.Random(5)
    latencies, questions = [], []

    def answer(q) -> str:
        if rng.random() < 0.05:
            return "unknown"
        if q.kind == "choice":
            return str(rng.randint(1, len(q.choices)))
        if q.kind == "set":
            picked = rng.sample(range(1, len(q.choices) + 1), rng.randint(0, min(3, len(q.choices))))
            return ",".join(map(str, picked)) or "none"
        if q.kind == "int":
            return str(rng.randint(q.min, min(q.max, q.min + 10)))
        if q.kind == "bool":
            return rng.choice(["yes", "no"])
        return ""

    for _ in range(count):
        talk = iv.Interview(advisor, iv.Session(), book)
        talk.question_lines()
        asked = 0
        while not talk.finished and asked < 60:
            text = answer(talk.current().question)
            start = time.perf_counter()
            talk.handle(text)
            talk.question_lines()            # the next question, ready to print
            latencies.append(time.perf_counter() - start)
            asked += 1
        questions.append(asked)
    table(f"Interview: answer -> next question ({count} simulated interviews, "
          f"{statistics.mean(questions):.1f} questions each)",
          ["what", "median", "p95", "max"],
          [["next-question latency", ms(statistics.median(latencies)), ms(p95(latencies)),
            ms(max(latencies))]])


# -- 3. synthetic knowledge bases -------------------------------------------------------------------
def scale(sizes: list[int], stock_up_to: int) -> None:
    from haircare_expert.engine.compiler import Engine
    from haircare_expert.knowledge.rulebook import Rulebook
    from haircare_expert.knowledge.vocabulary import Vocabulary

    vocabulary = Vocabulary.load()
    rows = []
    for size in sizes:
        count = max(20, min(200, 40_000 // size))
        with tempfile.TemporaryDirectory() as folder:
            write_rules(folder, size)
            start = time.perf_counter()
            rulebook = Rulebook.load(shipped=folder, vocabulary=vocabulary)
            loaded = time.perf_counter()
            engine = Engine(rulebook)
            built = time.perf_counter()
        facts = [vocabulary.profile_facts(p)[1] for p in generate(count, seed=2)]
        times = clock(engine.run, facts)
        firings = statistics.mean(len(engine.run(f)[1]) for f in facts[:20])
        stock = _stock_engine(Engine, rulebook) if size <= stock_up_to else None
        if stock is not None:
            stock_times = clock(stock.run, facts[: max(10, count // 2)])
            stock_cell = ms(statistics.median(stock_times))
        else:
            stock_cell = "(skipped)"
        rows.append([size, ms(loaded - start), ms(built - loaded), f"{(built - loaded) / size * 1e6:.0f} µs",
                     count, f"{firings:.0f}", ms(statistics.median(times)), ms(p95(times)), stock_cell])
    table("Synthetic knowledge bases (generated rules: derivations, advice, negations, joins)",
          ["rules", "load + validate", "compile", "compile / rule", "profiles", "firings / profile",
           "median / profile", "p95", "stock matcher median"], rows)


# -- 4. batch ----------------------------------------------------------------------------------------
def batch(count: int, jobs: list[int]) -> None:
    command = haircare_command()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "profiles.jsonl"
        with open(source, "w", encoding="utf-8") as handle:
            for profile in generate(count, seed=3):
                handle.write(json.dumps(profile) + "\n")
        outputs = []
        for n in jobs:
            out = Path(folder) / f"out-{n}.jsonl"
            used = _children_cpu()
            start = time.perf_counter()
            done = subprocess.run(command + ["batch", str(source), "-o", str(out), "--jobs", str(n)],
                                  capture_output=True, cwd=folder)
            if done.returncode:
                print(f"\n### haircare batch\n\nnot available here: {done.stderr.decode().strip()}")
                return
            seconds = time.perf_counter() - start
            cpu = _children_cpu() - used
            outputs.append(out.read_bytes())
            rows.append([n, count, f"{seconds:.2f} s", f"{count / seconds:,.0f}",
                         f"{cpu:.2f} s ({cpu / count * 1000:.2f} ms a profile)"])
        same = all(o == outputs[0] for o in outputs)
    table(f"haircare batch: {count} profiles, whole command (start-up included); "
          f"outputs identical across job counts: {same}",
          ["jobs", "profiles", "wall time", "profiles / s", "CPU, all processes"], rows)


def _children_cpu() -> float:
    """User + system CPU seconds of the finished child processes (and theirs) so far."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer profiles and smaller bases")
    parser.add_argument("--profiles", type=int, help="profiles for the shipped-KB timings (default 1000)")
    parser.add_argument("--sizes", help="synthetic KB sizes, comma-separated (default 100,1000,5000)")
    parser.add_argument("--only", help="run only these parts: shipped,cold,interview,scale,batch")
    args = parser.parse_args(argv)
    quick = args.quick
    count = args.profiles or (300 if quick else 1000)
    sizes = [int(s) for s in (args.sizes or ("100,500" if quick else "100,1000,5000")).split(",")]
    parts = set((args.only or "shipped,cold,interview,scale,batch").split(","))
    import haircare_expert
    print(f"# haircare-expert {haircare_expert.__version__} benchmark\n\nPython {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, package at {Path(haircare_expert.__file__).parent}")
    if "shipped" in parts:
        shipped(count)
    if "cold" in parts:
        cold(5 if quick else 9)
    if "interview" in parts:
        interview(20 if quick else 100)
    if "scale" in parts:
        scale(sizes, stock_up_to=1000)
    if "batch" in parts:
        batch(1000 if quick else 5000, [1, 2])


if __name__ == "__main__":
    main()

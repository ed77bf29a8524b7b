"""Speed and scale of haircare-expert, measured on the installed package; prints Markdown tables.

    python benchmarks/run.py            # everything (several minutes)
    python benchmarks/run.py --quick    # fewer profiles, smaller synthetic bases

What it measures (see benchmarks/README.md for the figures and what they mean):

1. the shipped knowledge base: per-consultation inference (engine built once, reset per client)
   over generated profiles, median and p95; the same with experta's stock matcher; a whole
   consultation (validation + inference + assembly + JSON); the direct evaluator (plain Python,
   no Rete) on the same facts, as a ratio;
2. cold start: ``haircare --version`` and ``haircare advise EXAMPLE --format json`` in a fresh
   process with the bytecode present (PYTHONDONTWRITEBYTECODE unset for the runs), interleaved
   with the import floor ``python -c "import yaml, jinja2, click"``, as a ratio to it, and one
   cold advise in steps (how much of it is compiling the network); the interview's
   next-question latency (shipped rules, 1,000 synthetic rules);
3. the shipped rules and synthetic knowledge bases of growing size side by side with CLIPS
   (``benchmarks/clips_bridge.py``, the ``bench`` extra): load, compile, per-profile median and
   p95 with and without ``gc.freeze()``, P/CLIPS, and the agreement (fired rules, firing counts,
   derived facts) on every profile timed;
4. ``haircare batch`` throughput (profiles per second) with 1 and 2 jobs, CPU per profile, and
   a profile's CPU by step (reading, inference, assembly, JSON).

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
from synthetic import random_answer, write_rules  # noqa: E402


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


def example_profile(name: str = "") -> Path:
    """The example ``name`` (the first example, alphabetically, when none is named)."""
    from importlib import resources
    folder = resources.files("haircare_expert.facts") / "examples"
    if name:
        return Path(str(folder / name))
    return Path(str(sorted(p for p in folder.iterdir() if p.name.endswith(".yaml"))[0]))


#: An example whose advice fills a client value into rule text ("you use it {{ per_week }}
#: times a week"), so its JSON advise imports Jinja2 to fill it in; 23 of the 45 examples do.
FILLED_EXAMPLE = "heat-twice-frizz.yaml"


def load_line() -> str:
    """The machine's load, for the record (figures on a busy machine are not comparable)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on {os.cpu_count()} CPUs"


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
    from haircare_expert.engine.freeze import freeze_compiled
    freeze_compiled()                         # as every long-lived process does
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
#: One cold ``advise --format json`` in steps, CPU time of each (run in a fresh process).
_COLD_STEPS = r"""
import sys, time
marks = [time.process_time()]
import yaml, click
marks.append(time.process_time())
import haircare_expert.cli.advise
import gc
gc.disable()        # as the command does while it reads and compiles the rules (cli/base.py)
from haircare_expert.consult.advisor import Advisor
from haircare_expert.knowledge.cache import load_rulebook
from haircare_expert.render.formats import render
marks.append(time.process_time())
rulebook = load_rulebook(())
marks.append(time.process_time())
advisor = Advisor(rulebook)
gc.freeze()         # as the console script does once the rules are built
gc.enable()
marks.append(time.process_time())
render(advisor.consult_file(sys.argv[1]), "json")
marks.append(time.process_time())
print(" ".join(f"{b - a:.6f}" for a, b in zip(marks, marks[1:])))
"""
_STEP_NAMES = ["import yaml, click (the floor's imports a JSON advise needs: no Jinja2)", "import the command and the library",
               "the rulebook, from the verified cache", "compile the network onto experta (engine/)",
               "consult + JSON"]


def _bytecode_env() -> dict:
    """The environment for the cold runs: PYTHONDONTWRITEBYTECODE removed, so the modules'
    bytecode is written by the untimed first run and read by the timed ones, as after
    ``pip install .`` (an editable install with that variable set would compile every module
    from source on every start)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _has_bytecode() -> bool:
    import importlib.util

    import haircare_expert.cli.advise as module
    return Path(importlib.util.cache_from_source(module.__file__)).exists()


def cold(runs: int) -> None:
    """Each command and the import floor, interleaved run by run (so load changes hit all alike);
    the rulebook cache is warmed and the bytecode written by one untimed run of each first, as
    any second start finds them. Wall time and the CPU time of the child process."""
    import resource
    command = haircare_command()
    example = example_profile()
    floor = [sys.executable, "-c", "import yaml, jinja2, click"]
    cases = [("import floor: python -c 'import yaml, jinja2, click'", floor, None),
             ("haircare --version", command + ["--version"], None),
             ("haircare advise EXAMPLE --format json", command + ["advise", str(example), "--format", "json"], None),
             ("same, rulebook cache off", command + ["advise", str(example), "--format", "json"], "off"),
             (f"haircare advise {FILLED_EXAMPLE} --format json (rule text filled in: Jinja2)",
              command + ["advise", str(example_profile(FILLED_EXAMPLE)), "--format", "json"], None),
             ("haircare advise EXAMPLE (txt report)", command + ["advise", str(example)], None)]
    times: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    cpu: dict[str, list[float]] = {label: [] for label, _, _ in cases}

    def once(label, args, cache):
        env = _bytecode_env()
        if cache:
            env["HAIRCARE_CACHE_DIR"] = cache
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        # outside the checkout: `python -m` would import its uninstalled package
        subprocess.run(args, check=True, capture_output=True, cwd=tempfile.gettempdir(), env=env)
        times[label].append(time.perf_counter() - start)
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu[label].append(now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime)

    for label, args, cache in cases:
        once(label, args, cache)
        times[label].clear()
        cpu[label].clear()
    steps = []
    for _ in range(runs):
        for label, args, cache in cases:
            once(label, args, cache)
        done = subprocess.run([sys.executable, "-c", _COLD_STEPS, str(example)], check=True, capture_output=True,
                              text=True, cwd=tempfile.gettempdir(), env=_bytecode_env())
        steps.append([float(x) for x in done.stdout.split()])
    base, base_cpu = statistics.median(times[cases[0][0]]), statistics.median(cpu[cases[0][0]])
    rows = [[label, ms(statistics.median(t)), ms(min(t)), f"{statistics.median(t) / base:.2f}",
             ms(statistics.median(cpu[label])), f"{statistics.median(cpu[label]) / base_cpu:.2f}"]
            for label, t in times.items()]
    table(f"Cold start ({runs} runs each, fresh process, interleaved; bytecode present: "
          f"{'yes' if _has_bytecode() else 'NO (read-only package?)'}, PYTHONDONTWRITEBYTECODE unset for "
          f"the runs; goal: advise --format json <= 1.5 x the import floor)",
          ["command", "median", "best", "x floor", "CPU median", "CPU x floor"], rows)
    advise_cpu = statistics.median(cpu[cases[2][0]])
    gap = advise_cpu - base_cpu
    medians = [statistics.median(column) for column in zip(*steps)]
    compile_share = medians[3] / gap if gap > 0 else 0.0
    table(f"One cold `advise --format json` in steps (CPU, median of {runs} fresh processes; interpreter "
          f"start and exit not included). Over the floor: {ms(gap)} of CPU, of which compiling the "
          f"network is {compile_share:.0%}; without it the command would be "
          f"{(advise_cpu - medians[3]) / base_cpu:.2f} x the floor",
          ["step", "CPU", "x floor (CPU)"],
          [[name, ms(m), f"{m / base_cpu:.2f}"] for name, m in zip(_STEP_NAMES, medians)])


def interview(count: int, synthetic: int = 0) -> None:
    """Answer -> next question over ``count`` simulated interviews, on the shipped rules or on
    ``synthetic`` generated rules (goal: p95 <= 20 ms at 1,000)."""
    from haircare_expert.consult import interview as iv
    from haircare_expert.consult.advisor import Advisor
    from haircare_expert.engine.freeze import freeze_compiled
    from haircare_expert.knowledge.rulebook import Rulebook
    if synthetic:
        with tempfile.TemporaryDirectory() as folder:
            write_rules(folder, synthetic)
            advisor = Advisor(Rulebook.load(shipped=folder))
    else:
        advisor = Advisor()
    freeze_compiled()
    book = iv.QuestionBook.load(advisor.vocabulary)
    rng = random.Random(5)
    latencies, cpu_times, questions = [], [], []

    def answer(q) -> str:
        return random_answer(q, rng)

    for _ in range(count):
        talk = iv.Interview(advisor, iv.Session(), book)
        talk.question_lines()
        asked = 0
        while not talk.finished and asked < 60:
            text = answer(talk.current().question)
            start, cpu = time.perf_counter(), time.process_time()
            talk.handle(text)
            talk.question_lines()            # the next question, ready to print
            latencies.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
            asked += 1
        questions.append(asked)
    kb = f"{synthetic:,} synthetic rules" if synthetic else "shipped rules"
    table(f"Interview on the {kb}: answer -> next question ({count} simulated interviews, "
          f"{statistics.mean(questions):.1f} questions each)",
          ["what", "median", "p95", "max"],
          [["next-question latency (wall clock)", ms(statistics.median(latencies)), ms(p95(latencies)),
            ms(max(latencies))],
           ["the same, CPU time of this process (what an idle machine's wall clock would be)",
            ms(statistics.median(cpu_times)), ms(p95(cpu_times)), ms(max(cpu_times))]])


# -- 3. the engine against CLIPS, shipped and synthetic knowledge bases ------------------------------
def scale(sizes: list[int], shipped_too: bool = True) -> None:
    """Per size: load, compile, engine per profile (median, p95, p95/median without and with
    gc.freeze), CLIPS per profile on the same profiles interleaved, P/CLIPS as a ratio of
    wall-clock and of CPU time, agreement."""
    import gc

    from haircare_expert.engine.compiler import Engine
    from haircare_expert.knowledge.rulebook import Rulebook
    from haircare_expert.knowledge.vocabulary import Vocabulary
    try:
        import clips_bridge
    except ImportError as exc:
        clips_bridge = None
        print(f"\n(CLIPS columns skipped: {exc}; pip install 'haircare-expert[bench]')")

    vocabulary = Vocabulary.load()
    rows = []
    for size in (["shipped"] if shipped_too else []) + sizes:
        count = 300 if size == "shipped" else max(60, min(300, 60_000 // size))
        start = time.perf_counter()
        if size == "shipped":
            rulebook = Rulebook.load(vocabulary=vocabulary)
        else:
            with tempfile.TemporaryDirectory() as folder:
                write_rules(folder, size)
                rulebook = Rulebook.load(shipped=folder, vocabulary=vocabulary)
        loaded = time.perf_counter()
        engine = Engine(rulebook)
        built = time.perf_counter()
        facts = [vocabulary.profile_facts(p)[1] for p in generate(count, seed=2)]
        for f in facts[:5]:
            engine.run(f)
        unfrozen = clock(engine.run, facts)                 # the collector as it comes
        cells = ["(no clipspy)", "", "", "", ""]
        gc.collect()
        gc.freeze()                                         # what long-lived processes do
        if clips_bridge is not None:
            ours, theirs, cpu, agree = _interleaved(engine, clips_bridge, rulebook, facts)
            ours_cpu, theirs_cpu = (statistics.median(times) for times in cpu)
            cells = [ms(statistics.median(theirs)), ms(p95(theirs)),
                     f"{statistics.median(ours) / statistics.median(theirs):.1f}",
                     f"**{ours_cpu / theirs_cpu:.2f}** ({ms(ours_cpu)} / {ms(theirs_cpu)})", f"{agree}/{len(facts)}"]
        else:
            ours = clock(engine.run, facts)
        gc.unfreeze()
        firings = statistics.mean(len(engine.run(f)[1]) for f in facts[:20])
        label = f"shipped ({len(rulebook)})" if size == "shipped" else f"{size:,}"
        rows.append([label, ms(loaded - start), ms(built - loaded), count, f"{firings:.0f}",
                     ms(statistics.median(ours)), ms(p95(ours)),
                     f"{p95(unfrozen) / statistics.median(unfrozen):.1f} / **{p95(ours) / statistics.median(ours):.1f}**",
                     *cells])
        del engine
        gc.collect()
    table("The engine and CLIPS on the same rules and profiles (interleaved, one process; "
          "goals: P/CLIPS <= 3 at 1,000 rules, p95 <= 2 x median at 5,000 with gc.freeze)",
          ["rules", "load + validate", "compile", "profiles", "firings / profile", "engine median",
           "engine p95", "p95 / median: no freeze / freeze", "CLIPS median", "CLIPS p95", "P / CLIPS (wall)",
           "P / CLIPS (CPU: engine / CLIPS medians)", "agree"], rows)


def _interleaved(engine, clips_bridge, rulebook, facts):
    """Engine and CLIPS timed profile by profile, alternately, in wall-clock and CPU time
    (``time.process_time``: what a shared machine's other jobs do not inflate); each profile's
    outcome (firing counts, derived facts) compared on a recording CLIPS engine, untimed.
    (wall times ours, wall times CLIPS's, (CPU times ours, CPU times CLIPS's), agreeing)."""
    timed = clips_bridge.ClipsEngine(rulebook)
    recording = clips_bridge.ClipsEngine(rulebook, record=True)
    ours, theirs, ours_cpu, theirs_cpu, agree = [], [], [], [], 0
    wall, cpu = time.perf_counter, time.process_time
    for f in facts:
        start, start_cpu = wall(), cpu()
        result = engine.run(f)
        middle, middle_cpu = wall(), cpu()
        timed.run(f)
        end, end_cpu = wall(), cpu()
        ours.append(middle - start)
        theirs.append(end - middle)
        ours_cpu.append(middle_cpu - start_cpu)
        theirs_cpu.append(end_cpu - middle_cpu)
        recording.run(f)
        agree += clips_bridge.engine_outcome(*result) == recording.outcome()
    return ours, theirs, (ours_cpu, theirs_cpu), agree


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
                                  capture_output=True, cwd=folder, env=_bytecode_env())
            if done.returncode:
                print(f"\n### haircare batch\n\nnot available here: {done.stderr.decode().strip()}")
                return
            seconds = time.perf_counter() - start
            cpu = _children_cpu() - used
            outputs.append(out.read_bytes())
            rows.append([n, count, f"{seconds:.2f} s", f"{count / seconds:,.0f}",
                         f"{cpu:.2f} s", f"**{cpu / count * 1000:.2f} ms**"])
        same = all(o == outputs[0] for o in outputs)
    table(f"haircare batch: {count} profiles, whole command (start-up included); "
          f"outputs identical across job counts: {same}",
          ["jobs", "profiles", "wall time", "profiles / s", "CPU, all processes",
           "CPU / profile (goal <= 0.6 ms)"], rows)
    batch_steps(min(count, 1000))


def batch_reference(count: int, reference: str, rounds: int = 3) -> None:
    """``haircare batch`` (1 job) of this package against another version, installed for the
    interpreter ``reference`` (e.g. the code the issue's figures were taken on), alternating
    run by run on the same profiles: the CPU per profile of each and their ratio, which carries
    over from one machine to another where absolute figures do not."""
    ours_command = haircare_command()
    theirs_command = [reference, "-m", "haircare_expert"]
    cpu: dict[str, list[float]] = {"this version": [], "reference": []}
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "profiles.jsonl"
        with open(source, "w", encoding="utf-8") as handle:
            for profile in generate(count, seed=3):
                handle.write(json.dumps(profile) + "\n")
        for number in range(rounds + 1):   # the first round writes bytecode, untimed
            for label, command in (("this version", ours_command), ("reference", theirs_command)):
                used = _children_cpu()
                done = subprocess.run(command + ["batch", str(source), "-o", str(Path(folder) / "out.jsonl")],
                                      capture_output=True, cwd=folder, env=_bytecode_env())
                if done.returncode:
                    print(f"\n### haircare batch against {reference}\n\nnot available: "
                          f"{done.stderr.decode().strip()}")
                    return
                if number:
                    cpu[label].append((_children_cpu() - used) / count)
    version = subprocess.run([reference, "-c", "import haircare_expert, sys; "
                              "sys.stdout.write(haircare_expert.__file__)"], capture_output=True, text=True,
                             cwd=tempfile.gettempdir()).stdout   # not this checkout's package
    ours, theirs = (statistics.median(cpu[label]) for label in ("this version", "reference"))
    table(f"haircare batch, {count} profiles, 1 job, whole command: this version against the reference "
          f"({version or reference}), alternating, median of {rounds} rounds",
          ["version", "CPU / profile", "ratio to the reference"],
          [["this version", f"**{ms(ours)}**", f"**{ours / theirs:.2f}**"],
           ["reference", ms(theirs), "1.00"]])


def batch_steps(count: int) -> None:
    """Where a batch profile's CPU goes, in this process over ``count`` profiles taken one by one
    as the command takes them (each profile's steps timed in turn, and its results let go before
    the next, so no step pays for collecting what a benchmark kept alive; best of three rounds):
    reading and checking the line, inference (``engine.run``: engine/), assembling the advice
    and plan, the JSON line."""
    from haircare_expert.consult import batch as batching
    from haircare_expert.consult.advisor import Advisor, assemble
    from haircare_expert.engine.freeze import freeze_compiled
    advisor = Advisor()
    freeze_compiled()
    raws = [json.dumps(p).encode() for p in generate(count, seed=3)]
    names = ["read and check the line (parse, validate, facts)", "inference (engine.run; engine/)",
             "assemble (advice, plan, week)", "JSON line (Encoder)"]
    clock, facts_of, run = time.process_time, advisor.vocabulary.profile_facts, advisor.engine.run
    rulebook, parse = advisor.rulebook, batching.parse_line
    best = [float("inf")] * len(names)
    for _ in range(3):
        encode = batching.Encoder()
        spent = [0.0] * len(names)
        for raw in raws:
            t0 = clock()
            client, facts = facts_of(parse(raw, "x"), "x")
            t1 = clock()
            result = run(facts)
            t2 = clock()
            consultation = assemble(rulebook, client, *result)
            t3 = clock()
            encode(consultation)
            t4 = clock()
            spent[0] += t1 - t0
            spent[1] += t2 - t1
            spent[2] += t3 - t2
            spent[3] += t4 - t3
        best = [min(b, s) for b, s in zip(best, spent)]
    total = sum(best)
    table(f"haircare batch, one profile's CPU by step (in-process, {count} profiles one by one, best of 3; "
          f"start-up and writing not included): {total / count * 1000:.2f} ms a profile",
          ["step", "CPU / profile", "share"],
          [[name, ms(t / count), f"{t / total:.0%}"] for name, t in zip(names, best)])


def dask_batch(count: int, workers: int = 2) -> None:
    """``batch --scheduler`` on a LocalCluster of ``workers`` single-thread worker processes:
    throughput per worker, start-up excluded (the workers compile the rules on their first
    partition: a warm-up partition is run first), and the output compared with a local run."""
    try:
        from distributed import LocalCluster
    except ImportError:
        print("\n### batch on Dask\n\nnot measured: pip install 'haircare-expert[dask]'")
        return
    from haircare_expert.consult import batch as batching
    from haircare_expert.consult.advisor import Advisor
    advisor = Advisor()
    with tempfile.TemporaryDirectory() as folder, \
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                         dashboard_address=None) as cluster:
        source = Path(folder) / "profiles.jsonl"
        warm = Path(folder) / "warm.jsonl"
        with open(source, "w", encoding="utf-8") as handle:
            for profile in generate(count, seed=3):
                handle.write(json.dumps(profile) + "\n")
        warm.write_text("\n".join(source.read_text(encoding="utf-8").splitlines()[:workers * 50]) + "\n",
                        encoding="utf-8")
        batching.run(warm, Path(folder) / "warm-out.jsonl", advisor=advisor,
                     scheduler=cluster.scheduler_address)
        start = time.perf_counter()
        batching.run(source, Path(folder) / "remote.jsonl", advisor=advisor, scheduler=cluster.scheduler_address)
        seconds = time.perf_counter() - start
        batching.run(source, Path(folder) / "local.jsonl", advisor=advisor)
        same = (Path(folder) / "remote.jsonl").read_bytes() == (Path(folder) / "local.jsonl").read_bytes()
    table(f"batch --scheduler on a LocalCluster of {workers} worker processes ({count} profiles, "
          f"rules already compiled on the workers); byte-identical to the local run: {same}",
          ["workers", "wall time", "profiles / s", "profiles / s per worker"],
          [[workers, f"{seconds:.2f} s", f"{count / seconds:,.0f}", f"{count / seconds / workers:,.0f}"]])


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
    parser.add_argument("--only", help="run only these parts: shipped,cold,interview,scale,batch,dask")
    parser.add_argument("--reference", metavar="PYTHON",
                        help="batch part: also time the version of haircare-expert this interpreter "
                             "imports, alternating with this one, and print the ratio")
    args = parser.parse_args(argv)
    quick = args.quick
    count = args.profiles or (300 if quick else 1000)
    sizes = [int(s) for s in (args.sizes or ("100,500" if quick else "100,1000,5000")).split(",")]
    parts = set((args.only or "shipped,cold,interview,scale,batch,dask").split(","))
    import haircare_expert
    print(f"# haircare-expert {haircare_expert.__version__} benchmark\n\nPython {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, package at {Path(haircare_expert.__file__).parent}\n\n"
          f"At the start: {load_line()}")
    if "shipped" in parts:
        shipped(count)
    if "cold" in parts:
        cold(5 if quick else 9)
    if "interview" in parts:
        interview(20 if quick else 100)
        interview(10 if quick else 30, synthetic=200 if quick else 1000)
    if "scale" in parts:
        scale(sizes)
    if "batch" in parts:
        batch(1000 if quick else 5000, [1, 2])
        if args.reference:
            batch_reference(1000 if quick else 5000, args.reference)
    if "dask" in parts:
        dask_batch(1000 if quick else 5000)
    print(f"\nAt the end: {load_line()}")


if __name__ == "__main__":
    main()

"""A synthetic knowledge base of any size, built from the vocabulary, to show how cost grows.

``write_rules(folder, n, seed)`` writes ``n`` valid rules (plus the shipped source catalogue) to
``folder``, for ``Rulebook.load(shipped=folder)``. The mix resembles the shipped rules: a third
derive a state or a need from the client's answers, the rest give advice on needs, states and
answers, some with a negation and some joining two routine entries on a shared variable.
"""
from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

import yaml

from haircare_expert.knowledge.vocabulary import Vocabulary

SOURCE = [{"own": True, "note": "synthetic benchmark rule"}]


def _test(spec, rng):
    """One field test on a field of ``spec``, as rule-file YAML data."""
    values = list(spec.values)
    if spec.type == "choice":
        return {"in": rng.sample(values, rng.randint(1, 2))}
    if spec.type == "set":
        op = rng.choice(["contains", "contains_any", "contains_all"])
        if op == "contains":
            return {"contains": rng.choice(values)}
        return {op: rng.sample(values, 2)}
    if spec.type == "int":
        return {"ge": rng.randint(spec.min + 2, min(spec.max, spec.min + 14))}
    if spec.type == "bool":
        return rng.random() < 0.5
    return None


def _pattern(ftype, rng, tests: int = 1) -> dict:
    pattern = {"fact": ftype.name}
    usable = [s for s in ftype.fields.values() if not s.generated and s.type in ("choice", "set", "int", "bool")]
    for spec in rng.sample(usable, min(tests, len(usable))):
        pattern[spec.name] = _test(spec, rng)
    return pattern


def make_rules(n: int, seed: int = 8, vocabulary: Vocabulary | None = None) -> list[dict]:
    """``n`` rule documents that load cleanly against the vocabulary."""
    vocab = vocabulary or Vocabulary.load()
    rng = random.Random(seed)
    inputs = [t for t in vocab.types.values() if not t.derived]
    derived = [t for t in vocab.types.values() if t.derived and t.name != "recommend"]
    uses = vocab.types["uses"]
    rules = []
    for i in range(n):
        roll = rng.random()
        rule = {"id": f"syn-{i:05d}", "title": f"Synthetic rule {i}", "because": "Benchmark.",
                "sources": SOURCE}
        if roll < 0.35:   # answers -> derived state or need
            target = rng.choice(derived)
            field = next(iter(target.fields.values()))
            rule.update(kind="derive", when=[_pattern(rng.choice(inputs), rng, 2)],
                        then={"declare": [{"fact": target.name, field.name: rng.choice(field.values)}]})
        elif roll < 0.85:  # derived or answers -> advice (some negated)
            when = [_pattern(rng.choice(derived + inputs), rng, 1)]
            if rng.random() < 0.7:
                when.append(_pattern(rng.choice(inputs), rng, 1))
            if rng.random() < 0.25:
                when.append({"not": _pattern(rng.choice(derived), rng, 1)})
            kind = rng.choice(["warning", "recommendation", "how-to", "note"])
            rule.update(kind=kind, when=when, then={"advise": f"Synthetic advice {i}."})
        else:              # a join on a shared variable across two routine entries
            rule.update(kind="warning", when=[
                dict(_pattern(uses, rng, 1), product="?p", applied_to={"contains": "scalp"}),
                dict(_pattern(uses, rng, 1), product="?p", applied_to={"contains": "ends"})],
                then={"advise": "Synthetic join {{ p }}."})
        rules.append(rule)
    return rules


def write_rules(folder: str | Path, n: int, seed: int = 8) -> Path:
    """Write ``n`` synthetic rules and the source catalogue into ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sources = (resources.files("haircare_expert.rules") / "sources.yaml").read_text(encoding="utf-8")
    (folder / "sources.yaml").write_text(sources, encoding="utf-8")
    rules = make_rules(n, seed)
    for start in range(0, n, 100):   # 100 rules a file, like a large but tidy rule folder
        chunk = rules[start:start + 100]
        (folder / f"synthetic-{start // 100:03d}.yaml").write_text(
            yaml.safe_dump({"rules": chunk}, sort_keys=False), encoding="utf-8")
    return folder


def random_answer(question, rng, unknown: float = 0.05, back: float = 0.0) -> str:
    """What a consultant might type at an interview question: "unknown" with probability
    ``unknown``, "back" with probability ``back``, else a valid answer of the question's kind
    (the simulated interviews of the benchmark and of the planner's tests)."""
    roll = rng.random()
    if roll < unknown:
        return "unknown"
    if roll < unknown + back:
        return "back"
    if question.kind == "choice":
        return str(rng.randint(1, len(question.choices)))
    if question.kind == "set":
        picked = rng.sample(range(1, len(question.choices) + 1), rng.randint(0, min(3, len(question.choices))))
        return ",".join(map(str, picked)) or "none"
    if question.kind == "int":
        return str(rng.randint(question.min, min(question.max, question.min + 10)))
    if question.kind == "bool":
        return rng.choice(["yes", "no"])
    return ""

"""Random but reproducible client profiles, built from the vocabulary (no hand-kept value lists).

``generate(n, seed)`` returns ``n`` profile documents (plain dicts, as a YAML profile would
parse) that the vocabulary accepts: every input section, every field, ``unknown`` now and then,
and 0-4 routine entries. The same seed always gives the same profiles.
"""
from __future__ import annotations

import random

from haircare_expert.knowledge.vocabulary import FieldSpec, Vocabulary
from haircare_expert.model import UNKNOWN


def _value(spec: FieldSpec, rng: random.Random):
    if rng.random() < 0.05:
        return UNKNOWN
    if spec.type == "choice":
        return rng.choice(spec.values)
    if spec.type == "set":
        return rng.sample(spec.values, rng.randint(0, min(4, len(spec.values))))
    if spec.type == "int":
        top = min(spec.max, spec.min + 21)
        return rng.randint(spec.min, top)
    if spec.type == "bool":
        return rng.random() < 0.5
    return "x"


def _fields(ftype, rng: random.Random) -> dict:
    out = {}
    for name, spec in ftype.fields.items():
        if spec.generated:
            continue
        if spec.required or rng.random() < 0.8:
            out[name] = _value(spec, rng)
    return out


def profile(vocabulary: Vocabulary, rng: random.Random) -> dict:
    """One random profile the vocabulary accepts."""
    doc: dict = {"client": {"name": f"Client {rng.randint(1, 10**6)}"}}
    for section, ftype in sorted(vocabulary.sections.items()):
        if rng.random() < 0.1:
            continue
        if ftype.list_field:
            doc[section] = _value(ftype.fields[ftype.list_field], rng)
        elif ftype.many:
            doc[section] = [_fields(ftype, rng) for _ in range(rng.randint(0, 4))]
        else:
            doc[section] = _fields(ftype, rng)
    return doc


def generate(n: int, seed: int = 8, vocabulary: Vocabulary | None = None) -> list[dict]:
    """``n`` reproducible random profiles."""
    vocabulary = vocabulary or Vocabulary.load()
    rng = random.Random(seed)
    return [profile(vocabulary, rng) for _ in range(n)]

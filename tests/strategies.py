"""Hypothesis strategies shared by the property tests: valid client profiles built from the
vocabulary (so they follow it as it grows), and a few malformed variations of them."""
from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import UNKNOWN


def value_strategy(spec):
    """Any legal answer for one vocabulary field, ``unknown`` included."""
    if spec.type == "choice":
        base = st.sampled_from(spec.values)
    elif spec.type == "set":
        base = st.lists(st.sampled_from(spec.values), unique=True, max_size=min(4, len(spec.values)))
    elif spec.type == "int":
        # Small numbers and the edges of the range: where rule thresholds live.
        base = st.one_of(st.integers(spec.min, min(spec.max, 10)), st.sampled_from([spec.min, spec.max]))
    elif spec.type == "bool":
        base = st.booleans()
    elif spec.type == "date":
        base = st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)).map(dt.date.isoformat)
    else:
        base = st.text("abc xyz", max_size=8)
    if spec.type == "text":
        return base
    return st.one_of(base, st.just(UNKNOWN)) if spec.type != "set" else st.one_of(base, base, st.just(UNKNOWN))


def entry_strategy(ftype):
    """One mapping for a profile section: required fields always, the others sometimes."""
    fields = {name: spec for name, spec in ftype.fields.items() if not spec.generated}
    required = {n: value_strategy(s) for n, s in fields.items() if s.required}
    optional = {n: value_strategy(s) for n, s in fields.items() if not s.required}
    return st.fixed_dictionaries(required, optional=optional)


def client_strategy():
    """The optional ``client`` block: names and a date."""
    name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
    return st.fixed_dictionaries({}, optional={
        "name": name, "consultant": name,
        "date": st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)).map(dt.date.isoformat)})


def profile_strategy(vocabulary: Vocabulary, client: bool = False):
    """Valid client profiles built from the vocabulary, so they follow it as it grows."""
    sections = {}
    for name, ftype in sorted(vocabulary.sections.items()):
        if ftype.list_field:
            sections[name] = value_strategy(ftype.fields[ftype.list_field])
        elif ftype.many:
            entry = entry_strategy(ftype)
            # Several entries, sometimes an exact duplicate (they must stay two facts).
            sections[name] = st.one_of(st.lists(entry, max_size=4),
                                       entry.map(lambda e: [e, dict(e)]))
        else:
            sections[name] = entry_strategy(ftype)
    if client:
        sections["client"] = client_strategy()
    return st.fixed_dictionaries({}, optional=sections)

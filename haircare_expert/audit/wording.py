"""The auditor's wording (``haircare trace``, explain), and the text primitives every printed
page shares.

- :func:`clean` makes any client-given text safe to print on one line in every format (control
  characters, escape sequences and bidi overrides cannot forge lines or reorder the page);
  :func:`escape_json_text` keeps the same characters in JSON as inert escapes;
- :func:`join_words` writes ``a, b and c``;
- :func:`show_value`, :func:`describe_fact_for_auditor` and :func:`origin_words_for_auditor`
  write facts exactly, for the auditor (``scalp: symptoms=[flaking]``, ``client's answer,
  profile:scalp``). The reader's wording of the same facts is
  :mod:`haircare_expert.render.wording` (named by audience: the two differ on purpose).

The reports import these from here; nothing here imports the reports.
"""
from __future__ import annotations

import re
from typing import Any

from haircare_expert.model import Fact

# -- client text: one line, nothing that can forge lines or reorder text ---------------------

#: Characters that break a line (they become a space: a name stays on one line).
_LINE_BREAKS = re.compile("[\n\r\t\v\f\x85\u2028\u2029]+")
#: Other control characters (C0, DEL, C1: NUL, ESC, BEL...), bidi embeddings, overrides and
#: isolates, and the byte-order mark: dropped (they reorder or hide text, or drive terminals).
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
#: The same characters as JSON escapes (the audit record keeps the value, made visible and inert).
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]")


def clean(value: Any) -> str:
    """Client-given text made safe to print on one line in any report: line breaks become
    spaces, other control characters and bidi overrides are dropped, runs of space collapse."""
    text = _LINE_BREAKS.sub(" ", str(value))
    text = _INVISIBLE.sub("", text)
    return " ".join(text.split())


def escape_json_text(text: str) -> str:
    """JSON text with the characters :func:`clean` drops written as ``\\uXXXX`` escapes (JSON
    already escapes C0 controls): the record keeps every value, and no terminal acts on it."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def join_words(items, last: str = "and") -> str:
    """``a, b and c`` (or ``a, b or c`` with ``last="or"``)."""
    items = [str(item) for item in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


# -- the auditor's wording (haircare trace, explain): exact values and paths ---------------------

def show_value(value: Any) -> str:
    """A fact value as the auditor reads it: lists in brackets, booleans as true/false."""
    if isinstance(value, tuple):
        return "[" + ", ".join(clean(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return clean(value)


def describe_fact_for_auditor(fact: Fact) -> str:
    """A short exact description of a fact: ``scalp: symptoms=[flaking, itching]``."""
    fields = ", ".join(f"{k}={show_value(v)}" for k, v in fact.fields.items())
    return f"{fact.type}: {fields}" if fields else f"{fact.type} (no answers)"


def origin_words_for_auditor(origin: str) -> str:
    """Where a fact came from, with its exact profile path: ``client's answer, profile:scalp``."""
    if origin.startswith("profile:"):
        return f"client's answer, {origin}"
    if origin.startswith("rule:"):
        return f"concluded by rule {origin[5:]}"
    return origin

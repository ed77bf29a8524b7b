"""Words: how facts, values and origins are written for the reader of a report.

One place for each idea (issue 14):

- :func:`clean` (client text made safe to print), :func:`escape_json_text` and
  :func:`join_words` live in :mod:`haircare_expert.audit.wording`, the lowest stage that prints
  client text, and are imported from there (render may import audit, not the reverse);
- :func:`words`, :func:`field_value`, :func:`field_label` write fact values and fields in words;
- :func:`describe_fact` / :func:`origin_words` come in two deliberate wordings: here for the
  client and the consultant's record (``scalp symptoms: flaking (your answer: scalp)``), and in
  :mod:`haircare_expert.audit.wording` for the auditor's trace (``scalp: symptoms=[flaking]``,
  ``client's answer, profile:scalp``);
- :func:`text_table` is the one plain-text table drawer (the week, the product comparison).
"""
from __future__ import annotations

import textwrap
from typing import Any

from haircare_expert.audit.wording import clean
from haircare_expert.audit.wording import (
    escape_json_text as escape_json_text,  # re-exported: formats reads it here
)
from haircare_expert.model import UNKNOWN, Fact

# -- values and fields in words -----------------------------------------------------------------

#: How a fact field is named in words, where ``<type> <field>`` would read badly.
FIELD_LABELS = {
    ("goals", "wanted"): "goals",
    ("uses", "applied_to"): "applied to",
    ("uses", "hair_state"): "on hair that is",
    ("uses", "per_week"): "used",
    ("uses", "minutes_on"): "minutes left on",
    ("uses", "rinsed_out"): "rinsed out",
    ("uses", "washed_first"): "hair washed first",
    ("uses", "reactions"): "reactions",
    ("habits", "washes_per_week"): "washes",
    ("habits", "heat_styling_per_week"): "heat styling",
    ("habits", "scalp_massage"): "scalp massage",
    ("red-flag", "reason"): "red flag",
    ("scalp-state", "state"): "scalp state",
    ("hair-state", "state"): "hair state",
    ("need", "name"): "need",
    ("recommend", "product"): "we recommend",
}


def words(value: Any) -> str:
    """A fact value in words: ``scalp_serum`` -> ``scalp serum``, lists joined, booleans yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ", ".join(words(v) for v in value) if value else "none"
    if value == UNKNOWN:
        return "not known"
    return clean(str(value).replace("_", " "))


def label(field: str, value: Any, vocabulary=None) -> str:
    """A vocabulary value as the client reads it: the vocabulary's own label where it has one
    (``Vocabulary.label(field, value)``), else the value in :func:`words`."""
    if vocabulary is not None and hasattr(vocabulary, "label"):
        try:
            return clean(vocabulary.label(field, value))
        except (KeyError, TypeError, ValueError):
            pass
    return words(value)


def field_value(name: str, value: Any) -> str:
    """A field value in words, with its unit where the name carries one (``3 times a week``)."""
    text = words(value)
    if value != UNKNOWN and not isinstance(value, bool) and isinstance(value, int):
        if name == "per_week" or name.endswith("_per_week"):
            return f"{text} time{'s' if value != 1 else ''} a week"
        if name.startswith("minutes"):
            return f"{text} minute{'s' if value != 1 else ''}"
    return text


def field_label(fact_type: str, name: str) -> str:
    """The name of a fact field in words (``scalp``/``symptoms`` -> ``scalp symptoms``)."""
    known = FIELD_LABELS.get((fact_type, name))
    if known:
        return known
    name_words = name.replace("_", " ")
    type_words = fact_type.replace("-", " ")
    return name_words if name_words.startswith(type_words) else f"{type_words} {name_words}"


def field_path(origin: str) -> str:
    """The profile path of a client answer: ``profile:routine[0]`` -> ``routine[0]``."""
    return origin[len("profile:"):] if origin.startswith("profile:") else origin


# -- facts and where they came from: the reader's wording (client and consultant's record) ------

def origin_words(origin: str) -> str:
    """Where a fact came from, in words: ``profile:routine[0]`` -> ``your answer: routine, product 1``."""
    if origin.startswith("profile:"):
        path = field_path(origin)
        if "[" in path and path.endswith("]"):
            section, _, index = path[:-1].partition("[")
            if index.isdigit():
                return f"your answer: {section}, product {int(index) + 1}"
        return f"your answer: {path}"
    if origin.startswith("rule:"):
        return f"concluded by rule {origin[len('rule:'):]}"
    return origin


def describe_fact(fact: Fact, only: set[str] | None = None) -> str:
    """A fact in words with its origin: ``scalp symptoms: flaking, itching (your answer: scalp)``.

    ``only`` limits the fields shown to those a rule tested (a routine entry always shows its
    product, so the reader knows which one is meant).
    """
    names = [n for n in fact.fields if n != "entry"]
    if only:
        picked = [n for n in names if n in only or (fact.type == "uses" and n == "product")]
        names = picked or names
    if fact.type == "uses" and "product" in names:
        rest = [n for n in names if n != "product"]
        text = words(fact.fields["product"])
        if rest:
            text += "; " + "; ".join(f"{field_label(fact.type, n)}: {field_value(n, fact.fields[n])}" for n in rest)
        text = "uses " + text
    elif names:
        text = "; ".join(f"{field_label(fact.type, n)}: {field_value(n, fact.fields[n])}" for n in names)
    else:
        text = fact.type.replace("-", " ")
    return f"{text} ({origin_words(fact.origin)})"


# -- plain-text tables -------------------------------------------------------------------------

def text_table(widths: list[int], rows: list[list[list[str]]], header: list[list[str]] | None = None,
               header_rule: str = "-", rule_between_rows: bool = False) -> list[str]:
    """A boxed plain-text table: ``widths`` per column, each row a list of cells, each cell a
    list of lines (already wrapped to its width). Returns the lines, without newlines."""
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def row(cells: list[list[str]]) -> list[str]:
        height = max(len(cell) for cell in cells) if cells else 0
        return ["| " + " | ".join((cell[i] if i < len(cell) else "").ljust(w)
                                  for cell, w in zip(cells, widths)) + " |"
                for i in range(height)]

    out = [rule]
    if header is not None:
        out += row(header)
        out.append(rule.replace("-", header_rule))
    for index, cells in enumerate(rows):
        out += row(cells)
        if rule_between_rows or index == len(rows) - 1:
            out.append(rule)
    if not rows and header is None:
        out.append(rule)
    return out


def text_calendar(week: list[dict], width: int = 87, wash_label: str = "Wash day",
                  known_washes: bool = True) -> str:
    """The week as a plain-text grid, one row per day: day, wash day or not, what to use."""
    day_w, wash_w = 9, len(wash_label) if known_washes else 0
    if not known_washes:
        item_w = width - (day_w + 7)
        widths, header = [day_w, item_w], [["Day"], ["Use"]]
    else:
        item_w = width - (day_w + wash_w + 10)
        widths, header = [day_w, wash_w, item_w], [["Day"], [wash_label], ["Use"]]
    rows = []
    for day in week:
        text = "; ".join(" ".join(str(i).split()) for i in day["items"]) or "-"
        parts = textwrap.wrap(text, width=item_w, break_long_words=True) or ["-"]
        cells = [[day["name"]], parts]
        if known_washes:
            cells.insert(1, ["yes" if day["wash"] else "-"])
        rows.append(cells)
    return "\n".join(text_table(widths, rows, header=header))


def text_ticks(week: dict, width: int = 87) -> str:
    """The handout's week as a plain-text tick chart: one row per item, ``X`` on its days,
    wash days marked under the day name."""
    day_w = 4
    item_w = width - 7 * (day_w + 3) - 4
    header = [[""]] + [[d["short"], "wash" if d["wash"] else ""] for d in week["days"]]
    rows = [[textwrap.wrap(row["item"], item_w, break_long_words=True) or [""]]
            + [[" X" if on else ""] for on in row["days"]] for row in week["rows"]]
    return "\n".join(text_table([item_w] + [day_w] * 7, rows, header=header, rule_between_rows=True))

"""Products side by side (``haircare compare hair_serum hair_mask``), generated from the rules.

The comparison holds no knowledge of its own: every cell comes from a rule, so it is sourced,
versioned with the knowledge base and auditable like any advice. Two rules describe a product:

* its *product-knowledge* rule, tagged ``product-knowledge`` and ``product:<name>`` (a note the
  report shows when the product is new to the client): ``advise`` says what the product is, and
  its ``steps`` carry the other facets, each starting with its label: ``What it does: ...``,
  ``Benefits: ...`` (items separated by ``;``), ``When to use it: ...``, ``Side effects: ...``;
* its *how-to* rule, of kind ``how-to`` and tagged ``product:<name>``: the steps are "how to use".

:func:`compare` builds a :class:`Comparison`; :func:`render` writes it as text, Markdown or JSON.
"""
from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

from haircare_expert.errors import NotFoundError, ReportError, RuleError
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.render.formats import md_escape
from haircare_expert.render.wording import text_table

#: The tag that marks a product-knowledge rule.
KNOWLEDGE_TAG = "product-knowledge"
#: The facets of the comparison, in table order: (key, row label).
FACETS = (
    ("what_it_is", "What it is"),
    ("what_it_does", "What it does"),
    ("benefits", "Benefits"),
    ("when_to_use", "When to use it"),
    ("side_effects", "Side effects"),
    ("how_to_use", "How to use it"),
)
#: The step labels of a product-knowledge rule and the facet each fills.
STEP_LABELS = {"What it does": "what_it_does", "Benefits": "benefits",
               "When to use it": "when_to_use", "Side effects": "side_effects"}
FORMATS = ("txt", "md", "json")
SCHEMA = "haircare-compare/1"


@dataclass
class ProductSheet:
    """What the knowledge base says about one product, facet by facet (each a list of lines)."""

    product: str
    facets: dict[str, list[str]]
    rules: list[str]
    sources: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.product.replace("_", " ").capitalize()

    def to_json(self) -> dict:
        return {"product": self.product, "name": self.name,
                "facets": {key: list(self.facets.get(key, [])) for key, _ in FACETS},
                "rules": list(self.rules), "sources": [dict(s) for s in self.sources]}


@dataclass
class Comparison:
    """Several products compared facet by facet."""

    products: list[ProductSheet]
    knowledge_base: dict

    def rows(self) -> list[tuple[str, list[list[str]]]]:
        """(row label, one list of lines per product) for each facet."""
        return [(label, [p.facets.get(key, []) for p in self.products]) for key, label in FACETS]

    def to_json(self) -> dict:
        return {"schema": SCHEMA, "knowledge_base": dict(self.knowledge_base),
                "products": [p.to_json() for p in self.products],
                "rows": [{"facet": label, "cells": [list(c) for c in cells]}
                         for label, cells in self.rows()]}


def _product_tag(product: str) -> str:
    return f"product:{product}"


def known_products(rulebook: Rulebook) -> list[str]:
    """The products the knowledge base can describe (those with a product-knowledge rule)."""
    return sorted({t.split(":", 1)[1] for r in rulebook.rules if KNOWLEDGE_TAG in r.tags
                   for t in r.tags if t.startswith("product:")})


def _normalise(product: str) -> str:
    return product.strip().lower().replace("-", "_").replace(" ", "_")


def product_sheet(rulebook: Rulebook, product: str) -> ProductSheet:
    """The facets of one product, read from its product-knowledge and how-to rules."""
    product = _normalise(product)
    tag = _product_tag(product)
    about = [r for r in rulebook.rules if KNOWLEDGE_TAG in r.tags and tag in r.tags]
    if not about:
        known = ", ".join(known_products(rulebook)) or "none"
        raise NotFoundError(product, f"no product knowledge for this product; known products: {known}")
    rule = about[0]
    facets: dict[str, list[str]] = {"what_it_is": [rule.advise]}
    for step in rule.steps:
        label, sep, text = step.partition(":")
        key = STEP_LABELS.get(label.strip())
        if not sep or key is None:
            raise RuleError(rule.location, f"rule {rule.id}: product-knowledge step {step[:40]!r} "
                                           f"must start with one of: {', '.join(STEP_LABELS)}")
        text = " ".join(text.split())
        items = [i.strip() for i in text.split(";")] if key == "benefits" else [text]
        facets[key] = [_sentence(i) for i in items if i.strip(" .")]
    rules = [rule.id]
    sources = list(rule.sources)
    how = [r for r in rulebook.rules if r.kind == "how-to" and tag in r.tags]
    if how:
        facets["how_to_use"] = list(how[0].steps) or [how[0].advise]
        rules.append(how[0].id)
        sources += [s for s in how[0].sources if s not in sources]
    return ProductSheet(product, facets, rules, sources)


def _sentence(text: str) -> str:
    """A cell line as a sentence: first letter capitalised, one final full stop."""
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."


def compare(rulebook: Rulebook, products: Sequence[str]) -> Comparison:
    """Compare the named products; raise NotFoundError naming the known ones for an unknown one."""
    sheets = [product_sheet(rulebook, p) for p in products]
    return Comparison(sheets, {"version": rulebook.version, "fingerprint": rulebook.fingerprint})


# -- rendering ---------------------------------------------------------------------------------
def render(comparison: Comparison, fmt: str = "txt", width: int = 100) -> str:
    """The comparison as ``txt`` (a boxed side-by-side table), ``md`` or ``json``."""
    if fmt == "json":
        return json.dumps(comparison.to_json(), indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return _markdown(comparison)
    if fmt == "txt":
        return _text(comparison, width)
    raise ReportError("compare", f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def _cell_lines(lines: list[str], label: str, width: int) -> list[str]:
    """One cell wrapped to ``width``: benefits as bullets, how-to steps numbered."""
    if not lines:
        return ["-"]
    out: list[str] = []
    for index, line in enumerate(lines, 1):
        if len(lines) == 1:
            out += textwrap.wrap(line, width, break_on_hyphens=False) or [""]
            continue
        mark = f"{index}. " if label == "How to use it" else "- "
        wrapped = textwrap.wrap(line, width - len(mark), break_on_hyphens=False) or [""]
        out.append(mark + wrapped[0])
        out += [" " * len(mark) + rest for rest in wrapped[1:]]
    return out


def _text(c: Comparison, width: int) -> str:
    label_w = max(len(label) for _, label in FACETS)
    n = len(c.products)
    col_w = max(20, (width - label_w - 3 * n - 4) // n)
    names = " vs ".join(p.name.upper() for p in c.products)
    out = [names, "=" * len(names), ""]
    out += text_table([label_w] + [col_w] * n,
                      [[textwrap.wrap(label, label_w)] + [_cell_lines(cell, label, col_w) for cell in cells]
                       for label, cells in c.rows()],
                      header=[[""]] + [[p.name] for p in c.products], header_rule="=",
                      rule_between_rows=True)
    out.append("")
    out.append("Generated from the knowledge base, rule by rule:")
    for p in c.products:
        out.append(f"  {p.name}: {', '.join(p.rules)}")
    out.append("Sources:")
    for ref in _all_sources(c):
        out.append("  " + ref)
    out.append(f"Knowledge base {c.knowledge_base['version']}, fingerprint {c.knowledge_base['fingerprint'][:19]}")
    return "\n".join(line.rstrip() for line in out) + "\n"


def _markdown(c: Comparison) -> str:
    def cell(lines: list[str], label: str) -> str:
        if not lines:
            return "-"
        if len(lines) == 1:
            return md_escape(lines[0])
        mark = (lambda i: f"{i}.") if label == "How to use it" else (lambda i: "•")
        return "<br>".join(f"{mark(i)} {md_escape(line)}" for i, line in enumerate(lines, 1))

    out = [f"# {' vs '.join(p.name for p in c.products)}", "",
           "| | " + " | ".join(p.name for p in c.products) + " |",
           "|---|" + "---|" * len(c.products)]
    for label, cells in c.rows():
        out.append(f"| **{label}** | " + " | ".join(cell(x, label) for x in cells) + " |")
    out += ["", "Generated from the knowledge base, rule by rule: "
            + "; ".join(f"{p.name}: {', '.join(f'`{r}`' for r in p.rules)}" for p in c.products) + ".",
            "", "Sources:", ""]
    out += [f"- {md_escape(ref)}" for ref in _all_sources(c)]
    out += ["", f"Knowledge base {c.knowledge_base['version']}, fingerprint "
                f"`{c.knowledge_base['fingerprint'][:19]}`"]
    return "\n".join(out) + "\n"


def _all_sources(c: Comparison) -> list[str]:
    seen: list[str] = []
    for p in c.products:
        for ref in p.sources:
            label = (f"{ref['source']}, \"{ref['section']}\"" if "source" in ref
                     else f"own: {ref.get('note', '')}")
            if label not in seen:
                seen.append(label)
    return seen

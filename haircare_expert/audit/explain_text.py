"""An explanation (:mod:`explain`) as plain text for the terminal: ``haircare explain``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from haircare_expert.audit.trace import origin_words, show_value
from haircare_expert.engine.evaluator import MISSING

if TYPE_CHECKING:
    from haircare_expert.audit.explain import Alternative, ConditionInfo, Derivation, Explanation


def render_text(explanation: Explanation) -> str:
    """The explanation as plain text for the terminal."""
    e = explanation
    lines = [f"Rule {e.rule}: {e.title}", f"  kind {e.kind}, defined at {e.location}",
             "", e.summary, ""]
    shown: set[int] = set()   # firings already spelled out: later mentions refer back
    for d in e.firings:
        _derivation_lines(d, lines, "", shown, top=True)
        lines.append("")
    for alt in e.alternatives:
        if len(e.alternatives) > 1:
            lines.append(f"Alternative {alt.number}:")
        _alternative_lines(alt, lines, "  " if len(e.alternatives) > 1 else "", shown)
        lines.append("")
    lines.append(f"Because: {e.because}")
    lines.append("Sources: " + "; ".join(_source(s) for s in e.sources))
    return "\n".join(lines) + "\n"


def _source(source: dict) -> str:
    if source.get("own"):
        return f"own rule ({source.get('note', '')})"
    return f"{source.get('source')}, \"{source.get('section')}\""


def _derivation_lines(d: Derivation, lines: list, pad: str, shown: set, top: bool = False) -> None:
    head = f"{pad}Firing #{d.seq}" if top else f"{pad}concluded by rule {d.rule} (firing #{d.seq}): {d.title}"
    if not top and d.seq in shown:
        lines.append(head + " (shown above)")
        return
    shown.add(d.seq)
    if d.alternatives > 1:
        head += f" (alternative {d.alternative} of {d.alternatives})"
    if d.bindings:
        head += " with " + ", ".join(f"?{k} = {show_value(v)}" for k, v in sorted(d.bindings.items()))
    lines.append(head)
    inner = pad + "  "
    if not d.conditions:
        lines.append(f"{inner}(no conditions: the rule applies to every consultation)")
    for c in d.conditions:
        if c.kind == "not":
            lines.append(f"{inner}{c.number}. {c.text}: holds (no such fact)")
            continue
        lines.append(f"{inner}{c.number}. {c.text}")
        for fact in c.facts:
            lines.append(f"{inner}   matched {fact.id} {fact.text} ({origin_words(fact.origin)})")
            for t in c.tests:
                lines.append(f"{inner}     - {t.test}: {show_value(t.actual)}")
            if fact.derivation is not None:
                _derivation_lines(fact.derivation, lines, inner + "     ", shown)
    if top:
        for fact in d.declared:
            lines.append(f"{inner}declared {fact.id} {fact.text}")


def _alternative_lines(alt: Alternative, lines: list, pad: str, shown: set) -> None:
    for c in alt.conditions[:-1]:
        what = ", ".join(f"{f.id} {f.text}" for f in c.facts) if c.facts else "no such fact"
        lines.append(f"{pad}{c.number}. {c.text}: holds ({what})")
    _failed_lines(alt.failed, lines, pad, shown)


def _failed_lines(c: ConditionInfo, lines: list, pad: str, shown: set) -> None:
    lines.append(f"{pad}{c.number}. {c.text}: NOT MET (the first condition that failed)")
    inner = pad + "   "
    if c.kind == "not":
        lines.append(f"{inner}blocked by " + ", ".join(
            f"rule {b}" if not b.startswith("profile:") else f"the client's answer {b}"
            for b in c.blocked_by))
        for fact in c.facts:
            lines.append(f"{inner}  {fact.id} {fact.text} ({origin_words(fact.origin)})")
            if fact.derivation is not None:
                _derivation_lines(fact.derivation, lines, inner + "    ", shown)
        return
    if c.missing:
        lines.append(f"{inner}{c.missing}")
    for cand in c.candidates:
        lines.append(f"{inner}{cand.fact.id} {cand.fact.text} ({origin_words(cand.fact.origin)}): "
                     f"{cand.failed.field} is {_actual(cand.failed.actual)}, "
                     f"needs {cand.failed.wanted}")
    if c.answer:
        lines.append(f"{inner}would hold with: {c.answer}")
    if c.producers:
        lines.append(f"{inner}rules that could conclude it:")
        for p in c.producers:
            lines.append(f"{inner}  - {p.rule} ({p.title}): {p.note}")
            for alt in p.alternatives:
                if len(p.alternatives) > 1:
                    lines.append(f"{inner}      alternative {alt.number}:")
                _alternative_lines(alt, lines, inner + "      ", shown)


def _actual(value: Any) -> str:
    return "not answered" if value is MISSING else show_value(value)

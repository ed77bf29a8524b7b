"""The firing sequence of a consultation, for audit: ``haircare trace PROFILE``.

Each step names the rule, the facts it matched (with a short description and where each came
from) and the facts it declared. :func:`trace_steps` builds the structured view, :func:`to_json`
and :func:`render_text` write it out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from haircare_expert.audit.wording import clean, show_value
from haircare_expert.audit.wording import describe_fact_for_auditor as describe_fact
from haircare_expert.audit.wording import origin_words_for_auditor as origin_words
from haircare_expert.model import Consultation, Fact, JsonFields

SCHEMA = "haircare-trace/1"


@dataclass
class FactNote(JsonFields):
    """A fact as the trace shows it."""

    id: str
    text: str
    origin: str


@dataclass
class TraceStep(JsonFields):
    """One firing: sequence number, rule, matched and declared facts, bindings."""

    seq: int
    rule: str
    title: str
    kind: str
    matched: list[FactNote]
    declared: list[FactNote]
    bindings: dict = field(default_factory=dict, metadata={"sort": True})


def note(fact: Fact) -> FactNote:
    return FactNote(fact.id, describe_fact(fact), fact.origin)


def trace_steps(consultation: Consultation, rulebook=None) -> list[TraceStep]:
    """The firing sequence of ``consultation`` with every fact id resolved to a description."""
    by_id = {f.id: f for f in consultation.facts}
    steps = []
    for firing in consultation.trace:
        rule = rulebook.by_id.get(firing.rule) if rulebook is not None else None
        steps.append(TraceStep(
            seq=firing.seq, rule=firing.rule, title=rule.title if rule else "",
            kind=rule.kind if rule else "",
            matched=[note(by_id[i]) for i in firing.facts],
            declared=[note(by_id[i]) for i in firing.declared],
            bindings=dict(firing.bindings)))
    return steps


def to_json(consultation: Consultation, rulebook=None) -> dict:
    """The trace as JSON data (``haircare trace --format json``), with the input facts."""
    return {
        "schema": SCHEMA,
        "client": dict(consultation.client),
        "knowledge_base": {k: consultation.knowledge_base.get(k)
                           for k in ("version", "fingerprint", "rules")},
        "input": [note(f).to_json() for f in consultation.facts if f.origin.startswith("profile:")],
        "trace": [s.to_json() for s in trace_steps(consultation, rulebook)],
    }


def render_text(consultation: Consultation, rulebook=None) -> str:
    """The trace as plain text, one block per firing."""
    kb = consultation.knowledge_base
    lines = [f"Firing sequence for {clean(consultation.client.get('name') or '') or 'the client'} "
             f"(knowledge base {kb.get('version', '?')}, {kb.get('rules', '?')} rules, "
             f"{kb.get('fingerprint', '?')})", "", "Input facts:"]
    for fact in consultation.facts:
        if fact.origin.startswith("profile:"):
            lines.append(f"  {fact.id:<5} {describe_fact(fact)}  ({fact.origin})")
    lines.append("")
    steps = trace_steps(consultation, rulebook)
    if not steps:
        lines.append("No rule fired.")
    for step in steps:
        head = f"#{step.seq} {step.rule}"
        if step.title:
            head += f" ({step.kind}): {step.title}"
        lines.append(head)
        if not step.matched:
            lines.append("    matched: (no facts needed)")
        for fact in step.matched:
            lines.append(f"    matched  {fact.id:<5} {fact.text}  ({origin_words(fact.origin)})")
        if step.bindings:
            lines.append("    with     " + ", ".join(f"?{k} = {show_value(v)}"
                                                   for k, v in sorted(step.bindings.items())))
        for fact in step.declared:
            lines.append(f"    declared {fact.id:<5} {fact.text}")
    return "\n".join(lines) + "\n"

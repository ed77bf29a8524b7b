"""The view of a consultation that every report template reads (one place, every format)."""
from __future__ import annotations

from .model import ADVICE_KINDS, WEEKDAYS, Consultation

KIND_HEADINGS = {
    "referral": "See a doctor first",
    "warning": "Change these habits",
    "recommendation": "What to use",
    "how-to": "How to use it",
    "schedule": "When to use it",
    "note": "Good to know",
}
DAY_NAMES = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                "Saturday", "Sunday")))
DISCLAIMER = (
    "This report gives cosmetic hair and scalp care advice. It is not a medical diagnosis or "
    "treatment. See a dermatologist if you have sudden or patchy hair loss, pain, swelling or "
    "a rash on the scalp, a reaction to a product, far more shedding than usual, or flaking "
    "or itching that has not improved after 4 to 6 weeks of care."
)
FINDING_TYPES = ("red-flag", "scalp-state", "hair-state", "need")


def _words(value) -> str:
    return str(value).replace("_", " ")


def report_view(c: Consultation) -> dict:
    """Everything the templates show, ready to print (no logic left for the templates)."""
    from .rulebook import Rulebook  # noqa: F401  (type only)
    findings: dict[str, list[str]] = {}
    for fact in c.facts:
        if fact.type in FINDING_TYPES:
            value = next(iter(fact.fields.values()), "")
            findings.setdefault(fact.type, []).append(_words(value))
    summary = []
    if findings.get("red-flag"):
        summary.append("Signs that need a doctor: " + ", ".join(findings["red-flag"]) + ".")
    if findings.get("scalp-state"):
        summary.append("Scalp: " + ", ".join(findings["scalp-state"]) + ".")
    if findings.get("hair-state"):
        summary.append("Hair: " + ", ".join(findings["hair-state"]) + ".")
    if findings.get("need"):
        summary.append("Your routine needs: " + ", ".join(findings["need"]) + ".")
    if not summary:
        summary.append("Nothing in your answers calls for a change of routine.")
    groups = []
    for kind in ADVICE_KINDS:
        items = [a for a in c.advice if a.kind == kind]
        if items:
            groups.append({"kind": kind, "heading": KIND_HEADINGS[kind], "entries": items})
    fact_index = {f.id: f for f in c.facts}
    return {
        "c": c,
        "client": c.client,
        "kb": c.knowledge_base,
        "summary": summary,
        "groups": groups,
        "advice": c.advice,
        "week": [{"key": d, "name": DAY_NAMES[d], "items": c.schedule.get(d, [])} for d in WEEKDAYS],
        "has_schedule": any(c.schedule.get(d) for d in WEEKDAYS),
        "wash_day_order": c.wash_day_order,
        "conflicts": c.conflicts,
        "facts": fact_index,
        "disclaimer": DISCLAIMER,
        "source_label": source_label,
    }


def source_label(ref: dict) -> str:
    """A source reference in words: 'serum-vs-mask, "How to apply hair serum?"'."""
    if ref.get("own"):
        return "Our own safety guidance: " + ref.get("note", "")
    return f'{ref["source"]}, "{ref["section"]}"'

"""The client's handout: what a consultant hands over, on one or two A4 pages.

:func:`handout_view` turns a consultation into the data the ``handout.*.j2`` templates lay out,
in the order the client reads it: referrals in plain words, what changed since the last visit,
her plan (one line per step, its how-to where she needs it, the week it starts), the week as a
tick chart, the wash-day order, a short why per step with numbered source notes, a line for the
consultant's name and the next visit, and the disclaimer. It holds no rule ids, fingerprints,
raw vocabulary values or anything about the knowledge base: those are in the consultant's
record (:func:`haircare_expert.render.view.report_view`).

``defer`` moves detail to "your next visit" when the page budget is short (the PDF printer
raises it until the handout fits two pages): first the how-to of the steps that start last,
then whole steps that do not start in week 1. Text is never shrunk to fit.
"""
from __future__ import annotations

import re
from typing import Any

from haircare_expert.audit.wording import clean, join_words
from haircare_expert.model import Consultation
from haircare_expert.render.view import NOT_GIVEN, client_publisher, report_view

#: What each plan action asks of the client, as the plan's first word.
ACTION_LABELS = {"keep": "Keep", "change": "Change", "add": "New", "pause": "Pause", "stop": "Stop",
                 "use": "Use"}
#: An "add" step for something that is not a new product (a patch test, a practice).
ADD_NOT_NEW = "Add"
#: Steps whose how-to is not printed (she is not to use the product for now).
NO_HOWTO = ("pause", "stop")
OWN_NOTE = "Our own practice as consultants (not from a published article)"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\u201c\"(])")


def short(text: str, limit: int = 220) -> str:
    """The first sentence of ``text`` (the short "why" of a step), never cut mid-word."""
    text = clean(text)
    first = _SENTENCE.split(text, maxsplit=1)[0]
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "\u2026"


class _Notes:
    """Numbered source notes: one per source, numbered in the order the handout cites them."""

    def __init__(self, rulebook):
        self.catalogue = getattr(rulebook, "sources", None) or {}
        self.numbers: dict[str, int] = {}
        self.items: list[dict] = []

    def cite(self, refs: list[dict]) -> list[int]:
        out: list[int] = []
        for ref in refs:
            key = "own" if ref.get("own") else str(ref.get("source", ""))
            if key not in self.numbers:
                self.numbers[key] = len(self.items) + 1
                self.items.append({"n": self.numbers[key], "text": self._text(key)})
            if self.numbers[key] not in out:
                out.append(self.numbers[key])
        return sorted(out)

    def _text(self, key: str) -> str:
        if key == "own":
            return OWN_NOTE
        entry = self.catalogue.get(key)
        title = getattr(entry, "title", "") or key
        publisher = client_publisher(getattr(entry, "publisher", "") or "")
        return f"\u201c{clean(title)}\u201d" + (f", {clean(publisher)}" if publisher else "")


def _when(start_week: int) -> str:
    return "Now" if start_week <= 1 else f"From week {start_week}"


def _step(n: int, item: str, action: str, start_week: int, why: str, entry: dict | None,
          new: bool = False) -> dict:
    how: list[str] = []
    refs: list[dict] = []
    if entry is not None:
        refs += entry["advice"].sources
        if action not in NO_HOWTO:
            how += [clean(s) for s in entry["steps"]]
            for h in entry["howtos"]:
                how += [clean(s) for s in h["steps"]]
                refs += h["advice"].sources
    return {"n": n, "item": clean(item), "action": action,
            "action_label": (ADD_NOT_NEW if action == "add" and not new
                             else ACTION_LABELS.get(action, clean(action).capitalize())),
            "new": new, "start_week": start_week, "when": _when(start_week),
            "how": how, "how_later": "", "why": why,
            "refs": refs, "own_refs": len(entry["advice"].sources) if entry is not None else 0}


def _plan_steps(c: Consultation, view: dict) -> tuple[list[dict], list[dict]]:
    """The plan as printed steps, and the warnings no step covers (printed as "good to know")."""
    by_rule = {e["rule"]: e for e in view["printed"]}
    steps: list[dict] = []
    if c.plan:
        for p in sorted(c.plan, key=lambda p: p.step):
            entry = by_rule.get(p.rule)
            # The plan's own why is written for the client (with the reason for its week); the
            # rule's "because" is cut to its first sentence.
            why = clean(p.why) if p.why else (short(entry["because"]) if entry else "")
            steps.append(_step(len(steps) + 1, p.item, p.action, max(1, int(p.start_week or 1)),
                               why, entry, new=bool(p.new)))
        covered = {p.rule for p in c.plan}
        extra = [e for e in view["alerts"] if e["kind"] == "warning" and e["rule"] not in covered]
        return steps, [{"title": clean(e["title"]), "text": short(e["text"], 300)} for e in extra]
    # No plan (a record made before the plan stage, or a rule folder without one): the habits to
    # change first, then what to use, each from week 1.
    for e in view["alerts"]:
        if e["kind"] == "warning":
            steps.append(_step(len(steps) + 1, e["title"], "change", 1, short(e["because"]), e))
    for e in view["recommendations"]:
        steps.append(_step(len(steps) + 1, e["title"], "use", 1, short(e["because"]), e))
    return steps, []


def _deferrable(steps: list[dict]) -> list[tuple[str, dict]]:
    """What may wait for the next visit, least needed first: how-tos of the steps that start
    last (among those, the products she already uses before the new ones), then whole steps
    that do not start now, then (a plan that truly cannot fit) the last steps of the plan.
    Referrals, the week and the disclaimer never wait."""
    late_first = sorted(steps, key=lambda s: (-s["start_week"], s["action"] != "keep", -s["n"]))
    order = [("how", s) for s in late_first if s["how"]]
    late_first = sorted(steps, key=lambda s: (-s["start_week"], -s["n"]))
    order += [("step", s) for s in late_first if s["start_week"] > 1]
    order += [("step", s) for s in late_first if s["start_week"] <= 1][:-1]
    return order


def _week(view: dict) -> dict:
    """The week as a tick chart: one row per item, a mark on each day it is used."""
    rows: list[dict] = []
    index: dict[str, dict] = {}
    for d, day in enumerate(view["week"]):
        for item in day["items"]:
            text = clean(item)
            row = index.get(text)
            if row is None:
                row = index[text] = {"item": text, "days": [False] * 7}
                rows.append(row)
            row["days"][d] = True
    known = view["wash_known"]
    days = [{"name": day["name"], "short": day["short"], "wash": known and day["wash"]}
            for day in view["week"]]
    wash = [day["name"] for day in days if day["wash"]]
    if not known:
        # The calendar's own note (what it left out, and why) says it when it has one.
        note = "" if view["week_notes"] else "You did not tell us how often you wash, so no wash days are marked."
    elif wash:
        note = "Wash days: " + join_words(wash) + "."
    else:
        note = "No wash days this week."
    return {"days": days, "rows": rows, "note": note, "known": known,
            "notes": [clean(n) for n in view["week_notes"]]}


def _followup(c: Consultation) -> dict | None:
    f = c.followup
    if f is None:
        return None
    parts = [("Gone since then", "gone"), ("New since then", "new"), ("You started", "started"),
             ("You stopped", "stopped"), ("Changes to your plan", "plan_changes")]
    sections = []
    for heading, name in parts:
        lines = [clean(x) for x in (getattr(f, name, None) or []) if clean(x)]
        if lines:
            sections.append({"heading": heading, "lines": lines})
    return {"previous_date": clean(getattr(f, "previous_date", "") or ""), "sections": sections}


# What a step says when its how-to waits for the next visit: she already knows how to use a
# product she keeps (and the changes to how she uses it are steps of their own, so "go on as you
# do now" would contradict them).
_LATER = {False: "How to go about it: we will show you at your next visit.",
          True: "You know this product already; we will go over how you use it at your next visit."}


def handout_view(c: Consultation, rulebook=None, defer: int = 0) -> dict[str, Any]:
    """Everything the handout templates show; ``defer`` items wait for the next visit."""
    view = report_view(c, rulebook)
    notes = _Notes(rulebook if rulebook is not None else c.rulebook)
    referrals = [{"title": clean(e["title"]), "text": clean(e["text"]),
                  "steps": [clean(s) for s in e["steps"]], "notes": notes.cite(e["advice"].sources)}
                 for e in view["alerts"] if e["kind"] == "referral"]
    steps, good_to_know = _plan_steps(c, view)
    deferrable = _deferrable(steps)
    later: list[str] = []
    for what, step in deferrable[:max(0, defer)]:
        if what == "how":
            step["how"], step["how_later"] = [], _LATER[step["action"] == "keep"]
        else:
            step["later"] = True
    kept = [s for s in steps if not s.get("later")]
    whys: dict[str, int] = {}
    for number, s in enumerate(kept, 1):
        s["n"] = number
        # The same reason twice (a patch test before each new product) is printed once.
        if s["why"] in whys:
            s["why"] = f"As for step {whys[s['why']]}."
        elif s["why"]:
            whys[s["why"]] = number
        # A how-to left for the next visit takes its sources with it.
        s["notes"] = notes.cite(s["refs"][:s["own_refs"]] if s["how_later"] else s["refs"])
    for s in steps:
        if s.get("later"):
            later.append(s["item"] + (f" (from week {s['start_week']})" if s["start_week"] > 1 else ""))
    client = {k: ("" if v == NOT_GIVEN else v) for k, v in view["client"].items()}
    consultant = client["consultant"]
    next_visit = clean(c.client.get("next_visit") or "") if isinstance(c.client, dict) else ""
    return {
        "client": {"name": client["name"], "date": client["date"]},
        "consultant": consultant,
        "next_visit": next_visit,
        "referrals": referrals,
        "followup": _followup(c),
        "steps": kept,
        "good_to_know": good_to_know,
        "later": later,
        "can_defer": len(deferrable) - max(0, defer),
        "week": _week(view),
        "wash_day_order": [clean(x) for x in view["wash_day_order"]],
        "notes": notes.items,
        "disclaimer": view["disclaimer"],
    }

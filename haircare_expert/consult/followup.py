"""A follow-up visit: what changed since the client's last consultation.

:func:`follow_up` compares the last visit's audit record (the JSON a finished consultation
stores) with the new consultation, sets ``consultation.followup`` to a :class:`Followup` (the
handout's "since your last visit" section) and lets the plan continue from where it was: a
product the last plan introduced is no longer "new".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from haircare_expert.model import UNKNOWN, Consultation


@dataclass
class Followup:
    """What changed since the last visit, each item a line in the client's words."""

    previous_date: str
    gone: list[str] = field(default_factory=list)      #: symptoms and concerns gone
    new: list[str] = field(default_factory=list)       #: symptoms and concerns new
    started: list[str] = field(default_factory=list)   #: products started
    stopped: list[str] = field(default_factory=list)   #: products stopped
    plan_changes: list[str] = field(default_factory=list)
    previous_id: int | None = None

    @property
    def empty(self) -> bool:
        return not (self.gone or self.new or self.started or self.stopped or self.plan_changes)

    def to_json(self) -> dict:
        return {"previous_date": self.previous_date, "previous_id": self.previous_id,
                "gone": list(self.gone), "new": list(self.new), "started": list(self.started),
                "stopped": list(self.stopped), "plan_changes": list(self.plan_changes)}


#: (fact type, field) of what the client notices: scalp symptoms and hair concerns.
_NOTICED = (("scalp", "symptoms"), ("hair", "concerns"))


def _values(facts: list[dict], ftype: str, fname: str) -> list[str]:
    out: list[str] = []
    for fact in facts:
        if fact.get("type") == ftype and str(fact.get("origin", "")).startswith("profile:"):
            value = (fact.get("fields") or {}).get(fname)
            items = value if isinstance(value, (list, tuple)) else [value]
            out.extend(v for v in items if isinstance(v, str) and v != UNKNOWN and v not in out)
    return out


def _words(book, ask: str, value: str) -> str:
    """A vocabulary value as the interview shows it ("flaking" -> "flakes")."""
    question = getattr(book, "by_ask", {}).get(ask) if book is not None else None
    for choice, label in getattr(question, "choices", ()):
        if choice == value and label:
            return label
    return value.replace("_", " ")


def _plan_items(plan: list[Any]) -> dict[str, tuple[str, str]]:
    """Plan steps by what they are about: key -> (item in words, action)."""
    out = {}
    for step in plan:
        data = step.to_json() if hasattr(step, "to_json") else step
        if not isinstance(data, dict):
            continue
        key = data.get("product") or data.get("item") or ""
        if key:
            out.setdefault(str(key), (str(data.get("item") or key), str(data.get("action") or "")))
    return out


def follow_up(consultation: Consultation, previous: dict, book=None,
              previous_id: int | None = None) -> Followup:
    """Set ``consultation.followup`` from the last visit's audit record ``previous``; return it.

    ``book`` (a QuestionBook) words the values as the interview shows them.
    """
    old_facts = [f for f in previous.get("facts") or [] if isinstance(f, dict)]
    new_facts = [f.to_json() for f in consultation.facts]
    result = Followup(previous_date=str((previous.get("client") or {}).get("date") or ""),
                      previous_id=previous_id)
    for ftype, fname in _NOTICED:
        before, now = _values(old_facts, ftype, fname), _values(new_facts, ftype, fname)
        ask = f"{ftype}.{fname}"
        result.gone += [_words(book, ask, v) for v in before if v not in now]
        result.new += [_words(book, ask, v) for v in now if v not in before]
    before, now = _values(old_facts, "uses", "product"), _values(new_facts, "uses", "product")
    result.started = [v.replace("_", " ") for v in now if v not in before]
    result.stopped = [v.replace("_", " ") for v in before if v not in now]

    old_plan = _plan_items(previous.get("plan") or [])
    # the plan continues: a product the last plan brought in is not new any more
    for step in consultation.plan:
        if step.new and step.product and old_plan.get(step.product, ("", ""))[1] == "add":
            step.new = False
            step.start_week = 1
    new_plan = _plan_items(consultation.plan)
    for key, (item, action) in new_plan.items():
        if key not in old_plan:
            result.plan_changes.append(f"new in the plan: {item}")
        elif old_plan[key][1] != action and not (old_plan[key][1] == "add" and action == "keep"):
            result.plan_changes.append(f"{item}: now {action} (last time: {old_plan[key][1]})")
    for key, (item, _) in old_plan.items():
        if key not in new_plan:
            result.plan_changes.append(f"no longer in the plan: {item}")
    old_advice = {a.get("title") for a in previous.get("advice") or []
                  if isinstance(a, dict) and a.get("kind") != "note"}
    new_advice = {a.title for a in consultation.advice if a.kind != "note"}
    result.plan_changes += [f"new advice: {t}" for t in sorted(new_advice - old_advice) if t]
    result.plan_changes += [f"no longer advised: {t}" for t in sorted(old_advice - new_advice) if t]
    consultation.followup = result
    return result


# -- starting and ending a follow-up visit (the terminal and the web app both use these) ----------
#: The answers a follow-up does not carry over from the last visit: each visit has its own.
FRESH_KEYS = ("client.date", "client.consultant")


def last_visit(store, client: str):
    """The client's last finished consultation in ``store`` (a records store), to follow up.

    :class:`~haircare_expert.errors.ProfileError` if the client has none.
    """
    from haircare_expert.errors import ProfileError
    previous = store.last_visit(client)
    if previous is None:
        raise ProfileError(client, "no finished consultation of this client in the records to follow "
                                   "up (see 'haircare records list'); start a new consultation")
    return previous


def seeded_session(previous, vocabulary):
    """A new interview session starting from the answers of the visit ``previous`` (a stored
    record): unfinished, without that visit's date and consultant."""
    from haircare_expert.consult import interview as iv
    session = iv.Session.from_data(previous.session, f"record {previous.id}", vocabulary)
    session.finished = False
    for key in FRESH_KEYS:
        if key in session.answers:
            session.answers.pop(key)
            session.history.remove(key)
    return session


def followed(store, record):
    """The stored visit ``record`` follows up, or None (not a follow-up, or that visit is gone)."""
    from haircare_expert.errors import NotFoundError
    if record.follows is None:
        return None
    try:
        return store.get(record.follows)
    except NotFoundError:
        return None


def since_last_visit(consultation: Consultation, previous, book=None) -> Followup | None:
    """:func:`follow_up` against the stored visit ``previous`` (None or unfinished: nothing)."""
    if previous is None or not previous.record:
        return None
    return follow_up(consultation, previous.record, book, previous_id=previous.id)

"""A stored audit record back as a :class:`~haircare_expert.model.Consultation`, for reports.

The record is what was advised at the time; rebuilding it (rather than advising again with
today's rules) is what lets ``haircare records show`` print the handout the client was given.
"""
from __future__ import annotations

from haircare_expert.errors import ProfileError
from haircare_expert.model import Advice, Conflict, Consultation, Fact, Firing, PlanStep


def consultation_of(record: dict, rulebook=None, where: str = "record") -> Consultation:
    """The consultation an audit record describes (``rulebook`` supplies source titles)."""
    from haircare_expert.audit.replay import check_record
    check_record(record, where)
    try:
        return Consultation(
            client={k: str(v) for k, v in record["client"].items()},
            knowledge_base=dict(record["knowledge_base"]),
            advice=[Advice(rule=a["rule"], kind=a.get("kind", "note"), title=a.get("title", ""),
                           text=a["text"], steps=list(a.get("steps") or []),
                           because=a.get("because", ""), sources=list(a.get("sources") or []),
                           matched_facts=list(a.get("matched_facts") or []),
                           fired=int(a.get("fired") or 0)) for a in record["advice"]],
            schedule={day: list(items) for day, items in (record.get("schedule") or {}).items()},
            wash_day_order=list(record.get("wash_day_order") or []),
            conflicts=[Conflict(topic=c["topic"], sources=list(c.get("sources") or []),
                                resolution=c.get("resolution", "")) for c in record.get("conflicts") or []],
            facts=[Fact(f["type"], {k: _frozen(v) for k, v in f["fields"].items()}, f["origin"], f["id"])
                   for f in record["facts"]],
            trace=[Firing(seq=int(t.get("seq") or 0), rule=t["rule"], facts=tuple(t["facts"]),
                          bindings={k: _frozen(v) for k, v in (t.get("bindings") or {}).items()},
                          declared=tuple(t["declared"]))
                   for t in record["trace"]],
            plan=[PlanStep(**{k: p[k] for k in ("step", "item", "product", "action", "new",
                                                "start_week", "rule", "why")})
                  for p in record.get("plan") or []],
            rulebook=rulebook,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProfileError(where, f"not a usable audit record: {type(exc).__name__}: {exc}") from None


def _frozen(value):
    """Fact values are hashable: JSON lists come back as tuples."""
    return tuple(value) if isinstance(value, list) else value

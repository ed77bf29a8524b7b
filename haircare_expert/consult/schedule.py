"""The weekly plan: rule schedule entries spread over the client's week, around wash days.

Wash days are spread over the week first. Each entry then gets its days, in ``order``:
``daily`` entries every day; ``wash`` entries on wash days only (a product that goes on a
freshly washed scalp or into the wash routine); ``between`` entries on the other days; ``any``
entries on wash days first, then the days between. Within that pool the plan picks the days
that are spaced furthest apart around the week (so "twice a week" is never Monday and Tuesday),
and among equally spaced choices the days that carry the fewest other items (so a weekly scrub
and a twice-weekly mask do not all land on the same wash day). Everything is deterministic.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from haircare_expert.knowledge.rulebook import ScheduleEntry
from haircare_expert.model import WEEKDAYS

#: Wash days assumed when the client did not say how often they wash.
DEFAULT_WASHES = 3


def wash_days(washes_per_week) -> list[int]:
    """Indices (0 = Monday) of the wash days, spread as evenly as the week allows."""
    count = washes_per_week if isinstance(washes_per_week, int) and not isinstance(washes_per_week, bool) else DEFAULT_WASHES
    return spread(range(7), min(count, 7))


def spread(days: Iterable[int], count: int) -> list[int]:
    """Pick ``count`` of ``days`` as evenly spaced as possible (first day always included)."""
    days = list(days)
    if count <= 0 or not days:
        return []
    if count >= len(days):
        return days
    return sorted({days[(i * len(days)) // count] for i in range(count)})


def _min_gap(chosen: Sequence[int]) -> int:
    """The smallest distance in days between two chosen days, counting round the week."""
    if len(chosen) < 2:
        return 7
    ordered = sorted(chosen)
    gaps = [b - a for a, b in zip(ordered, ordered[1:])]
    gaps.append(ordered[0] + 7 - ordered[-1])
    return min(gaps)


def pick(pool: Sequence[int], count: int, load: Sequence[int]) -> list[int]:
    """``count`` days of ``pool``: furthest apart round the week, then least loaded, then earliest."""
    pool = sorted(pool)
    if count <= 0 or not pool:
        return []
    if count >= len(pool):
        return list(pool)
    return list(min(combinations(pool, count),
                    key=lambda days: (-_min_gap(days), sum(load[d] for d in days), days)))


def plan(entries: Iterable[ScheduleEntry], washes_per_week) -> dict[str, list[str]]:
    """Place each entry on days of the week; return ``{"mon": [...], ...}`` in entry order.

    An entry named twice (two rules asking for the same item) is placed once, by its first
    request in ``(order, item)`` order. An entry with ``replaces`` stands in for the item it
    names, which is then left out (e.g. a product started later than the rest of the plan). With no wash days in the week (``washes_per_week`` is
    0) a ``wash`` entry has no day to go on and is left out; the advice text explains it.
    """
    wash = wash_days(washes_per_week)
    rest = [d for d in range(7) if d not in wash]
    week: dict[str, list[str]] = {day: [] for day in WEEKDAYS}
    load = [0] * 7
    entries = list(entries)
    seen = {entry.replaces for entry in entries if entry.replaces}
    for entry in sorted(entries, key=lambda e: (e.order, e.item)):
        if entry.item in seen:
            continue
        seen.add(entry.item)
        low, high = entry.per_week
        if entry.days == "daily":
            chosen = list(range(7))
        elif entry.days == "wash":
            chosen = pick(wash, max(low, min(high, len(wash))), load)
        elif entry.days == "between":
            pool = rest or list(range(7))
            chosen = pick(pool, max(low, min(high, len(pool))), load)
        else:  # any: wash days first, then the days between
            want = max(low, min(high, len(wash)))
            chosen = pick(wash, want, load)
            if len(chosen) < want:
                chosen = sorted(chosen + pick(rest, want - len(chosen), load))
        for day in chosen:
            week[WEEKDAYS[day]].append(entry.item)
            if entry.days != "daily":
                load[day] += 1
    return week

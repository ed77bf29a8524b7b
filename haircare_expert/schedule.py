"""The weekly plan: rule schedule entries spread over the client's week, around wash days."""
from __future__ import annotations

from typing import Iterable

from .model import WEEKDAYS
from .rulebook import ScheduleEntry

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


def plan(entries: Iterable[ScheduleEntry], washes_per_week) -> dict[str, list[str]]:
    """Place each entry on days of the week; return ``{"mon": [...], ...}`` in entry order."""
    wash = wash_days(washes_per_week)
    rest = [d for d in range(7) if d not in wash]
    week: dict[str, list[str]] = {day: [] for day in WEEKDAYS}
    seen = set()
    for entry in sorted(entries, key=lambda e: (e.order, e.item)):
        if entry.item in seen:
            continue
        seen.add(entry.item)
        low, high = entry.per_week
        if entry.days == "daily":
            chosen = list(range(7))
        elif entry.days == "wash":
            pool = wash or list(range(7))
            chosen = spread(pool, max(low, min(high, len(pool))))
        elif entry.days == "between":
            pool = rest or list(range(7))
            chosen = spread(pool, max(low, min(high, len(pool))))
        else:  # any: wash days first, then the days between
            want = max(low, min(high, len(wash)))
            chosen = spread(wash, want)
            if len(chosen) < want:
                chosen = sorted(chosen + spread(rest, want - len(chosen)))
        for day in chosen:
            week[WEEKDAYS[day]].append(entry.item)
    return week

"""The weekly calendar: rule schedule entries spread over the client's week, around wash days.

Wash days are spread over the week first. Each entry then gets its days, in ``order``:
``daily`` entries every day; ``wash`` entries on wash days only (a product that goes on a
freshly washed scalp or into the wash routine); ``between`` entries on the other days; ``any``
entries on wash days first, then the days between; ``heat`` entries on the client's heat days
only (as many as she styles with heat, wash days first: a blow-dry usually follows a wash).

The calendar never guesses: when the client did not say how often she washes, entries that
depend on wash days are left out of the week (``unplaced`` names them, ``calendar_notes`` says
so in words) and only what does not depend on washing is shown; the same for heat days. Within that pool the plan picks the days
that are spaced furthest apart around the week (so "twice a week" is never Monday and Tuesday),
and among equally spaced choices the days that carry the fewest other items (so a weekly scrub
and a twice-weekly mask do not all land on the same wash day). Everything is deterministic.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from haircare_expert.knowledge.rulebook import ScheduleEntry
from haircare_expert.model import WEEKDAYS

#: Kept for callers that printed an assumed count; the calendar no longer assumes one (an
#: unknown wash count leaves wash-day items out of the week and says so).
DEFAULT_WASHES = 3
#: Entry kinds whose days depend on the wash count.
WASH_DEPENDENT = ("wash", "between", "any")


def known_count(value) -> bool:
    """Whether a per-week answer is a number (not ``unknown`` or missing)."""
    return isinstance(value, int) and not isinstance(value, bool)


def wash_days(washes_per_week) -> list[int]:
    """Indices (0 = Monday) of the wash days, spread as evenly as the week allows; none when
    the wash count is not known."""
    if not known_count(washes_per_week):
        return []
    return spread(range(7), min(washes_per_week, 7))


def heat_days(heat_per_week, washes_per_week=None) -> list[int]:
    """Indices of the days the client styles with heat: wash days first, spread round the week."""
    if not known_count(heat_per_week) or heat_per_week <= 0:
        return []
    count = min(heat_per_week, 7)
    wash = wash_days(washes_per_week)
    if count <= len(wash):
        return pick(wash, count, [0] * 7)
    rest = [d for d in range(7) if d not in wash]

    def spaced(days: tuple) -> tuple:
        gap, tight = _SPACING[tuple(sorted((*wash, *days)))]
        return (-gap, tight, days)

    extra = min(combinations(rest, count - len(wash)), key=spaced)
    return sorted(wash + list(extra))


def unplaced(entries: Iterable[ScheduleEntry], washes_per_week, heat_per_week=None) -> list[ScheduleEntry]:
    """The entries the calendar cannot put on days: their days depend on an unknown count."""
    out = []
    for entry in entries:
        if entry.days in ("wash", "between") and not known_count(washes_per_week):
            out.append(entry)
        elif entry.days == "heat" and not known_count(heat_per_week):
            out.append(entry)
    return out


def calendar_notes(entries: Iterable[ScheduleEntry], washes_per_week, heat_per_week=None) -> list[str]:
    """What the week could not show, in the client's words (empty when it shows everything)."""
    entries = list(entries)
    notes = []
    wash_items = [e.item for e in entries if e.days in ("wash", "between")]
    if wash_items and not known_count(washes_per_week):
        notes.append("You did not say how often you wash your hair, so the items for wash days ("
                     + ", ".join(dict.fromkeys(wash_items)) + ") are not on set days: use them on "
                     "your wash days, as often as your plan says. The week shows only what does "
                     "not depend on washing.")
    elif wash_items and washes_per_week == 0:
        notes.append("You do not wash your hair in a usual week, so the items for wash days ("
                     + ", ".join(dict.fromkeys(wash_items)) + ") have no day yet; your plan says how "
                     "to fit them in.")
    heat_items = [e.item for e in entries if e.days == "heat"]
    if heat_items and not known_count(heat_per_week):
        notes.append("You did not say how often you style with heat, so "
                     + ", ".join(dict.fromkeys(heat_items)) + " is not on set days: use it every "
                     "time you use heat.")
    return notes


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


def _tight(chosen: Sequence[int]) -> int:
    """How many neighbouring chosen days are only the smallest gap apart (fewer is better)."""
    if len(chosen) < 2:
        return 0
    ordered = sorted(chosen)
    gaps = [b - a for a, b in zip(ordered, ordered[1:])] + [ordered[0] + 7 - ordered[-1]]
    return gaps.count(min(gaps))


class _Spacings(dict):
    """Sorted days -> (smallest gap, how many gaps are that small); days not in the table (not
    weekday indices) are worked out when asked."""

    def __missing__(self, days: tuple) -> tuple[int, int]:
        return (_min_gap(days), _tight(days))


#: The spacing of every set of weekdays, worked out once: the calendar compares tens of sets of
#: days for each entry of each client's week.
_SPACING = _Spacings({days: (_min_gap(days), _tight(days))
                      for n in range(8) for days in combinations(range(7), n)})


def pick(pool: Sequence[int], count: int, load: Sequence[int]) -> list[int]:
    """``count`` days of ``pool``: furthest apart round the week, then least loaded, then earliest."""
    pool = sorted(pool)
    if count <= 0 or not pool:
        return []
    if count >= len(pool):
        return list(pool)
    return list(min(combinations(pool, count),
                    key=lambda days: (-_SPACING[days][0], sum(map(load.__getitem__, days)), days)))


def plan(entries: Iterable[ScheduleEntry], washes_per_week, heat_per_week=None) -> dict[str, list[str]]:
    """Place each entry on days of the week; return ``{"mon": [...], ...}`` in entry order.

    An entry named twice (two rules asking for the same item) is placed once, by its first
    request in ``(order, item)`` order. An entry with ``replaces`` stands in for the item it
    names, which is then left out (e.g. a product started later than the rest of the plan). With no wash days in the week (``washes_per_week`` is
    0) a ``wash`` entry has no day to go on and is left out; the advice text explains it. With
    the wash count unknown, ``wash`` and ``between`` entries are left out and ``any`` entries
    spread over the whole week; with the heat count unknown, ``heat`` entries are left out.
    """
    wash = wash_days(washes_per_week)
    washes_known = known_count(washes_per_week)
    rest = [d for d in range(7) if d not in wash]
    heat = heat_days(heat_per_week, washes_per_week)
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
        elif entry.days == "heat":
            chosen = list(heat)
        elif entry.days in ("wash", "between") and not washes_known:
            chosen = []
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
            if entry.days not in ("daily", "heat"):
                load[day] += 1
    return week

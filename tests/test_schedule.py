"""The weekly plan: wash days spread over the week, each item on the right kind of day, spaced apart and balanced, deterministically."""
from __future__ import annotations

import pytest

from haircare_expert.consult import schedule
from haircare_expert.consult.schedule import calendar_notes, heat_days, pick, plan, unplaced, wash_days
from haircare_expert.knowledge.rulebook import ScheduleEntry


def entry(item, per_week, days="wash", order=50):
    per = (per_week, per_week) if isinstance(per_week, int) else tuple(per_week)
    return ScheduleEntry(item, per, days, order)


def days_of(week, item):
    return [day for day, items in week.items() if item in items]


def gaps(days):
    index = sorted(["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(d) for d in days)
    return [b - a for a, b in zip(index, index[1:])] + [index[0] + 7 - index[-1]]


@pytest.mark.parametrize("washes, expected", [(1, [0]), (2, [0, 3]), (3, [0, 2, 4]), (7, list(range(7)))])
def test_wash_days_are_spread_over_the_week(washes, expected):
    assert wash_days(washes) == expected


def test_an_unknown_wash_count_puts_nothing_on_guessed_wash_days():
    """Issue #12 item 3: the week never assumes wash days the client did not give; it says so."""
    assert wash_days("unknown") == []
    entries = [entry("Massage", 7, "daily"), entry("Leave-in", 7, "wash")]
    week = plan(entries, "unknown")
    assert days_of(week, "Massage") == list(week) and days_of(week, "Leave-in") == []
    assert [e.item for e in unplaced(entries, "unknown")] == ["Leave-in"]
    notes = calendar_notes(entries, "unknown")
    assert len(notes) == 1 and "Leave-in" in notes[0] and "did not say how often you wash" in notes[0]
    assert calendar_notes(entries, 3) == []


def test_heat_items_go_on_exactly_as_many_days_as_the_client_styles_with_heat():
    """Issue #12 item 3: a heat protectant for two heat days a week is on two days, not seven."""
    heat = ScheduleEntry("Heat protectant", (7, 7), "heat", 75)
    for count in range(8):
        week = plan([heat, entry("Serum", [2, 3])], 3, count)
        assert len(days_of(week, "Heat protectant")) == count
    # heat days fall on wash days first (a blow-dry follows a wash)
    assert set(heat_days(2, 3)) <= set(wash_days(3))
    assert days_of(plan([heat], 3, "unknown"), "Heat protectant") == []
    assert "every time you use heat" in calendar_notes([heat], 3, "unknown")[0]


def test_daily_items_go_on_every_day_and_wash_items_only_on_wash_days():
    week = plan([entry("Massage", 7, "daily"), entry("Leave-in", 7, "wash")], 3)
    assert days_of(week, "Massage") == list(week)
    assert days_of(week, "Leave-in") == ["mon", "wed", "fri"]


def test_a_range_takes_as_many_wash_days_as_there_are_up_to_the_maximum():
    assert len(days_of(plan([entry("Scalp serum", [2, 3])], 7), "Scalp serum")) == 3
    assert len(days_of(plan([entry("Scalp serum", [2, 3])], 2), "Scalp serum")) == 2
    assert len(days_of(plan([entry("Scalp serum", [2, 3])], 1), "Scalp serum")) == 1


def test_twice_a_week_is_never_on_neighbouring_days():
    for washes in range(2, 8):
        chosen = days_of(plan([entry("Mask", 2)], washes), "Mask")
        assert min(gaps(chosen)) >= 3, (washes, chosen)


def test_low_frequency_items_are_spread_over_different_wash_days():
    week = plan([entry("Scrub", 1, order=10), entry("Mask", 2, order=30), entry("Serum", 3, order=60)], 5)
    assert set(days_of(week, "Scrub")).isdisjoint(days_of(week, "Mask"))
    assert max(len(items) for items in week.values()) == 2


def test_between_items_avoid_wash_days():
    week = plan([entry("Oil", 2, "between")], 3)
    assert set(days_of(week, "Oil")).isdisjoint(["mon", "wed", "fri"]) and len(days_of(week, "Oil")) == 2


def test_any_items_fill_wash_days_first_then_the_others():
    week = plan([entry("Spray", 4, "any")], 3)
    assert {"mon", "wed", "fri"} <= set(days_of(week, "Spray")) and len(days_of(week, "Spray")) == 4


def test_with_no_wash_day_a_wash_item_has_no_day():
    week = plan([entry("Scalp serum", [2, 3]), entry("Massage", 7, "daily")], 0)
    assert days_of(week, "Scalp serum") == [] and len(days_of(week, "Massage")) == 7


def test_an_item_asked_for_twice_is_placed_once_in_order():
    week = plan([entry("B", 1, order=20), entry("A", 1, order=10), entry("B", 3, order=90)], 3)
    assert days_of(week, "A") == ["mon"]
    assert days_of(week, "B") == ["wed"]      # once a week (its first request), on a free wash day


def test_the_plan_does_not_depend_on_the_order_the_rules_fired_in():
    entries = [entry("Scrub", 1, order=10), entry("Mask", [1, 2], order=31), entry("Serum", [2, 3], order=60),
               entry("Massage", 7, "daily", 90)]
    assert plan(entries, 4) == plan(list(reversed(entries)), 4)


def test_pick_prefers_spacing_then_the_least_loaded_days():
    assert pick([0, 1, 2, 4, 5], 2, [0] * 7) == [0, 4]
    assert pick([0, 2, 4], 1, [1, 0, 0, 0, 1, 0, 0]) == [2]
    assert pick([0, 2, 4], 5, [0] * 7) == [0, 2, 4]


def test_an_entry_can_stand_in_for_another_item():
    """A product started later replaces its plain entry instead of both showing."""
    later = ScheduleEntry("Serum (from week 3)", (2, 3), "wash", 60, replaces="Serum")
    week = plan([entry("Serum", [2, 3], order=60), later], 3)
    assert days_of(week, "Serum") == [] and len(days_of(week, "Serum (from week 3)")) == 3


def test_heat_days_are_spread_and_never_more_than_the_advice_allows(advisor):
    """Heat days spread round the week; a client told to cut heat to twice a week gets two."""
    for washes in (0, 1, 2, 3):
        for count in range(2, 5):
            days = [["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d] for d in heat_days(count, washes)]
            assert len(days) == count and min(gaps(days)) >= 7 // count - 1
    c = advisor.consult({"hair": {"concerns": ["breakage"]},
                         "habits": {"heat_styling_per_week": 6, "washes_per_week": 2}})
    assert "cut-heat-on-damaged-hair" in c.fired_rules()
    assert len(days_of(c.schedule, "Heat protectant before heat styling")) == 2


def test_the_days_picked_from_the_spacing_table_are_those_a_fresh_search_picks():
    """The spacing of every set of weekdays is worked out once: for every pool of days, count and
    load, and every wash and heat count, the days chosen are those a search that measures each
    set of days afresh chooses."""
    from itertools import combinations

    def fresh_pick(pool, count, load):
        pool = sorted(pool)
        if count <= 0 or not pool:
            return []
        if count >= len(pool):
            return list(pool)
        return list(min(combinations(pool, count),
                        key=lambda days: (-schedule._min_gap(days), sum(load[d] for d in days), days)))

    loads = ([0] * 7, [3, 0, 1, 0, 2, 0, 1], [0, 1, 2, 3, 2, 1, 0])
    for size in range(8):
        for pool in combinations(range(7), size):
            for count in range(size + 1):
                for load in loads:
                    assert schedule.pick(list(pool), count, load) == fresh_pick(pool, count, load)
    for washes in range(8):
        wash = schedule.wash_days(washes)
        for heat in range(1, 8):
            rest = [d for d in range(7) if d not in wash]
            want = fresh_pick(wash, heat, [0] * 7) if heat <= len(wash) else sorted(wash + list(min(
                combinations(rest, min(heat, 7) - len(wash)),
                key=lambda days: (-schedule._min_gap(wash + list(days)), schedule._tight(wash + list(days)), days))))
            assert schedule.heat_days(heat, washes) == want

"""The plan stage turns every rule that fired into a plan a consultant would hand over: few new things at a time, fixes first, patch tests on a reactive scalp, nothing paused still told, and a week 1 calendar that matches it."""
from __future__ import annotations

import json

import pytest
from conftest import EXAMPLES

from haircare_expert.consult import plan as plan_stage
from haircare_expert.consult.plan import load_policy, rule_product
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.model import PLAN_ACTIONS

SHIPPED = Rulebook.load()
POLICY = load_policy()

#: Every profile the project holds: the example clients and every rule case (fires and silent).
CASES = [(p.name, ("file", p)) for p in EXAMPLES] + [
    (f"{rule.id} {key}[{i}]", ("profile", case))
    for rule in SHIPPED.rules for key in ("fires", "silent")
    for i, case in enumerate(rule.examples.get(key) or [])]

MASSAGE_PAUSE_RULES = {"scalp-massage-on-irritated-scalp", "red-flag-pause-scalp-massage",
                       "scalp-massage-once-calm"}


def consult(advisor, how):
    kind, value = how
    return advisor.consult_file(value) if kind == "file" else advisor.consult(value or {})


def _states(c) -> set[str]:
    return {f.fields["state"] for f in c.facts if f.type == "scalp-state"}


def _reactive(c) -> bool:
    flags = {f.fields["reason"] for f in c.facts if f.type == "red-flag"}
    return bool(_states(c) & set(POLICY["reactive"]["scalp_states"])
                or flags & set(POLICY["reactive"]["red_flags"]))


def _used(c) -> set[str]:
    return {f.fields["product"] for f in c.facts if f.type == "uses"}


@pytest.fixture(scope="module")
def results(advisor):
    return {name: consult(advisor, how) for name, how in CASES}


def test_every_example_and_rule_case_is_checked():
    assert len([c for c in CASES if c[1][0] == "file"]) >= 43 and len(CASES) > 400


def test_no_plan_starts_more_than_two_new_items_in_week_one(results):
    """Done-when: at most two new items in week 1, for every example and every rule case."""
    for name, c in results.items():
        week1 = [s for s in c.plan if s.new and s.start_week == 1]
        assert len(week1) <= 2, (name, [s.item for s in week1])


def test_a_reactive_scalp_gets_one_new_leave_on_scalp_product_at_a_time_each_patch_tested(results):
    """Done-when: on a red, itchy, irritated, sensitive or reacting scalp, at most one new
    leave-on scalp product a week, and a patch-test step before every new product."""
    leave_on = set(POLICY["leave_on_scalp"])
    checked = 0
    for name, c in results.items():
        if not _reactive(c):
            continue
        checked += 1
        new = [s for s in c.plan if s.new]
        for week in {s.start_week for s in new}:
            scalp = [s.product for s in new if s.start_week == week and s.product in leave_on]
            assert len(scalp) <= 1, (name, week, scalp)
        for i, step in enumerate(c.plan):
            if step.new and step.product:
                before = c.plan[i - 1] if i else None
                assert before is not None and before.rule in (POLICY["patch_test_rule"], step.rule) \
                    and before.product == step.product and before.start_week == step.start_week \
                    and "Patch-test" in before.item, (name, step.item)
    assert checked > 30


def test_no_step_list_tells_her_to_do_a_practice_the_plan_pauses(results):
    """Done-when: a paused scalp massage is paused everywhere (I9): no step list mentions it."""
    checked = 0
    for name, c in results.items():
        paused = MASSAGE_PAUSE_RULES & c.fired_rules() or any(
            s.action == "pause" and "massage" in s.item.lower() for s in c.plan)
        if not paused:
            continue
        checked += 1
        for advice in c.advice:
            for step in advice.steps:
                assert "massag" not in step.lower(), (name, advice.rule, step)
        assert not any("massag" in item.lower() for day in c.schedule.values() for item in day), name
    assert checked > 10


def test_a_product_she_uses_is_never_added_and_new_means_not_in_her_routine(results):
    """I4 and the contract: `new` only for a product not in her routine; what she has is kept."""
    for name, c in results.items():
        used = _used(c)
        for s in c.plan:
            assert s.action in PLAN_ACTIONS and s.start_week >= 1, (name, s)
            if s.new:
                assert s.action == "add" and s.product not in used, (name, s.item)
            if s.action == "add" and s.product in used:
                pytest.fail(f"{name}: adds {s.product}, which she already uses")
        assert [s.step for s in c.plan] == list(range(1, len(c.plan) + 1)), name


def test_fixes_come_before_additions(results):
    """I1: stop, pause, change and keep steps all come before the first new product."""
    order = {a: i for i, a in enumerate(POLICY["action_order"])}
    for name, c in results.items():
        ranks = [order[s.action] for s in c.plan]
        assert ranks == sorted(ranks), (name, [s.action for s in c.plan])
        weeks = [s.start_week for s in c.plan if s.action == "add"]
        assert weeks == sorted(weeks), name


def test_one_product_per_need_and_nothing_new_on_the_scalp_while_a_red_flag_or_a_question_is_open(results):
    """I3 and I5: never two serums for the lengths at once; no new scalp product next to a red
    flag or an unanswered warning-sign question; nothing new at all while a reaction settles."""
    scalp = set(POLICY["scalp_products"])
    for name, c in results.items():
        new = {rule_product(SHIPPED.by_id[s.rule]) or s.product for s in c.plan if s.new}
        for group in POLICY["one_per_need"]:
            assert len(new & set(group)) <= 1, (name, new)
        flags = {f.fields["reason"] for f in c.facts if f.type == "red-flag"}
        if "warning-signs-not-checked" in c.fired_rules() or flags:
            assert not new & scalp, (name, new & scalp)
        if flags & set(POLICY["no_new_products_with"]):
            assert new == set(), (name, new)


def test_the_week_holds_only_what_starts_in_week_one(results):
    """Contract: the weekly schedule shows week 1; a product that starts later is not in it."""
    for name, c in results.items():
        later = {s.product for s in c.plan if s.new and s.start_week > 1}
        for day, items in c.schedule.items():
            for item in items:
                owners = {rule_product(r) for r in SHIPPED.rules if any(e.item == item for e in r.schedule)}
                assert not (owners and owners <= later), (name, day, item)


def test_every_rule_with_calendar_entries_names_its_product():
    """The plan can only keep a later product out of week 1 if each calendar entry has an owner."""
    for rule in SHIPPED.rules:
        if rule.schedule:
            assert rule_product(rule), f"{rule.id}: schedule entries but no product (declare or product: tag)"


#: Warnings about the consultation as a whole, not one product of her routine.
WHOLE_PLAN_WARNINGS = {"warning-signs-not-checked", "reaction-no-new-products-yet",
                       "red-flag-what-is-still-safe"}


def test_plan_tags_name_real_actions_and_every_routine_warning_has_one():
    """Each correction of her routine becomes a plan step (rule data, not code)."""
    for rule in SHIPPED.rules:
        tags = [t for t in rule.tags if t.startswith("plan:")]
        assert all(t[5:] in PLAN_ACTIONS for t in tags), rule.id
        about_routine = rule.kind == "warning" and any(p == "uses" for p in rule.positive_types())
        if about_routine and "red-flag" not in rule.tags and rule.id not in WHOLE_PLAN_WARNINGS:
            assert tags, f"{rule.id}: a warning about her routine with no plan:<action> tag"


def test_the_plan_policy_is_data_and_changing_it_changes_the_plan(advisor):
    """KNOWLEDGE I2 lives in facts/plan.yaml: one new item a week there means one in the plan."""
    c = advisor.consult_file(next(p for p in EXAMPLES if p.name == "dull-flat-hair.yaml"))
    assert len([s for s in c.plan if s.new and s.start_week == 1]) == 2
    data = json.loads(json.dumps(POLICY.data))
    data["limits"]["new_per_week"] = 1
    strict = plan_stage.build(SHIPPED, c.facts, c.trace, plan_stage.Policy(data))
    assert len([s for s in strict.steps if s.new and s.start_week == 1]) == 1
    assert sorted(strict.starts.values()) == [1, 3, 5, 7]


def test_a_client_who_heat_styles_twice_gets_the_protectant_on_exactly_two_days(advisor):
    """Issue #12 item 3: heat items on heat days only, as many as she styles with heat."""
    profile = {"hair": {"type": "straight", "thickness": "thick", "concerns": ["frizz"]},
               "scalp": {"symptoms": []}, "goals": ["heat_protection"],
               "habits": {"washes_per_week": 3, "heat_styling_per_week": 2, "scalp_massage": "daily"},
               "routine": [{"product": "shampoo", "per_week": 3, "reactions": []},
                           {"product": "hair_serum", "applied_to": ["ends"], "hair_state": "damp",
                            "per_week": 3, "reactions": []}]}
    c = advisor.consult(profile)
    week = c.to_json()["schedule"]
    heat = [d for d, items in week.items() if any(i.startswith("Heat protectant") for i in items)]
    assert len(heat) == 2
    assert any(s.product == "heat_protectant" and s.start_week == 1 for s in c.plan)
    # the hair serum, advised on wash days, is on every wash day (three a week)
    serum = [d for d, items in week.items() if "Hair serum (lengths only)" in items]
    assert serum == ["mon", "wed", "fri"]


def test_with_the_wash_count_unknown_the_week_shows_only_what_does_not_depend_on_it(advisor):
    """Issue #12 item 3: no guessed wash days; the wash-day products are in the plan instead."""
    c = advisor.consult({"scalp": {"symptoms": ["flaking"]},
                         "habits": {"washes_per_week": "unknown", "scalp_massage": "never"},
                         "routine": [{"product": "shampoo", "reactions": []}]})
    week = [i for items in c.schedule.values() for i in items]
    assert "Scalp serum" not in week and week.count("Scalp massage (a few minutes)") == 7
    serum = next(s for s in c.plan if s.product == "scalp_serum")
    assert serum.start_week == 1 and "wash days" in serum.item


def test_the_json_record_carries_the_plan_in_the_contract_shape(advisor):
    """DESIGN.md: plan steps have exactly the contract keys, in order, with the right types."""
    c = advisor.consult_file(next(p for p in EXAMPLES if p.name == "red-itchy-thinning.yaml"))
    record = json.loads(json.dumps(c.to_json()))
    assert record["plan"], "the plan is filled"
    for i, step in enumerate(record["plan"], 1):
        assert list(step) == ["step", "item", "product", "action", "new", "start_week", "rule", "why"]
        assert step["step"] == i and isinstance(step["item"], str) and step["item"]
        assert step["product"] is None or step["product"] in SHIPPED.vocabulary.types["uses"].fields["product"].values
        assert step["rule"] in SHIPPED.by_id and step["why"]
    later = [s for s in record["plan"] if s["new"] and s["start_week"] > 1]
    assert later and all("week" in s["why"] and "reacted" in s["why"] or "calm" in s["why"] for s in later)


def test_the_plan_is_deterministic(advisor):
    """The same input gives byte-identical JSON, plan included."""
    path = next(p for p in EXAMPLES if p.name == "serum-misuse.yaml")
    assert json.dumps(advisor.consult_file(path).to_json()) == json.dumps(advisor.consult_file(path).to_json())


def test_the_interview_asks_how_often_she_washes_when_the_calendar_depends_on_it(advisor):
    """Issue #12 item 3: a product placed on wash days makes the wash question worth asking,
    even when no rule's condition tests the wash count; without one it is not asked."""
    from haircare_expert.consult.interview import Interview, Session

    def waiting(answers):
        interview = Interview(advisor, Session(dict(answers)))
        return interview.plan().waiting.get("habits.washes_per_week"), interview

    base = {"scalp.symptoms": (), "routine": ("shampoo",), "routine[0].reactions": (),
            "hair.concerns": (), "habits.scalp_massage": "daily", "habits.heat_styling_per_week": 0}
    rules, interview = waiting({**base, "goals": ("shine",)})
    assert rules and "hair-serum-how-to" in rules
    assert "habits.washes_per_week" in [s.key for s in interview.plan().pending]
    rules, _ = waiting({**base, "goals": ()})
    assert not rules


def test_every_product_with_a_frequency_is_in_the_week_or_in_the_plan(results):
    """Issue #12 item 3: a product a fired rule schedules appears in the plan (with its start
    week) unless the plan holds it back, pauses or stops it; in week 1 it is on the calendar
    whenever the counts it depends on are known."""
    for name, c in results.items():
        staged = plan_stage.build(SHIPPED, c.facts, c.trace)
        planned = {s.product for s in c.plan} | {rule_product(SHIPPED.by_id[s.rule]) for s in c.plan}
        habits = next((f.fields for f in c.facts if f.type == "habits"), {})
        week = {i for items in c.schedule.values() for i in items}
        for rule_id in c.fired_rules():
            rule = SHIPPED.by_id[rule_id]
            product = rule_product(rule)
            if not rule.schedule or product in staged.held:
                continue
            assert product in planned, (name, rule_id, product)
            if staged.starts.get(product, 1) > 1:
                continue
            for entry in rule.schedule:
                count = {"heat": "heat_styling_per_week"}.get(entry.days, "washes_per_week")
                value = habits.get(count)
                if entry.days == "daily" or (isinstance(value, int) and value > 0):
                    assert entry.item in week or entry.replaces, (name, rule_id, entry.item)


def test_times_a_week_zero_means_not_in_use_and_the_interview_asks_from_one(advisor):
    """Issue #11 edge value: `per_week: 0` is a product she owns but does not use: it is added
    like any new product, never "kept"; the interview (which lists products in use) starts at 1."""
    from haircare_expert.consult.interview import QuestionBook
    c = advisor.consult({"hair": {"concerns": ["dryness"]}, "scalp": {"symptoms": []},
                         "habits": {"washes_per_week": 2},
                         "routine": [{"product": "hair_mask", "per_week": 0, "reactions": []}]})
    assert "keep-using-hair-mask" not in c.fired_rules()
    assert any(s.product == "hair_mask" and s.action == "add" and s.new for s in c.plan)
    book = QuestionBook.load(SHIPPED.vocabulary)
    assert book.by_ask["uses.per_week"].min == 1


def test_the_policy_read_as_sets_and_places_says_what_its_lists_say():
    """The plan policy's lists are read once as sets and places; each set holds the list's names
    and a product's rank is the first need it answers, then its place in the product list, as
    the lists themselves say (a name listed twice counts at its first place)."""
    data = json.loads(json.dumps(POLICY.data))
    data["rank"]["products"] = data["rank"]["products"] + data["rank"]["products"][:2]
    data["rank"]["needs"] = data["rank"]["needs"][:1] + data["rank"]["needs"]
    for policy in (POLICY, plan_stage.Policy(data)):
        for key, value in policy.data.items():
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                assert policy.sets[key] == set(value)
        needs, products = policy.data["rank"]["needs"], policy.data["rank"]["products"]
        for product in [*products, "not_a_product"]:
            for chosen in ([], needs[:1], needs[-2:], ["not_a_need", *needs[1:3]]):
                want = (min((needs.index(n) for n in chosen if n in needs), default=len(needs)),
                        products.index(product) if product in products else len(products), product)
                assert policy.rank(set(chosen), product) == want

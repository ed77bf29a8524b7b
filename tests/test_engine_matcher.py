"""The engine's faster matcher gives exactly the facts and firing traces of experta's stock
ReteMatcher, on the example profiles and on generated ones, for the shipped rules and a large
synthetic knowledge base; and activations that experta's agenda key cannot tell apart (two
alternatives of a rule, or a join in swapped roles, on the same facts) fire in a fixed order."""
from __future__ import annotations

import sys

import pytest
from conftest import EXAMPLES, ROOT
from hypothesis import HealthCheck, given, settings
from strategies import profile_strategy

from haircare_expert.engine.compiler import Engine, TrackedReteMatcher
from haircare_expert.errors import EngineError
from haircare_expert.knowledge.rulebook import Rulebook

sys.path.insert(0, str(ROOT / "benchmarks"))
from synthetic import write_rules

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def same_run(fast: Engine, stock: Engine, facts) -> None:
    assert fast.run(facts) == stock.run(facts)


@pytest.fixture(scope="module")
def shipped(advisor):
    return advisor, Engine(advisor.rulebook, stock_matcher=True)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    rulebook = Rulebook.load(shipped=write_rules(tmp_path_factory.mktemp("syn"), 300, seed=3))
    return rulebook, Engine(rulebook), Engine(rulebook, stock_matcher=True)


def test_the_advisor_uses_the_tracked_matcher(advisor):
    assert isinstance(advisor.engine._engine.matcher, TrackedReteMatcher)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_give_the_same_trace_as_the_stock_matcher(shipped, example):
    advisor, stock = shipped
    client, facts = advisor.vocabulary.load_profile(example)
    fast_facts, fast_trace = advisor.engine.run(facts)
    assert fast_trace, "the example should make rules fire"
    assert (fast_facts, fast_trace) == stock.run(facts)


@SETTINGS
@given(data=__import__("hypothesis").strategies.data())
def test_generated_profiles_give_the_same_trace_on_the_shipped_rules(shipped, data):
    advisor, stock = shipped
    profile = data.draw(profile_strategy(advisor.vocabulary))
    same_run(advisor.engine, stock, advisor.vocabulary.profile_facts(profile)[1])


@SETTINGS
@given(data=__import__("hypothesis").strategies.data())
def test_generated_profiles_give_the_same_trace_on_a_synthetic_knowledge_base(synthetic, data):
    rulebook, fast, stock = synthetic
    profile = data.draw(profile_strategy(rulebook.vocabulary))
    same_run(fast, stock, rulebook.vocabulary.profile_facts(profile)[1])


def test_the_synthetic_knowledge_base_chains_and_negates(synthetic):
    """Guard against a vacuous comparison: derived facts and negations are exercised."""
    rulebook, fast, _ = synthetic
    assert max(r.stratum for r in rulebook.rules) >= 1
    from strategies import profile_strategy as ps  # noqa: F401
    facts = rulebook.vocabulary.profile_facts({
        "hair": {"type": "curly", "thickness": "fine", "concerns": ["frizz", "dryness", "damage"]},
        "scalp": {"symptoms": ["flaking", "itching", "oiliness"]},
        "habits": {"washes_per_week": 7, "heat_styling_per_week": 5},
        "routine": [{"product": "hair_oil", "applied_to": ["scalp", "ends"], "per_week": 5}]})[1]
    all_facts, trace = fast.run(facts)
    assert len(trace) > 10 and len(all_facts) > len(facts)


def test_a_run_cut_off_by_the_limit_leaves_nothing_for_the_next_run(shipped):
    """After a runaway stop, the next client's run is exactly a fresh engine's run."""
    advisor, stock = shipped
    example = advisor.vocabulary.load_profile(EXAMPLES[0])[1]
    limited = Engine(advisor.rulebook, firing_limit=1)
    with pytest.raises(EngineError, match="stopped after 1 rule firings"):
        limited.run(example)
    limited.firing_limit = 10_000
    assert limited.run(example) == stock.run(example)


TIES = """
rules:
  - id: same-product-twice
    title: a join that matches two entries in both roles
    kind: note
    when:
      - {fact: uses, product: "?p", entry: "?a"}
      - {fact: uses, product: "?p", entry: "?b", per_week: {ge: 0}}
    then: {advise: "Twice {{ p }}."}
    because: x
    sources: [{own: true, note: t}]
  - id: either-way
    title: two alternatives that match the same fact
    kind: note
    when:
      - any: [{fact: hair, type: curly}, {fact: hair, thickness: fine}]
    then: {advise: Either.}
    because: x
    sources: [{own: true, note: t}]
"""


def test_ties_in_experta_s_agenda_key_fire_in_the_same_order_in_every_engine(mini_advisor):
    """experta ordered these by hashes of function ids: different in each engine and process."""
    advisor = mini_advisor(ties=TIES)
    facts = advisor.vocabulary.profile_facts({
        "hair": {"type": "curly", "thickness": "fine"},
        "routine": [{"product": "hair_oil", "per_week": 2}, {"product": "hair_oil", "per_week": 3}]})[1]
    traces = [Engine(advisor.rulebook).run(facts)[1] for _ in range(6)]
    assert all(trace == traces[0] for trace in traces)
    either = [f.variant for f in traces[0] if f.rule == "either-way"]
    assert either == [0, 1]                      # the first alternative fires first
    joins = [f.facts for f in traces[0] if f.rule == "same-product-twice"]
    assert len(joins) == 4 and len(set(joins)) == 4


SCREENED = """
rules:
  - id: any-flaking-itching
    title: contains_any, captured
    kind: note
    when: [{fact: scalp, symptoms: {contains_any: [flaking, itching, rash]}}]
    then: {advise: One.}
    because: x
    sources: [{own: true, note: t}]
  - id: any-oiliness-flaking
    title: contains_any, captured
    kind: note
    when: [{fact: scalp, symptoms: {contains_any: [oiliness, flaking]}}]
    then: {advise: Two.}
    because: x
    sources: [{own: true, note: t}]
  - id: all-flaking-itching
    title: contains_all, captured
    kind: note
    when: [{fact: scalp, symptoms: {contains_all: [flaking, itching]}}]
    then: {advise: Three.}
    because: x
    sources: [{own: true, note: t}]
  - id: all-itching-rash
    title: contains_all that does not pass
    kind: note
    when: [{fact: scalp, symptoms: {contains_all: [itching, rash]}}]
    then: {advise: Four.}
    because: x
    sources: [{own: true, note: t}]
  - id: any-rash-soreness
    title: contains_any that does not pass
    kind: note
    when: [{fact: scalp, symptoms: {contains_any: [rash, soreness]}}]
    then: {advise: Five.}
    because: x
    sources: [{own: true, note: t}]
  - id: none-of-them
    title: a negation on a screened test
    kind: note
    when:
      - {fact: hair, type: curly}
      - not: {fact: scalp, symptoms: {contains_all: [rash, soreness]}}
    then: {advise: Six.}
    because: x
    sources: [{own: true, note: t}]
"""


def test_set_tests_screened_by_member_fire_once_each_as_with_the_stock_matcher(mini_advisor):
    """Rules testing a set field with contains_any / contains_all (looked up by the set's
    members in the fast matcher) fire exactly as with experta's stock matcher: once per match
    even when several members name the same rule, never when the test fails."""
    advisor = mini_advisor(screened=SCREENED)
    stock = Engine(advisor.rulebook, stock_matcher=True)
    for symptoms in (["flaking", "itching", "oiliness"], ["rash"], [], ["itching", "rash", "soreness"]):
        facts = advisor.vocabulary.profile_facts({
            "hair": {"type": "curly"}, "scalp": {"symptoms": symptoms}})[1]
        result = advisor.engine.run(facts)
        assert result == stock.run(facts)
        if symptoms == ["flaking", "itching", "oiliness"]:
            assert sorted(f.rule for f in result[1]) == [
                "all-flaking-itching", "any-flaking-itching", "any-oiliness-flaking", "none-of-them"]

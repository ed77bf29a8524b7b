"""The compiler: each rule construct fires when it should and stays silent when it should;
rules chain through derived facts; facts keep their origins; runs are deterministic."""
import os
import subprocess
import sys

import pytest
from conftest import EXAMPLES, fired

from haircare_expert.engine.compiler import Engine
from haircare_expert.errors import EngineError, RuleErrors
from haircare_expert.render.formats import to_json

RULE = """
id: {id}
title: T
kind: note
when:
{when}
then:
  advise: "{advise}"
because: x
sources: [{{own: true, note: test}}]
"""


def one_rule(mini_advisor, when, advise="fired"):
    return mini_advisor(r=RULE.format(id="r", when=when, advise=advise))


CASES = [
    # (construct, when, profile that fires, profile that stays silent)
    ("equals", "  - {fact: hair, type: curly}", {"hair": {"type": "curly"}}, {"hair": {"type": "wavy"}}),
    ("one of", "  - {fact: hair, type: {in: [curly, coily]}}", {"hair": {"type": "coily"}}, {"hair": {"type": "straight"}}),
    ("none of", "  - {fact: hair, type: {not_in: [curly, coily]}}", {"hair": {"type": "wavy"}}, {"hair": {"type": "curly"}}),
    ("not equal", "  - {fact: hair, thickness: {ne: fine}}", {"hair": {"thickness": "thick"}}, {"hair": {"thickness": "fine"}}),
    ("contains", "  - {fact: hair, concerns: {contains: frizz}}", {"hair": {"concerns": ["dryness", "frizz"]}}, {"hair": {"concerns": ["dryness"]}}),
    ("contains any", "  - {fact: scalp, symptoms: {contains_any: [rash, soreness]}}", {"scalp": {"symptoms": ["soreness"]}}, {"scalp": {"symptoms": ["itching"]}}),
    ("contains all", "  - {fact: scalp, symptoms: {contains_all: [rash, soreness]}}", {"scalp": {"symptoms": ["rash", "soreness"]}}, {"scalp": {"symptoms": ["rash"]}}),
    ("contains none", "  - {fact: scalp, symptoms: {contains_none: [rash]}}", {"scalp": {"symptoms": ["itching"]}}, {"scalp": {"symptoms": ["rash"]}}),
    ("empty", "  - {fact: scalp, symptoms: {empty: true}}", {"scalp": {"symptoms": []}}, {"scalp": {"symptoms": "unknown"}}),
    ("at least", "  - {fact: habits, washes_per_week: {ge: 5}}", {"habits": {"washes_per_week": 5}}, {"habits": {"washes_per_week": 4}}),
    ("less than", "  - {fact: habits, washes_per_week: {lt: 2}}", {"habits": {"washes_per_week": 1}}, {"habits": {"washes_per_week": 2}}),
    ("range", "  - {fact: uses, per_week: {gt: 3, le: 6}}", {"routine": [{"product": "hair_mask", "per_week": 6}]}, {"routine": [{"product": "hair_mask", "per_week": 7}]}),
    ("boolean", "  - {fact: uses, rinsed_out: false}", {"routine": [{"product": "hair_mask", "rinsed_out": False}]}, {"routine": [{"product": "hair_mask", "rinsed_out": True}]}),
    ("unknown answer", "  - {fact: hair, type: unknown}", {"hair": {"type": "unknown"}}, {"hair": {"type": "wavy"}}),
    ("known", "  - {fact: hair, type: {known: true}}", {"hair": {"type": "wavy"}}, {"hair": {"type": "unknown"}}),
    ("not", "  - {fact: hair}\n  - not: {fact: uses, product: hair_serum}", {"hair": {}, "routine": [{"product": "hair_mask"}]}, {"hair": {}, "routine": [{"product": "hair_serum"}]}),
    ("not all", "  - {fact: hair}\n  - not: {all: [{fact: uses, product: hair_serum}, {fact: uses, product: hair_mask}]}",
     {"hair": {}, "routine": [{"product": "hair_serum"}]}, {"hair": {}, "routine": [{"product": "hair_serum"}, {"product": "hair_mask"}]}),
    ("any", "  - any: [{fact: hair, type: curly}, {fact: scalp, symptoms: {contains: flaking}}]", {"scalp": {"symptoms": ["flaking"]}}, {"hair": {"type": "wavy"}}),
    ("shared variable", "  - {fact: uses, product: \"?p\", applied_to: {contains: scalp}}\n  - {fact: uses, product: \"?p\", applied_to: {contains: ends}}",
     {"routine": [{"product": "hair_oil", "applied_to": ["scalp"]}, {"product": "hair_oil", "applied_to": ["ends"]}]},
     {"routine": [{"product": "hair_oil", "applied_to": ["scalp"]}, {"product": "hair_mask", "applied_to": ["ends"]}]}),
    ("variable in not", "  - {fact: uses, product: \"?p\"}\n  - not: {fact: uses, product: \"?p\", rinsed_out: true}",
     {"routine": [{"product": "hair_mask", "rinsed_out": False}]}, {"routine": [{"product": "hair_mask", "rinsed_out": True}]}),
    ("missing field never matches", "  - {fact: hair, type: {ne: curly}}", {"hair": {"type": "wavy"}}, {"hair": {"thickness": "fine"}}),
    ("no conditions", "  []", {}, None),
]


@pytest.mark.parametrize("construct, when, fires, silent", CASES, ids=[c[0] for c in CASES])
def test_each_construct_fires_and_stays_silent(mini_advisor, construct, when, fires, silent):
    if construct == "no conditions":
        advisor = mini_advisor(r=RULE.format(id="r", when="", advise="fired").replace("when:\n", "when: []\n"))
    else:
        advisor = one_rule(mini_advisor, when)
    assert fired(advisor.consult(fires)) == ["r"]
    if silent is not None:
        assert fired(advisor.consult(silent)) == []


CHAIN = """
rules:
  - id: s1-flaky
    title: symptom to state
    kind: derive
    when: [{fact: scalp, symptoms: {contains: flaking}}]
    then: {declare: [{scalp-state: flaky}]}
    because: x
    sources: [{own: true, note: t}]
  - id: s2-need
    title: state to need
    kind: derive
    when: [{fact: scalp-state, state: "?s"}]
    then: {declare: [{need: scalp_hydration}]}
    because: x
    sources: [{own: true, note: t}]
  - id: s3-recommend
    title: need to product
    kind: recommendation
    when: [{fact: need, name: scalp_hydration}]
    then:
      advise: Use a scalp serum.
      declare: [{recommend: scalp_serum}]
      schedule: [{item: Scalp serum, per_week: [2, 3], days: wash}]
      wash_day: [{step: Scalp serum, order: 5}]
    because: x
    sources: [{own: true, note: t}]
  - id: s4-howto
    title: product to steps
    kind: how-to
    when: [{fact: recommend, product: scalp_serum}]
    then: {advise: "Drop by drop.", steps: [one, two]}
    because: x
    sources: [{own: true, note: t}]
  - id: s5-nothing-needed
    title: negation after the chain
    kind: note
    when: [{fact: scalp}, {not: {fact: recommend}}]
    then: {advise: Nothing to add.}
    because: x
    sources: [{own: true, note: t}]
"""


def test_rules_chain_four_levels_and_record_origins(mini_advisor):
    c = mini_advisor(chain=CHAIN).consult({"scalp": {"symptoms": ["flaking"]}, "habits": {"washes_per_week": 3}})
    assert fired(c) == ["s1-flaky", "s2-need", "s3-recommend", "s4-howto"]
    origins = {f.type: f.origin for f in c.facts}
    assert origins == {"scalp": "profile:scalp", "habits": "profile:habits", "scalp-state": "rule:s1-flaky",
                       "need": "rule:s2-need", "recommend": "rule:s3-recommend"}
    howto = next(a for a in c.advice if a.rule == "s4-howto")
    recommend_fact = next(f for f in c.facts if f.type == "recommend")
    assert howto.matched_facts == [recommend_fact.id]
    assert c.trace[1].bindings == {"s": "flaky"}
    assert c.trace[2].declared == (recommend_fact.id,)
    assert c.schedule["mon"] == ["Scalp serum"] and c.schedule["tue"] == []
    assert c.wash_day_order == ["Scalp serum"]


def test_trace_and_facts_are_ordinary_model_objects(mini_advisor):
    """The trace and facts a run returns (built from compact records at its end) are equal to, hash
    like and print like the same objects made with their constructors, so records and replays
    compare them safely."""
    from haircare_expert.model import Fact, Firing
    c = mini_advisor(chain=CHAIN).consult({"scalp": {"symptoms": ["flaking"]}, "habits": {"washes_per_week": 3}})
    for made in c.trace:
        again = Firing(made.seq, made.rule, made.facts, made.bindings, made.declared, made.variant)
        assert type(made) is Firing and made == again and repr(made) == repr(again)
    assert [f.seq for f in c.trace] == list(range(1, len(c.trace) + 1))
    for made in c.facts:
        again = Fact(made.type, dict(made.fields), made.origin, made.id)
        assert type(made) is Fact and made == again and hash(made.key()) == hash(again.key())
        assert repr(made) == repr(again)
    with pytest.raises(AttributeError):     # still frozen
        c.trace[0].rule = "other"


def test_negation_is_tested_only_after_everything_it_negates_is_derived(mini_advisor):
    """s5 would fire first without stratification: it has no positive dependency on the chain."""
    advisor = mini_advisor(chain=CHAIN)
    assert "s5-nothing-needed" not in fired(advisor.consult({"scalp": {"symptoms": ["flaking"]}}))
    assert "s5-nothing-needed" in fired(advisor.consult({"scalp": {"symptoms": []}}))


def test_engine_is_reused_and_reset_between_clients(mini_advisor):
    advisor = mini_advisor(chain=CHAIN)
    first = advisor.consult({"scalp": {"symptoms": ["flaking"]}})
    second = advisor.consult({"scalp": {"symptoms": []}})
    third = advisor.consult({"scalp": {"symptoms": ["flaking"]}})
    assert fired(second) == ["s5-nothing-needed"]
    assert to_json(first) == to_json(third)


def test_advice_is_ordered_by_kind_then_salience_then_id(mini_advisor):
    def rule(rid, kind, salience):
        return f"""
  - id: {rid}
    title: {rid}
    kind: {kind}
    salience: {salience}
    when: []
    then: {{advise: {rid}}}
    because: x
    sources: [{{own: true, note: t}}]"""
    rules = "rules:" + "".join([rule("n", "note", 99), rule("w-low", "warning", 1), rule("r", "referral", -5),
                                rule("w-b", "warning", 50), rule("w-a", "warning", 50), rule("rec", "recommendation", 0)])
    c = mini_advisor(r=rules).consult({})
    assert [a.rule for a in c.advice] == ["r", "w-a", "w-b", "w-low", "rec", "n"]


def test_duplicate_routine_entries_are_not_merged(mini_advisor):
    advisor = one_rule(mini_advisor, "  - {fact: uses, product: hair_serum}")
    entry = {"product": "hair_serum", "per_week": 7}
    c = advisor.consult({"routine": [entry, dict(entry)]})
    assert len(c.trace) == 2
    assert len(c.advice) == 1 and len(c.advice[0].matched_facts) == 2


def test_rule_text_shows_client_values_through_a_sandbox(mini_advisor):
    advisor = one_rule(mini_advisor, "  - {fact: habits, washes_per_week: \"?n\"}", advise="You wash {{ n }} times.")
    assert advisor.consult({"habits": {"washes_per_week": 4}}).advice[0].text == "You wash 4 times."
    # an escape from the sandbox is refused when the rules load (issue 13), before any client
    with pytest.raises(RuleErrors, match="calling a function cannot be used"):
        one_rule(mini_advisor, "  - {fact: habits, washes_per_week: \"?n\"}",
                 advise="{{ n.__class__.__mro__[1].__subclasses__() }}")


def test_firing_limit_stops_a_run_with_a_clear_error(mini_advisor):
    advisor = mini_advisor(chain=CHAIN)
    engine = Engine(advisor.rulebook, firing_limit=2)
    facts = advisor.vocabulary.profile_facts({"scalp": {"symptoms": ["flaking"]}})[1]
    with pytest.raises(EngineError, match="stopped after 2 rule firings"):
        engine.run(facts)
    # the engine is usable again after the failure
    assert len(Engine(advisor.rulebook).run(facts)[1]) == 4
    assert len(engine.run(advisor.vocabulary.profile_facts({"scalp": {"symptoms": []}})[1])[1]) == 1


#: Run in a fresh interpreter: every example's contract JSON (what ``advise --format json`` writes).
ALL_EXAMPLES_JSON = """
import sys
from haircare_expert.consult.advisor import Advisor
from haircare_expert.render.formats import to_json
advisor = Advisor()
for path in sys.argv[1:]:
    sys.stdout.write(to_json(advisor.consult_file(path)))
"""


def test_same_input_gives_byte_identical_json_across_processes(tmp_path):
    """No clock, no hash-seed dependent order: two processes with different seeds agree on every example."""
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-c", ALL_EXAMPLES_JSON, *map(str, EXAMPLES)],
                                capture_output=True, env=env, check=True, cwd=tmp_path)
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count(b'"schema": "haircare-advice/1"') == len(EXAMPLES)

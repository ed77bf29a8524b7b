"""Explanations: why a rule fired (down to the client's answers) and why another did not (the first
unmet condition, the actual value, the answer that would pass, the rule that blocks it)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT

from haircare_expert.audit.explain import explain, render_text
from haircare_expert.cli import main
from haircare_expert.errors import ExitCode, NotFoundError

EXAMPLE = ROOT / "facts" / "examples" / "dry-flaky-scalp.yaml"


def leaves(fact_info) -> list[str]:
    """The origins a fact's derivation bottoms out in."""
    if fact_info.derivation is None:
        return [fact_info.origin]
    found = []
    for cond in fact_info.derivation.conditions:
        for fact in cond.facts:
            found.extend(leaves(fact))
    return found or [f"no-facts:{fact_info.derivation.rule}"]   # a rule that needs no facts


# -- the shipped knowledge base ---------------------------------------------------------------
@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_rule_is_explained_consistently_with_the_consultation(advisor, example):
    consultation = advisor.consult_file(example)
    fired = consultation.fired_rules()
    for rule in advisor.rulebook.rules:
        result = explain(consultation, advisor.rulebook, rule.id)
        assert result.fired == (rule.id in fired), rule.id
        json.dumps(result.to_json())
        assert render_text(result).startswith(f"Rule {rule.id}: ")
        if result.fired:
            assert len(result.firings) == len({(t.variant, t.facts) for t in consultation.trace if t.rule == rule.id})
            for derivation in result.firings:
                for cond in derivation.conditions:
                    for fact in cond.facts:
                        # Every derived fact is traced back to the client's answers (or to a
                        # rule that needs no facts at all).
                        assert all(o.startswith(("profile:", "no-facts:")) for o in leaves(fact)), leaves(fact)
                        if fact.origin.startswith("rule:"):
                            assert fact.derivation is not None
                            assert fact.derivation.rule == fact.origin[5:]
        else:
            assert result.alternatives, rule.id
            for alt in result.alternatives:
                assert not alt.failed.holds
                assert all(c.holds for c in alt.conditions[:-1])


def test_a_fired_chained_rule_is_derived_down_to_the_profile(advisor):
    consultation = advisor.consult_file(EXAMPLE)
    derived_ids = {f.id for f in consultation.facts if f.origin.startswith("rule:")}
    chained = [t for t in consultation.trace if derived_ids & set(t.facts)]
    assert chained, "the example should fire at least one rule on a derived fact"
    firing = chained[-1]
    result = explain(consultation, advisor.rulebook, firing.rule)
    facts = [f for c in result.firings[-1].conditions for f in c.facts]
    derived = [f for f in facts if f.derivation is not None]
    assert derived
    assert any(o.startswith("profile:") for f in derived for o in leaves(f))


def test_unknown_rule_id_names_close_matches(advisor):
    consultation = advisor.consult_file(EXAMPLE)
    some = advisor.rulebook.rules[0].id
    with pytest.raises(NotFoundError) as info:
        explain(consultation, advisor.rulebook, some + "x")
    assert info.value.where == some + "x"
    assert some in info.value.what


# -- a small knowledge base with known shape --------------------------------------------------
CHAIN = """
rules:
  - id: s1-flaky
    title: symptom to state
    kind: derive
    when: [{fact: scalp, symptoms: {contains_any: [flaking, itching]}}]
    then: {declare: [{scalp-state: flaky}]}
    because: Flakes mean a flaky scalp.
    sources: [{own: true, note: t}]
  - id: s2-need
    title: state to need
    kind: derive
    when: [{fact: scalp-state, state: "?s"}]
    then: {declare: [{need: scalp_hydration}]}
    because: x
    sources: [{own: true, note: t}]
  - id: s2b-need
    title: another way to the need
    kind: derive
    when: [{fact: habits, washes_per_week: {ge: 7}}]
    then: {declare: [{need: scalp_hydration}]}
    because: x
    sources: [{own: true, note: t}]
  - id: flag
    title: a red flag
    kind: derive
    when: [{fact: scalp, symptoms: {contains: patchy_loss}}]
    then: {declare: [{red-flag: patchy_loss}]}
    because: x
    sources: [{own: true, note: t}]
  - id: s3-recommend
    title: need to product
    kind: recommendation
    when: [{fact: need, name: scalp_hydration}, {not: {fact: red-flag}}]
    then: {advise: Use a scalp serum., declare: [{recommend: scalp_serum}]}
    because: It hydrates.
    sources: [{source: scalp-serum-routine, section: "What Is A Scalp Serum?"}]
  - id: serum-daily
    title: per routine entry
    kind: warning
    when: [{fact: uses, product: hair_serum, per_week: {bind: "?n", ge: 7}}]
    then: {advise: "You use it {{ n }} times."}
    because: x
    sources: [{own: true, note: t}]
  - id: either
    title: two alternatives
    kind: note
    when:
      - any:
          - {fact: hair, type: curly}
          - {fact: goals, wanted: {contains_all: [shine, repair]}}
    then: {advise: Either.}
    because: x
    sources: [{own: true, note: t}]
"""


@pytest.fixture
def chain(mini_advisor):
    return mini_advisor(chain=CHAIN)


def test_chained_rule_is_explained_rule_by_rule_down_to_the_answer(chain):
    c = chain.consult({"scalp": {"symptoms": ["flaking"]}})
    result = explain(c, chain.rulebook, "s3-recommend")
    assert result.fired and len(result.firings) == 1
    firing = result.firings[0]
    assert firing.because == "It hydrates." and firing.sources[0]["source"] == "scalp-serum-routine"
    need = firing.conditions[0].facts[0]
    assert need.type == "need" and need.derivation.rule == "s2-need"
    state = need.derivation.conditions[0].facts[0]
    assert state.origin == "rule:s1-flaky" and state.derivation.rule == "s1-flaky"
    answer = state.derivation.conditions[0].facts[0]
    assert answer.origin == "profile:scalp" and answer.derivation is None
    assert answer.fields["symptoms"] == ("flaking",)
    assert firing.conditions[1].kind == "not" and firing.conditions[1].holds
    text = render_text(result)
    for words in ("concluded by rule s2-need", "concluded by rule s1-flaky", "profile:scalp",
                  "It hydrates.", "What Is A Scalp Serum?"):
        assert words in text


def test_a_negated_condition_names_the_rule_whose_conclusion_blocks_it(chain):
    c = chain.consult({"scalp": {"symptoms": ["flaking", "patchy_loss"]}})
    result = explain(c, chain.rulebook, "s3-recommend")
    assert not result.fired
    failed = result.alternatives[0].failed
    assert (failed.number, failed.kind) == (2, "not")
    assert failed.blocked_by == ["flag"]
    assert failed.facts[0].type == "red-flag" and failed.facts[0].derivation.rule == "flag"
    assert result.alternatives[0].conditions[0].holds
    assert "blocked by rule flag" in render_text(result)


def test_a_failed_answer_shows_the_actual_value_and_the_answer_that_would_pass(chain):
    c = chain.consult({"routine": [{"product": "hair_serum", "per_week": 3}]})
    result = explain(c, chain.rulebook, "serum-daily")
    failed = result.alternatives[0].failed
    assert failed.candidates[0].failed.actual == 3
    assert failed.answer == "routine[0].per_week: 7 or more"
    assert "per_week is 3, needs 7 or more" in render_text(result)


def test_a_missing_section_is_named_with_the_answer_to_give(chain):
    result = explain(chain.consult({}), chain.rulebook, "serum-daily")
    failed = result.alternatives[0].failed
    assert failed.missing == "the profile has no routine entries"
    assert failed.answer == "routine[new entry].product: hair_serum; routine[new entry].per_week: 7 or more"


def test_waiting_on_a_derived_fact_lists_the_rules_that_could_conclude_it_and_why_not(chain):
    c = chain.consult({"scalp": {"symptoms": ["oiliness"]}, "habits": {"washes_per_week": 3}})
    result = explain(c, chain.rulebook, "s3-recommend")
    failed = result.alternatives[0].failed
    assert failed.missing == "no rule concluded a need fact"
    producers = {p.rule: p for p in failed.producers}
    assert set(producers) == {"s2-need", "s2b-need"}
    assert not producers["s2b-need"].fired
    assert producers["s2b-need"].alternatives[0].failed.candidates[0].failed.actual == 3
    # one level further: s2-need waits on a scalp-state only s1-flaky concludes
    deeper = producers["s2-need"].alternatives[0].failed.producers
    assert [p.rule for p in deeper] == ["s1-flaky"]
    assert deeper[0].alternatives[0].failed.answer == "scalp.symptoms: a list that includes flaking or itching"
    text = render_text(result)
    assert "rules that could conclude it" in text and "s1-flaky" in text


def test_a_rule_that_fires_once_per_routine_entry_is_explained_per_firing(chain):
    entries = [{"product": "hair_serum", "per_week": 7}, {"product": "hair_oil"},
               {"product": "hair_serum", "per_week": 9}]
    result = explain(chain.consult({"routine": entries}), chain.rulebook, "serum-daily")
    assert len(result.firings) == 2
    assert sorted((f.conditions[0].facts[0].origin, f.bindings["n"]) for f in result.firings) == [
        ("profile:routine[0]", 7), ("profile:routine[2]", 9)]


def test_each_alternative_of_any_is_diagnosed(chain):
    c = chain.consult({"hair": {"type": "wavy"}, "goals": ["shine"]})
    result = explain(c, chain.rulebook, "either")
    assert [a.number for a in result.alternatives] == [1, 2]
    assert result.alternatives[0].failed.candidates[0].failed.actual == "wavy"
    assert result.alternatives[1].failed.answer == "goals: a list that includes shine and repair (add repair)"
    assert json.loads(json.dumps(result.to_json()))["why_not"][1]["first_failed"] == 1


# -- the command ------------------------------------------------------------------------------
def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="haircare")


def test_explain_command_prints_text_and_json(advisor):
    consultation = advisor.consult_file(EXAMPLE)
    rule = consultation.trace[0].rule
    text = run("explain", EXAMPLE, rule)
    assert text.exit_code == 0, text.stderr
    assert text.stdout.startswith(f"Rule {rule}: ") and "fired" in text.stdout
    data = json.loads(run("explain", EXAMPLE, rule, "--format", "json").stdout)
    assert data["schema"] == "haircare-explanation/1" and data["rule"] == rule and data["fired"]
    assert data["firings"][0]["seq"] == consultation.trace[0].seq


def test_explain_command_reports_an_unknown_rule_with_close_matches(advisor):
    rule = advisor.rulebook.rules[0].id
    result = run("explain", EXAMPLE, rule[:-1] + "q")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stderr.startswith("Error: ") and rule in result.stderr and result.stdout == ""

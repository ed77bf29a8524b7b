"""The rulebook loader rejects every malformed rule with file:line, and gathers all problems at once."""
import pytest

from haircare_expert.errors import NotFoundError, RuleErrors
from haircare_expert.rulebook import Rulebook

GOOD = """
id: {id}
title: A test rule
kind: note
when:
  - fact: hair
    type: curly
then:
  advise: Some advice.
because: A reason.
sources:
  - {{source: serum-vs-mask, section: "How to apply hair serum?"}}
"""


def load_error(rule_folder, text, name="r.yaml"):
    folder = rule_folder({name: text})
    with pytest.raises(RuleErrors) as info:
        Rulebook.load(shipped=folder)
    return info.value


@pytest.mark.parametrize("change, line, words", [
    (("type: curly", "colour: red"), 7, ["hair has no field 'colour'", "thickness"]),
    (("fact: hair", "fact: hairdo"), 6, ["unknown fact type 'hairdo'"]),
    (("type: curly", "type: frizzy"), 7, ["'frizzy' is not a value", "straight"]),
    (("type: curly", "type: {contains: curly}"), 7, ["contains applies only to list fields"]),
    (("type: curly", "type: {gt: 3}"), 7, ["gt applies only to numbers"]),
    (("type: curly", "type: {in: []}"), 7, ["non-empty list"]),
    (("type: curly", "type: {like: curly}"), 7, ["unknown test 'like'"]),
    (("kind: note", "kind: hint"), 4, ["kind 'hint'"]),
    (("because: A reason.\n", ""), 2, ["missing 'because'"]),
    (("section: \"How to apply hair serum?\"", "section: \"Nope\""), 12, ["no section 'Nope'"]),
    (("source: serum-vs-mask", "source: blog"), 12, ["unknown source 'blog'"]),
    (("advise: Some advice.", "steps: [a]"), 9, ["needs then.advise"]),
    (("then:", "than:"), 8, ["unknown key 'than'"]),
])
def test_bad_rules_are_reported_with_file_and_line(rule_folder, change, line, words):
    text = GOOD.format(id="test-rule").replace(*change)
    error = load_error(rule_folder, text)
    assert error.problems[0].where.endswith(f"r.yaml:{line}"), error.problems[0].where
    for word in words:
        assert word in str(error)


def test_all_problems_are_collected(rule_folder):
    folder = rule_folder({"a.yaml": GOOD.format(id="Bad_Id"), "b.yaml": GOOD.format(id="x").replace("curly", "frizzy")})
    with pytest.raises(RuleErrors) as info:
        Rulebook.load(shipped=folder)
    assert len(info.value.problems) == 2
    assert "kebab-case" in str(info.value.problems[0])


def test_duplicate_ids_in_one_folder_are_an_error(rule_folder):
    folder = rule_folder({"a.yaml": GOOD.format(id="same"), "b.yaml": GOOD.format(id="same")})
    with pytest.raises(RuleErrors, match="duplicate rule id 'same'"):
        Rulebook.load(shipped=folder)


def test_variables_must_be_bound_before_use(rule_folder):
    text = GOOD.format(id="v").replace("advise: Some advice.", "advise: 'You wash {{ n }} times.'")
    assert "?n is used in 'then' but not bound" in str(load_error(rule_folder, text))
    text = GOOD.format(id="w").replace("    type: curly", "    type: curly\n  - not: {fact: habits, washes_per_week: \"?n\"}")
    assert "?n inside 'not' must be bound" in str(load_error(rule_folder, text))


def test_a_negation_cycle_cannot_be_stratified(rule_folder):
    rules = """
rules:
  - id: a
    title: A
    kind: derive
    when: [{not: {fact: need, name: volume}}]
    then: {declare: [{need: shine}]}
    because: x
    sources: [{own: true, note: test}]
  - id: b
    title: B
    kind: derive
    when: [{not: {fact: need, name: shine}}]
    then: {declare: [{need: volume}]}
    because: x
    sources: [{own: true, note: test}]
"""
    assert "cycle" in str(load_error(rule_folder, rules))


def test_rules_may_only_conclude_derived_facts(rule_folder):
    text = GOOD.format(id="d").replace("advise: Some advice.", "advise: x\n  declare: [{fact: hair, type: wavy}]")
    assert "only conclude derived facts" in str(load_error(rule_folder, text))


def test_stratum_puts_negations_after_what_they_negate(rule_folder):
    folder = rule_folder({"r.yaml": """
rules:
  - id: derive-need
    title: D
    kind: derive
    when: [{fact: scalp, symptoms: {contains: flaking}}]
    then: {declare: [{need: scalp_hydration}]}
    because: x
    sources: [{own: true, note: test}]
  - id: no-need
    title: N
    kind: note
    when: [{not: {fact: need}}]
    then: {advise: nothing needed}
    because: x
    sources: [{own: true, note: test}]
"""})
    book = Rulebook.load(shipped=folder)
    assert book.by_id["no-need"].stratum > book.by_id["derive-need"].stratum


def test_shipped_rulebook_loads_and_has_a_fingerprint():
    book = Rulebook.load()
    assert len(book) >= 10
    assert book.fingerprint.startswith("sha256:") and len(book.fingerprint) == 71
    assert all(r.sources and r.because for r in book.rules)


def test_unknown_rule_id_suggests_close_matches():
    with pytest.raises(NotFoundError, match="did you mean hair-serum-not-on-scalp"):
        Rulebook.load().get("hair-serum-not-on-scap")

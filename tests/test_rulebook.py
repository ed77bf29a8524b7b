"""The rulebook loader rejects every malformed rule with file:line, and gathers all problems at once."""
import pytest

from haircare_expert.errors import NotFoundError, RuleErrors
from haircare_expert.knowledge.rulebook import Rulebook

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


@pytest.mark.parametrize("change, line, words, code", [
    (("type: curly", "colour: red"), 7, ["hair has no field 'colour'", "thickness"], "unknown-field"),
    (("fact: hair", "fact: hairdo"), 6, ["unknown fact type 'hairdo'"], "unknown-fact-type"),
    (("type: curly", "type: frizzy"), 7, ["'frizzy' is not a value", "straight"], "unknown-value"),
    (("type: curly", "type: {contains: curly}"), 7, ["contains applies only to list fields"], "load"),
    (("type: curly", "type: {gt: 3}"), 7, ["gt applies only to numbers"], "load"),
    (("type: curly", "type: {in: []}"), 7, ["non-empty list"], "load"),
    (("type: curly", "type: {like: curly}"), 7, ["unknown test 'like'"], "load"),
    (("kind: note", "kind: hint"), 4, ["kind 'hint'"], "load"),
    (("because: A reason.\n", ""), 2, ["missing 'because'"], "missing-because"),
    (("section: \"How to apply hair serum?\"", "section: \"Nope\""), 12, ["no section 'Nope'"], "unknown-section"),
    (("source: serum-vs-mask", "source: blog"), 12, ["unknown source 'blog'"], "unknown-source"),
    (("advise: Some advice.", "steps: [a]"), 9, ["needs then.advise"], "load"),
    (("then:", "than:"), 8, ["unknown key 'than'"], "load"),
])
def test_bad_rules_are_reported_with_file_and_line(rule_folder, change, line, words, code):
    text = GOOD.format(id="test-rule").replace(*change)
    error = load_error(rule_folder, text)
    problem = error.problems[0]
    assert problem.where.endswith(f"r.yaml:{line}"), problem.where
    assert problem.location.line == line and problem.location.path.endswith("r.yaml")
    assert (problem.code, problem.rule) == (code, "test-rule")
    for word in words:
        assert word in str(error)


def test_codes_and_rule_ids_are_data_not_read_back_from_the_words(rule_folder):
    """A rule whose id or text happens to contain words of another problem keeps its own code."""
    text = GOOD.format(id="variable-unknown-source").replace("then:", "than:")
    problem = load_error(rule_folder, text).problems[0]
    assert "rule variable-unknown-source: unknown key 'than'" in problem.what
    assert (problem.code, problem.rule) == ("load", "variable-unknown-source")


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


@pytest.mark.parametrize("change, words", [
    (("fact: hair", "fact: [a]"), ["unknown fact type"]),
    (("fact: hair", "fact: {a: 1}"), ["unknown fact type"]),
    (("source: serum-vs-mask", "source: [x]"), ["both text"]),
    (("type: curly", "type: curly\n  - fact: habits\n    washes_per_week: {lt: unknown}"), ["lt takes a whole number"]),
    (("advise: Some advice.", "advise: Some advice.\n  steps: ['step {{ m }}']"), ["?m is used in 'then'"]),
    (("advise: Some advice.", "advise: 'x {{ n '"), ["text 'x {{ n'", "unexpected end of template"]),
    (("advise: Some advice.", "advise: x\n  schedule: [{item: foo, order: late}]"), ["order must be a whole number"]),
    (("advise: Some advice.", "advise: x\n  declare: [{fact: [x]}]"), ["'fact' names a derived fact type"]),
])
def test_malformed_values_are_rule_errors_not_crashes(rule_folder, change, words):
    """Odd YAML types and template mistakes are caught when the rules load, with file:line."""
    error = load_error(rule_folder, GOOD.format(id="odd").replace(*change))
    assert all(p.where.rsplit(":", 1)[1].isdigit() for p in error.problems)
    for word in words:
        assert word in str(error)


def test_conflict_sources_must_be_a_list(rule_folder):
    text = GOOD.format(id="c") + "conflict: {topic: t, sources: serum-vs-mask, resolution: r}\n"
    error = load_error(rule_folder, text)
    assert len(error.problems) == 1 and "list of source ids" in str(error)


def test_a_catalogue_with_bad_sections_is_a_rule_error(rule_folder):
    folder = rule_folder({"r.yaml": GOOD.format(id="r")})
    (folder / "sources.yaml").write_text("sources:\n  - {id: [1], title: x}\n  - {id: ok, title: y, sections: 5}\n")
    with pytest.raises(RuleErrors) as info:
        Rulebook.load(shipped=folder)
    text = str(info.value.problems)
    assert "needs an id and a title" in text and "sections must be a list" in text


def test_the_fingerprint_does_not_depend_on_how_a_folder_is_spelled(rule_folder, monkeypatch):
    folder = rule_folder({"r.yaml": GOOD.format(id="r")})
    monkeypatch.chdir(folder.parent)
    assert Rulebook.load(shipped=folder).fingerprint == Rulebook.load(shipped="rules").fingerprint

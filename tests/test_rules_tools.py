"""The knowledge-base tools: lint finds each kind of rule problem, rule tests check examples and coverage, list/show inspect rules."""
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES

from haircare_expert.cli import main
from haircare_expert.consult.advisor import Advisor
from haircare_expert.errors import ExitCode
from haircare_expert.knowledge.analysis import (
    all_patterns,
    declared_by,
    derivation_rules,
    firings_of,
    rules_concluding,
)
from haircare_expert.knowledge.conditions import match_pattern
from haircare_expert.knowledge.lint import Analysis, lint, lint_rulebook, rule_info, rule_source
from haircare_expert.knowledge.questions import QuestionBook
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.knowledge.ruletest import run_tests

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOAD = FIXTURES / "bad_rules" / "load"
LOGIC = FIXTURES / "bad_rules" / "logic"
WRONG = FIXTURES / "bad_rules" / "wrong_example"
CHAIN = FIXTURES / "chain"
CHAIN_EXAMPLES = FIXTURES / "chain_examples"


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, prog_name="haircare")


def by_rule(report, code):
    return {f.rule: f for f in report.findings if f.code == code}


# -- the shipped knowledge base ---------------------------------------------------------------
def test_shipped_rules_lint_without_errors():
    report = lint()
    assert report.loaded and report.ok, "\n".join(map(str, report.errors))


def test_shipped_rule_examples_and_example_profiles_pass():
    report = run_tests(Advisor())
    failed = [f"{c.name} ({c.where}): {'; '.join(c.failures)}" for c in report.failed]
    assert report.ok, "\n".join(failed)
    assert any(c.name.startswith("example ") for c in report.cases), "the example profiles were not run"


def test_rules_test_command_passes_on_the_shipped_rules():
    result = run("rules", "test", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["failed"] == 0 and data["cases"] == data["passed"] > 0


# -- lint: problems the loader finds are listed, all of them, as errors --------------------------
@pytest.mark.parametrize("code, where, rule", [
    ("yaml", "broken.yaml:5", ""),
    ("unknown-field", "vocabulary.yaml:8", "unknown-field"),
    ("unknown-value", "vocabulary.yaml:18", "unknown-value"),
    ("unknown-fact-type", "vocabulary.yaml:27", "unknown-type"),
    ("missing-because", "metadata.yaml:3", "no-because"),
    ("missing-sources", "metadata.yaml:10", "no-sources"),
    ("unknown-source", "metadata.yaml:23", "unknown-source"),
    ("unknown-section", "metadata.yaml:31", "unknown-section"),
    ("duplicate-id", "metadata.yaml:41", "twice"),
])
def test_lint_lists_each_load_problem_with_file_and_line(code, where, rule):
    report = lint(shipped=LOAD, questions=None)
    assert not report.loaded and not report.ok
    hits = [f for f in report.errors if f.code == code]
    assert hits, [str(f) for f in report.findings]
    assert hits[0].where.endswith(where) and hits[0].rule == rule


def test_lint_command_reports_load_problems_instead_of_crashing():
    result = run("rules", "lint", "--rules", LOAD)
    assert result.exit_code == ExitCode.CHANGED, result.output
    assert "Traceback" not in result.output
    assert result.stdout.count("load/") >= 9 and "deeper checks skipped" in result.stdout
    data = json.loads(run("rules", "lint", "--rules", LOAD, "--format", "json").stdout)
    codes = {e["code"] for e in data["errors"]}
    assert {"yaml", "unknown-field", "duplicate-id", "missing-because", "unknown-section"} <= codes
    assert data["ok"] is False and data["loaded"] is False


# -- lint: rules that load but are wrong as knowledge -----------------------------------------
@pytest.fixture(scope="module")
def logic():
    return lint(shipped=LOGIC, questions=None)


@pytest.mark.parametrize("rule, words", [
    ("never-in-vs-eq", "only one hair fact"),
    ("never-in-vs-not-in", "type is none of"),
    ("never-empty-range", "runs from 0 to 14"),
    ("never-out-of-range", "runs from 0 to 21"),
    ("never-contains-clash", "includes none of itching"),
    ("never-derived", "'need: name is smoothing'"),
    ("dead-producer", "heat_styling_per_week is less than 0"),
    ("never-chain", "'need: name is volume'"),        # only a dead rule concludes it
    ("never-not-excludes", "excludes every scalp fact"),
])
def test_lint_finds_rules_that_can_never_fire(logic, rule, words):
    finding = by_rule(logic, "never-fires").get(rule)
    assert finding is not None and finding.severity == "error", [str(f) for f in logic.findings]
    assert words in finding.message
    assert finding.where.startswith(str(LOGIC / "never-fires.yaml"))


def random_profile(vocab, rng):
    """A random valid profile over the whole vocabulary (sections and fields sometimes left out)."""
    def value(spec):
        if rng.random() < 0.1:
            return "unknown"
        if spec.type == "choice":
            return rng.choice(spec.values)
        if spec.type == "set":
            return rng.sample(list(spec.values), rng.randint(0, 3))
        if spec.type == "int":
            return rng.randint(spec.min, min(spec.max, spec.min + 25))
        return rng.random() < 0.5

    def fields(ftype):
        return {n: value(s) for n, s in ftype.fields.items()
                if not s.generated and (s.required or rng.random() < 0.8)}
    profile = {}
    for ftype in vocab.types.values():
        if ftype.derived or rng.random() < 0.2:
            continue
        if ftype.list_field:
            profile[ftype.section] = value(ftype.fields[ftype.list_field])
        elif ftype.many:
            profile[ftype.section] = [fields(ftype) for _ in range(rng.randint(0, 3))]
        else:
            profile[ftype.section] = fields(ftype)
    return profile


def test_what_lint_calls_impossible_never_happens_on_random_profiles():
    """Soundness: lint only says "never" when it is sure, so no profile may contradict it."""
    book = Rulebook.load(shipped=LOGIC)
    analysis = Analysis(book)
    dead = {r.id for r in book.rules} - analysis.live
    dead_alternatives = {key for key in analysis.why if key[0] in analysis.live}
    assert len(dead) == 9 and dead_alternatives == {("dead-alternative", 1)}
    advisor, rng, fired = Advisor(book), random.Random(7), set()
    for _ in range(300):
        consultation = advisor.consult(random_profile(book.vocabulary, rng))
        assert not dead & consultation.fired_rules()
        assert not dead_alternatives & {(f.rule, f.variant) for f in consultation.trace}
        fired |= consultation.fired_rules()
    assert {"dead-alternative", "vacuous-not", "avoid-oil-fine-dry-hair"} <= fired   # the profiles do reach rules


def test_lint_warns_about_knowledge_that_changes_nothing(logic):
    assert "alternative 2 of 2" in by_rule(logic, "dead-alternative")["dead-alternative"].message
    assert "dead-alternative" not in by_rule(logic, "never-fires")
    assert "hair-state: state is dull" in by_rule(logic, "vacuous-not")["vacuous-not"].message
    assert "need (name: detangling)" in by_rule(logic, "unused-conclusion")["unused-need"].message
    assert "smoothing" in by_rule(logic, "unreachable-value")["never-derived"].message
    assert all(f.severity == "warning" for f in logic.findings
               if f.code in ("dead-alternative", "vacuous-not", "unused-conclusion", "unreachable-value"))


def test_lint_finds_opposite_advice(logic):
    found = [(f.severity, f.rule) for f in logic.findings if f.code == "opposite-advice"]
    # fine dry hair always also gets the hair-oil recommendation: an error
    assert ("error", "avoid-oil-fine-dry-hair") in found
    # an oily scalp and dry hair can come together: a warning
    assert ("warning", "avoid-oil-oily-scalp") in found
    # the serum recommendation leaves out the rash case itself: clean
    assert not [f for f in logic.findings if f.rule.startswith("ok-")], [str(f) for f in logic.findings]
    assert len(found) == 2


def test_lint_command_exits_1_on_knowledge_errors_and_0_on_warnings_only():
    result = run("rules", "lint", "--rules", LOGIC)
    assert result.exit_code == ExitCode.CHANGED, result.output
    errors, _, warnings = result.stdout.partition("Warnings (")
    assert "never-fires: rule never-empty-range" in errors and "dead-alternative" in warnings
    report = lint(shipped=CHAIN, questions=None)
    assert report.ok and report.warnings    # rare-note has no examples: a warning, not an error
    shipped = run("rules", "lint")
    assert shipped.exit_code == 0, shipped.output


def question_book(tmp_path, book, text):
    """A question file read by the interview's own QuestionBook (what lint reads too)."""
    path = tmp_path / "questions.yaml"
    path.write_text(text)
    return QuestionBook.load(book.vocabulary, path)


QUESTIONS = """\
client:
  - {ask: client.name, label: Client, text: Name?}
questions:
  - {ask: scalp.symptoms, label: Scalp, text: Symptoms?, choices: {flaking: flakes}}
  - {ask: habits.scalp_massage, label: Massage, text: Massage?, choices: {never: never}}
  - {ask: hair.type, label: Hair, text: Hair type?, choices: {curly: curly}}
"""


def test_lint_warns_about_questions_no_rule_depends_on(tmp_path):
    book = Rulebook.load(shipped=CHAIN)
    questions = question_book(tmp_path, book, QUESTIONS)
    unused = [f for f in lint_rulebook(book, questions) if f.code == "unused-question"]
    assert [f.message for f in unused] == ["no rule tests hair.type, so asking for it never changes the advice"]
    assert unused[0].location.line == 6 and unused[0].where.endswith("questions.yaml:6")
    assert not [f for f in lint_rulebook(book, None) if f.code == "unused-question"]


# -- rule tests ---------------------------------------------------------------------------------
def test_rule_tests_pass_on_a_correct_chain_and_measure_coverage():
    report = run_tests(Advisor(Rulebook.load(shipped=CHAIN)), examples=CHAIN_EXAMPLES)
    assert report.ok, [c.failures for c in report.failed]
    names = [c.name for c in report.cases]
    assert "scalp-is-dry fires[0]" in names and "example flaky.yaml" in names
    assert [(g.rule, g.note) for g in report.todo] == [("scalp-is-dry", "a scalp that is only itchy may be dry too")]
    cov = report.coverage
    assert cov.never_fired == ["rare-note"]
    assert cov.no_silent_case == ["dry-scalp-needs-hydration", "rare-note"]
    assert [(a["rule"], a["alternative"]) for a in cov.alternatives_never_taken] == [("scalp-is-dry", 2)]
    never = {(c["rule"], c["condition"]) for c in cov.conditions_never_deciding}
    # the silent cases show that flaking, tightness and the rash exclusion each matter ...
    assert ("scalp-is-dry", "scalp: symptoms includes flaking") not in never
    assert ("serum-for-hydration", "no scalp: symptoms includes rash") not in never
    # ... but no case shows a scalp state other than dry
    assert ("dry-scalp-needs-hydration", "scalp-state: state is dry") in never


def test_rule_tests_fail_on_a_wrong_example():
    report = run_tests(Advisor(Rulebook.load(shipped=WRONG)), include_examples=False)
    assert not report.ok
    failures = {c.name: c for c in report.failed}
    assert set(failures) == {"curly-hair-note fires[0]", "curly-hair-note silent[0]"}
    fires = failures["curly-hair-note fires[0]"]
    assert fires.where.endswith("wrong.yaml:13")
    assert "should fire but stayed silent" in fires.failures[0] and "type is curly" in fires.failures[0]
    assert "should stay silent but fired" in failures["curly-hair-note silent[0]"].failures[0]


def test_rules_test_command_exits_1_and_names_the_failing_case():
    result = run("rules", "test", "--rules", WRONG, "-q")
    assert result.exit_code == ExitCode.CHANGED, result.output
    assert "FAIL curly-hair-note fires[0]" in result.stdout and "wrong.yaml:13" in result.stdout
    assert "PASS" not in result.stdout
    assert "coily hair probably needs the same note" in result.stdout   # the todo is listed


def test_wrong_expectations_for_an_example_profile_fail(tmp_path):
    (tmp_path / "flaky.yaml").write_text((CHAIN_EXAMPLES / "flaky.yaml").read_text())
    (tmp_path / "expected.yaml").write_text(
        "flaky.yaml: {fires: [rare-note], silent: [serum-how-to, no-such-rule]}\nmissing.yaml: {fires: []}\n")
    report = run_tests(Advisor(Rulebook.load(shipped=CHAIN)), examples=tmp_path)
    failed = {c.name: c.failures for c in report.failed}
    assert set(failed) == {"example flaky.yaml", "example missing.yaml"}
    text = " | ".join(failed["example flaky.yaml"])
    assert "rare-note should fire" in text and "serum-how-to should stay silent" in text
    assert "no rule with id 'no-such-rule'" in text
    assert "no such example profile" in failed["example missing.yaml"][0]


def test_the_advice_an_example_must_open_with_is_checked(tmp_path):
    (tmp_path / "flaky.yaml").write_text((CHAIN_EXAMPLES / "flaky.yaml").read_text())
    advisor = Advisor(Rulebook.load(shipped=CHAIN))
    opening = advisor.consult_file(tmp_path / "flaky.yaml").advice[0].rule
    for first, passes in ((opening, True), ("rare-note", False)):
        (tmp_path / "expected.yaml").write_text(f"flaky.yaml: {{first: {first}}}\n")
        report = run_tests(advisor, examples=tmp_path, include_examples=True)
        failed = [c for c in report.failed if c.name == "example flaky.yaml"]
        assert (failed == []) is passes
    assert "should open with rare-note" in failed[0].failures[0]


def test_an_example_that_is_not_a_valid_profile_is_a_failed_case_not_a_crash(rule_folder):
    folder = rule_folder({"r.yaml": """
        id: bad-example
        title: A rule with a misspelt example
        kind: note
        when: [{fact: hair, type: curly}]
        then: {advise: Some advice.}
        because: A reason.
        sources: [{own: true, note: test}]
        examples:
          fires: [{hair: {type: curlyy}}]
        """})
    report = run_tests(Advisor(Rulebook.load(shipped=folder)), include_examples=False)
    assert [c.name for c in report.failed] == ["bad-example fires[0]"]
    assert "cannot be run" in report.failed[0].failures[0] and "curlyy" in report.failed[0].failures[0]


# -- list and show ------------------------------------------------------------------------------
def test_rules_show_prints_the_rule_as_written_and_how_it_links(tmp_path):
    book = Rulebook.load(shipped=CHAIN)
    info = rule_info(book, "serum-for-hydration", questions=None)
    assert info["text"].lstrip().startswith("- id: serum-for-hydration")
    assert "id: serum-how-to" not in info["text"]            # only this rule's block
    assert info["conditions"] == ["need: name is scalp_hydration", "no scalp: symptoms includes rash"]
    assert info["concludes"] == ["recommend: product scalp_serum"]
    assert info["used_by"] == ["serum-how-to"] and info["fed_by"] == ["dry-scalp-needs-hydration"]
    assert info["profile_fields"] == ["scalp.symptoms"]       # through the chain
    assert info["questions"] is None
    asked = rule_info(book, "serum-for-hydration", questions=question_book(tmp_path, book, QUESTIONS))
    assert asked["questions"] == ["scalp.symptoms"]
    assert rule_source(book.get("rare-note")).rstrip().endswith("section: Washing}]")


def test_rules_show_command(tmp_path):
    result = run("rules", "show", "salon-heat-protectant-reminder", "--rules", FIXTURES / "custom_rules")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "origin custom" in out and "heat_styling_per_week: {ge: 1}" in out
    assert "habits: heat_styling_per_week is at least 1" in out
    assert "Profile fields that feed it: habits.heat_styling_per_week" in out
    missing = run("rules", "show", "salon-heat-protectant-remindr", "--rules", FIXTURES / "custom_rules")
    assert missing.exit_code == ExitCode.NOT_FOUND and "did you mean salon-heat-protectant-reminder" in missing.stderr


def test_rules_list_filters_by_kind_and_tag():
    result = run("rules", "list", "--kind", "recommendation", "--format", "json",
                 "--rules", FIXTURES / "custom_rules")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rules"]
    assert rows and all(r["kind"] == "recommendation" for r in rows)
    salon = next(r for r in rows if r["id"] == "salon-heat-protectant-reminder")
    assert salon["origin"] == "custom" and salon["sources"] == ["salon-handbook"]
    text = run("rules", "list", "--tag", "no-such-tag").stdout
    assert text.startswith("0 of ")


TODO_RULE = """\
id: curly-hair-note
title: A note for curly hair
kind: note
when:
  - {fact: hair, type: curly}
then: {advise: Some advice.}
because: A reason.
sources: [{source: handbook, section: Styling}]
examples:
  fires: [{hair: {type: curly}}]
  todo:
    - a note with no case is listed only
    - {note: wavy hair should get it too, fires: {hair: {type: wavy}}}
    - {note: the gap is closed already, fires: {hair: {type: curly}}}
    - {note: coily hair should not, silent: {hair: {type: coily}}}
"""


def test_todo_cases_run_and_say_when_they_start_passing(tmp_path):
    (tmp_path / "sources.yaml").write_text((WRONG.parent.parent / "chain" / "sources.yaml").read_text())
    (tmp_path / "note.yaml").write_text(TODO_RULE)
    report = run_tests(Advisor(Rulebook.load(shipped=tmp_path)), include_examples=False)
    assert report.ok    # a todo never fails the tests
    assert [(g.note, g.expect, g.passes) for g in report.todo] == [
        ("a note with no case is listed only", "", None),
        ("wavy hair should get it too", "fires", False),
        ("the gap is closed already", "fires", True),
        ("coily hair should not", "silent", True)]
    assert [g.note for g in report.now_passing] == ["the gap is closed already", "coily hair should not"]
    result = run("rules", "test", "--rules", tmp_path, "-q")
    assert "the gap is closed already  (NOW PASSES: move its case to 'fires')" in result.stdout
    assert "wavy hair should get it too  (still not: its fires case fails)" in result.stdout


# -- the analysis core (shared by lint, the interview planner, explain and replay) ---------------
def test_the_rules_that_could_conclude_a_fact_never_miss_one_that_did(advisor):
    """Explain's "rules that could conclude it" and the planner's derive chains rest on this:
    for every pattern on a derived fact, the rule that really declared a matching fact is listed."""
    rules = advisor.rulebook.rules
    derived = [p for r in rules for p in all_patterns(r) if advisor.vocabulary.types[p.type].derived]
    checked = 0
    for path in EXAMPLES:
        consultation = advisor.consult_file(path)
        by = declared_by(consultation.trace)
        for fact in consultation.facts:
            if fact.id not in by:
                continue
            for pattern in derived:
                if match_pattern(pattern, fact, {}) is not None:
                    concluding = {r.id for r in rules_concluding(rules, pattern)}
                    assert {f.rule for f in by[fact.id]} <= concluding, (fact, pattern)
                    checked += 1
    assert checked > 100


def test_an_advice_line_s_derivation_runs_back_to_the_answers():
    """Replay blames an edited rule for a changed line when the rule is anywhere in its chain."""
    consultation = Advisor(Rulebook.load(shipped=CHAIN)).consult({"scalp": {"symptoms": ["flaking"]}})
    line = next(a for a in consultation.advice if a.rule == "serum-how-to")
    firings = firings_of(consultation.trace, line.rule, line.matched_facts)
    assert [f.rule for f in firings] == ["serum-how-to"]
    assert derivation_rules(consultation.trace, firings) == {
        "serum-how-to", "serum-for-hydration", "dry-scalp-needs-hydration", "scalp-is-dry"}

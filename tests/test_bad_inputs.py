"""Bad input through the real command line: every malformed profile, rule folder, interview
session, batch file and command-line argument in tests/bad_inputs gives exactly one ``Error:``
line on stderr and its documented exit code, never a traceback, never a stray output file, and
nothing in a file ever runs code."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from haircare_expert import yamlio
from haircare_expert.cli import main
from haircare_expert.errors import ExitCode

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
GOOD = ROOT / "facts" / "examples" / "dry-flaky-scalp.yaml"

#: What each case must say (a fragment of its one error line); the exit code is the folder's
#: unless listed in EXIT.
SAYS = {
    # profiles
    "empty.yaml": "the profile is empty",
    "only-comments.yaml": "the profile is empty",
    "not-yaml.yaml": "not-yaml.yaml:2: not valid YAML",
    "tab-indented.yaml": "not valid YAML",
    "scalar.yaml": "must be a mapping",
    "top-level-list.yaml": "must be a mapping",
    "unknown-section.yaml": "unknown section 'hairstyle'; allowed: client, hair",
    "unknown-field.yaml": "hair.colour: unknown field; allowed: type",
    "unknown-value.yaml": "hair.type: 'frizzy' is not allowed; allowed: straight",
    "unknown-concern.yaml": "'greasy' is not allowed",
    "int-as-text.yaml": "washes_per_week: expected a whole number",
    "int-as-bool.yaml": "washes_per_week: expected a whole number",
    "int-as-float.yaml": "washes_per_week: expected a whole number",
    "int-infinite.yaml": "washes_per_week: expected a whole number",
    "out-of-range-high.yaml": "15 is out of range; allowed: a whole number from 0 to 14",
    "out-of-range-negative.yaml": "-1 is out of range",
    "out-of-range-huge.yaml": "is out of range",
    "bool-as-text.yaml": "rinsed_out: expected true or false",
    "set-as-scalar.yaml": "concerns: expected a list",
    "set-as-mapping.yaml": "symptoms: expected a list",
    "section-as-scalar.yaml": "hair: expected a mapping",
    "goals-as-mapping.yaml": "goals: expected a list",
    "routine-as-mapping.yaml": "routine: expected a list",
    "routine-entry-as-scalar.yaml": "routine[0]: expected a mapping",
    "routine-entry-without-product.yaml": "routine[0]: product is required",
    "routine-generated-field.yaml": "routine[0].entry: unknown field",
    "client-unknown-field.yaml": "client.phone: unknown field",
    "client-bad-date.yaml": "is not a date",
    "client-impossible-date.yaml": "client-impossible-date.yaml: not valid YAML",
    "client-name-too-long.yaml": "longer than 200 characters",
    "null-key.yaml": "unknown section None",
    "complex-key.yaml": "a mapping key must be a plain value",
    "duplicate-section.yaml": "duplicate-section.yaml:3: not valid YAML: duplicate key 'hair'",
    "duplicate-field.yaml": "duplicate-field.yaml:3: not valid YAML: duplicate key 'type'",
    "two-documents.yaml": "not valid YAML",
    "yaml-bomb.yaml": "too large once aliases are expanded",
    "recursive-alias.yaml": "nested deeper than",
    "deeply-nested.yaml": "nested deeper than 20 levels",
    "deeply-nested-mapping.yaml": "nested deeper than 20 levels",
    "very-deeply-nested.yaml": "not valid YAML",
    "very-deeply-nested.json": "not valid JSON",
    "python-object.yaml": "could not determine a constructor for the tag",
    "python-object-in-field.yaml": "could not determine a constructor for the tag",
    "python-name.yaml": "could not determine a constructor for the tag",
    "binary-tag.yaml": "hair.type:",
    "set-tag.yaml": "concerns: expected a list",
    "not-utf8.yaml": "is not UTF-8 text",
    "utf16.yaml": "not YAML or JSON text",
    "binary.yaml": "is a binary file",
    "not-json.json": "not valid JSON",
    "json-duplicate-key.json": "duplicate key 'hair'",
    "json-array.json": "must be a mapping",
    "json-nan.json": "washes_per_week: expected a whole number",
    # rule folders
    "rules/not-yaml": "rule.yaml:3: not valid YAML",
    "rules/scalar": "a rule must be a mapping",
    "rules/rules-not-a-list": "'rules' must be a list",
    "rules/missing-fields": "missing 'because'",
    "rules/unknown-key": "rule.yaml:10: rule unknown-key: unknown key 'priority'",
    "rules/bad-id": "must be kebab-case",
    "rules/bad-kind": "kind 'tip' is not one of",
    "rules/salience-out-of-range": "salience must be a whole number",
    "rules/salience-as-text": "salience must be a whole number",
    "rules/unknown-fact-type": "unknown fact type 'hairs'",
    "rules/unknown-field": "hair has no field 'colour'",
    "rules/unknown-value": "'frizzy' is not a value of this field",
    "rules/unknown-test": "unknown test 'like'",
    "rules/number-test-on-text": "gt applies only to numbers",
    "rules/then-not-mapping": "'then' must be a mapping",
    "rules/declare-input-fact": "may only conclude derived facts",
    "rules/unknown-source": "unknown source 'my-blog'",
    "rules/schedule-out-of-range": "per_week must be between 0 and 7",
    "rules/unbound-variable": "?n is used in 'then' but not bound",
    "rules/variable-only-in-not": "variable ?p inside 'not' must be bound",
    "rules/any-with-one-alternative": "'any' takes a list of at least two",
    "rules/too-many-alternatives": "expands to 64 alternatives",
    "rules/nested-too-deep": "nested deeper than 20 levels",
    "rules/duplicate-id": "duplicate rule id 'twin'",
    "rules/duplicate-key": "duplicate key 'kind'",
    "rules/negation-cycle": "depend on their own negation through a cycle",
    "rules/python-object": "could not determine a constructor for the tag",
    "rules/python-object-in-text": "could not determine a constructor for the tag",
    "rules/template-escape-unbound": "?cycler is used in 'then' but not bound",
    "rules/template-escape-bound": "cannot be filled in",
    "rules/not-utf8": "is not UTF-8 text",
    "rules/binary": "is a binary file",
    "rules/yaml-bomb": "too large once aliases are expanded",
    "rules/conflict-incomplete": "conflict needs topic, sources",
    # sessions
    "sessions/empty.yaml": "not an interview session",
    "sessions/not-yaml.yaml": "not valid YAML",
    "sessions/a-profile-not-a-session.yaml": "not an interview session",
    "sessions/wrong-schema.yaml": "not an interview session",
    "sessions/unknown-key.yaml": "unknown key 'notes'",
    "sessions/bad-answer.yaml": "'frizzy' is not allowed",
    "sessions/answer-out-of-range.yaml": "40 is out of range",
    "sessions/interview-not-mapping.yaml": "interview: expected a mapping",
    "sessions/asked-unknown-key.yaml": "is not a question key",
    "sessions/asked-without-answer.yaml": "has no answer for it",
    "sessions/finished-not-bool.yaml": "expected true or false",
    "sessions/duplicate-key.yaml": "duplicate key 'profile'",
    "sessions/yaml-bomb.yaml": "too large once aliases are expanded",
    "sessions/python-object.yaml": "could not determine a constructor for the tag",
    "sessions/not-utf8.yaml": "is not UTF-8 text",
    "sessions/binary.yaml": "is a binary file",
    # batch files: the error names the first bad line
    "batch/bad-value-on-line-3.jsonl": "bad-value-on-line-3.jsonl:3: hair.type: 'frizzy'",
    "batch/not-json-on-line-2.jsonl": "not-json-on-line-2.jsonl:2: not a JSON profile",
    "batch/array-on-line-1.jsonl": "array-on-line-1.jsonl:1: a profile must be a mapping",
    "batch/not-utf8-on-line-2.jsonl": "not-utf8-on-line-2.jsonl:2: is not UTF-8 text",
    "batch/duplicate-key-on-line-2.jsonl": "duplicate-key-on-line-2.jsonl:2: not a JSON profile: duplicate key",
    "batch/binary-on-line-2.jsonl": "binary-on-line-2.jsonl:2:",
}
#: Exit codes that differ from the folder's (profiles, sessions, batch: 3; rules: 4).
EXIT = {"rules/template-escape-bound": ExitCode.ENGINE}


def cases(folder: str) -> list:
    params = []
    for path in sorted((CORPUS / folder).glob("*")):
        key = path.name if folder == "profiles" else f"{folder}/{path.name}"
        params.append(pytest.param(path, key, id=key))
    return params


def run_in(folder: Path, args: list, input: str | None = None):
    """Run ``haircare`` in ``folder`` (the working directory), like a user at a shell."""
    work = folder / "work"
    work.mkdir()
    with contextlib.chdir(work):
        result = CliRunner().invoke(main, [str(a) for a in args], input=input, prog_name="haircare")
    return result, sorted(p.name for p in work.iterdir())


def check_error(result, code: int, says: str | None) -> None:
    """One ``Error:`` line on stderr, the exit code, no traceback, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.stderr, result.exception)
    assert result.stderr.startswith("Error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    if says:
        assert says in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_the_corpus_has_at_least_fifty_cases_and_every_case_an_expectation():
    files = [p for p in CORPUS.rglob("*") if p.is_file()]
    assert len(files) >= 50
    keys = {p.name if p.parent.name == "profiles" else f"{p.parent.name}/{p.name}"
            for p in CORPUS.glob("*/*")}
    assert keys == set(SAYS), keys ^ set(SAYS)


@pytest.mark.parametrize("path, key", cases("profiles"))
def test_a_bad_profile_is_one_error_line_and_no_report(tmp_path, path, key):
    result, left = run_in(tmp_path, ["advise", path, "-o", "report.json"])
    check_error(result, ExitCode.PROFILE, SAYS[key])
    assert str(path) in result.stderr
    assert left == []


@pytest.mark.parametrize("path, key", cases("rules"))
def test_a_bad_rule_folder_is_one_error_line_and_no_report(tmp_path, path, key):
    result, left = run_in(tmp_path, ["advise", GOOD, "--rules", path, "-o", "report.json"])
    check_error(result, EXIT.get(key, ExitCode.RULES), SAYS[key])
    assert left == []


@pytest.mark.parametrize("path, key", cases("sessions"))
def test_a_bad_session_file_is_one_error_line_and_is_left_untouched(tmp_path, path, key):
    (tmp_path / "session.yaml").write_bytes(path.read_bytes())
    result, left = run_in(tmp_path, ["interview", "--resume", tmp_path / "session.yaml",
                                     "--save", "profile.yaml", "-o", "report.txt"], input="")
    check_error(result, ExitCode.PROFILE, SAYS[key])
    assert left == []
    assert (tmp_path / "session.yaml").read_bytes() == path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session.yaml", "work"]


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("path, key", cases("batch"))
def test_a_bad_batch_line_stops_with_its_line_number_and_no_output(tmp_path, path, key, jobs):
    result, left = run_in(tmp_path, ["batch", path, "-o", "out.jsonl", "--jobs", jobs])
    check_error(result, ExitCode.PROFILE, SAYS[key])
    assert left == []


def test_a_huge_profile_is_refused_before_it_is_parsed(tmp_path):
    huge = tmp_path / "huge.yaml"
    huge.write_text("hair: {type: curly}\n" + "# padding\n" * (yamlio.MAX_BYTES // 10 + 1))
    result, left = run_in(tmp_path, ["advise", huge, "-o", "report.json"])
    check_error(result, ExitCode.PROFILE, "file is larger than")
    assert left == []


def test_a_huge_rule_file_is_refused(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "huge.yaml").write_text("# padding\n" * (yamlio.MAX_BYTES // 10 + 1))
    result, left = run_in(tmp_path, ["advise", GOOD, "--rules", folder, "-o", "report.json"])
    check_error(result, ExitCode.RULES, "file is larger than")
    assert left == []


def test_a_huge_batch_line_is_refused_with_its_line_number(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"hair": {}}\n{"client": {"name": "' + "x" * (yamlio.MAX_BYTES + 10) + '"}}\n')
    result, left = run_in(tmp_path, ["batch", source, "-o", "out.jsonl"])
    check_error(result, ExitCode.PROFILE, "in.jsonl:2: line is longer than")
    assert left == []


def test_nothing_in_a_profile_rule_or_session_runs_code(tmp_path):
    """The !!python tags and the template escape all try to create PWNED in the working folder."""
    runs = [["advise", CORPUS / "profiles" / "python-object.yaml"],
            ["advise", CORPUS / "profiles" / "python-object-in-field.yaml"],
            ["advise", GOOD, "--rules", CORPUS / "rules" / "python-object"],
            ["advise", GOOD, "--rules", CORPUS / "rules" / "python-object-in-text"],
            ["advise", GOOD, "--rules", CORPUS / "rules" / "template-escape-unbound"],
            ["advise", GOOD, "--rules", CORPUS / "rules" / "template-escape-bound"]]
    for number, args in enumerate(runs):
        (tmp_path / str(number)).mkdir()
        result, left = run_in(tmp_path / str(number), args)
        assert result.exit_code in (ExitCode.PROFILE, ExitCode.RULES, ExitCode.ENGINE)
        assert "PWNED" not in left


def test_yaml_reading_uses_the_safe_constructor_only():
    """Safe construction whether the parser is PyYAML's Python one or libyaml's."""
    from yaml.constructor import FullConstructor, SafeConstructor
    assert issubclass(yamlio._Loader, SafeConstructor)
    assert not issubclass(yamlio._Loader, FullConstructor)   # Unsafe/Constructor derive from it


def test_rule_text_is_rendered_in_a_sandbox():
    from jinja2.sandbox import SandboxedEnvironment

    from haircare_expert.consult import advisor as consultation
    assert isinstance(consultation._TEXT_ENV, SandboxedEnvironment)


# -- command-line arguments --------------------------------------------------------------------
ARGS = [
    ("unknown command", ["advice", GOOD], ExitCode.USAGE, "No such command"),
    ("unknown option", ["advise", GOOD, "--colour"], ExitCode.USAGE, "--colour"),
    ("missing profile", ["advise"], ExitCode.USAGE, "PROFILE"),
    ("unknown format", ["advise", GOOD, "--format", "docx"], ExitCode.USAGE, "docx"),
    ("pdf to the terminal", ["advise", GOOD, "--format", "pdf"], ExitCode.USAGE, "-o"),
    ("profile is a folder", ["advise", ROOT / "facts"], ExitCode.USAGE, "directory"),
    ("profile does not exist", ["advise", "no-such-client.yaml"], ExitCode.NOT_FOUND, "no such file"),
    ("rules folder does not exist", ["advise", GOOD, "--rules", "no-such-folder"], ExitCode.USAGE, "no-such-folder"),
    ("rules folder is a file", ["advise", GOOD, "--rules", GOOD], ExitCode.USAGE, "is a file"),
    ("report into a missing folder", ["advise", GOOD, "-o", "no/such/folder/report.txt"], ExitCode.REPORT, "cannot write"),
    ("explain an unknown rule", ["explain", GOOD, "no-such-rule"], ExitCode.NOT_FOUND, "no-such-rule"),
    ("show an unknown rule", ["rules", "show", "no-such-rule"], ExitCode.NOT_FOUND, "no-such-rule"),
    ("resume a missing session", ["interview", "--resume", "no-such-session.yaml"], ExitCode.NOT_FOUND, "no such file"),
    ("resume and session together", ["interview", "--resume", "a.yaml", "--session", "b.yaml"], ExitCode.USAGE, "not both"),
    ("batch without output", ["batch", CORPUS / "batch" / "array-on-line-1.jsonl"], ExitCode.USAGE, "--output"),
    ("batch with no jobs", ["batch", GOOD, "-o", "out.jsonl", "--jobs", "0"], ExitCode.USAGE, "--jobs"),
    ("batch jobs not a number", ["batch", GOOD, "-o", "out.jsonl", "--jobs", "two"], ExitCode.USAGE, "--jobs"),
    ("batch input missing", ["batch", "no-such.jsonl", "-o", "out.jsonl"], ExitCode.NOT_FOUND, "no such file"),
    ("batch output into a missing folder", ["batch", CORPUS / "batch" / "bad-value-on-line-3.jsonl",
                                            "-o", "no/such/out.jsonl"], ExitCode.REPORT, "cannot write here"),
]


@pytest.mark.parametrize("args, code, says", [a[1:] for a in ARGS], ids=[a[0] for a in ARGS])
def test_bad_command_line_arguments_are_one_error_line(tmp_path, args, code, says):
    result, left = run_in(tmp_path, args, input="")
    check_error(result, code, says)
    assert left == []

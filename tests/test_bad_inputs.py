"""Bad input through the real command line: every malformed profile, rule folder, interview
session, batch file, audit record and command-line argument in tests/bad_inputs gives exactly
one ``Error:`` line on stderr and its documented exit code, never a traceback, never exit 70,
never a hang (each case runs under a time limit), never a stray or changed output file, and
nothing in a file ever runs code."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
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
    "lone-surrogate.json": "lone-surrogate.json:1: text holds a lone UTF-16 surrogate",
    "lone-surrogate.yaml": "lone-surrogate.yaml:2:",
    "huge-integer.json": "huge-integer.json:2: not valid JSON: a number is too long",
    "huge-integer.yaml": "huge-integer.yaml:2: not valid YAML: a number is too long",
    "huge-hex-integer.yaml": "huge-hex-integer.yaml:2: a number is too long",
    "control-character.yaml": "control-character.yaml:2: not valid YAML: character U+0007 not allowed",
    "escape-sequence.yaml": "escape-sequence.yaml:1: not valid YAML: character U+001B",
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
    "rules/template-escape-unbound": "rule.yaml:7: rule escape-unbound: text '{{ cycler.",
    "rules/template-escape-bound": "rule.yaml:7: rule escape-bound: text '{{ t.__class__",
    "rules/template-multiply": "rule.yaml:7: rule template-multiply: text \"{{ 'x' * 1000000000 }}\" in then.advise: '*' cannot be used",
    "rules/template-power": "'**' cannot be used",
    "rules/template-include": "{% include %} cannot be used",
    "rules/template-import": "{% import %} cannot be used",
    "rules/template-attribute": "reading an attribute ('.') cannot be used",
    "rules/template-loop": "{% for %} cannot be used",
    "rules/template-unknown-filter": "the filter 'wordwrap' cannot be used",
    "rules/template-long-replacement": "replace takes a non-empty text and a replacement of at most 10",
    "rules/upper-case-suffix": "RULE.YAML:10: rule upper-case-suffix: unknown key 'priority'",
    "rules/rule-in-subfolder": "hair/more/rule.yaml:10: rule rule-in-subfolder: unknown key",
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
    "batch/lone-surrogate-on-line-2.jsonl": "lone-surrogate-on-line-2.jsonl:2: text holds a lone UTF-16 surrogate",
    "batch/huge-integer-on-line-2.jsonl": "huge-integer-on-line-2.jsonl:2: not a JSON profile: a number is too long",
    # audit records (replay): a tampered record names the part that is wrong
    "records/array.json": "expected a JSON object",
    "records/not-json.json": "not valid JSON",
    "records/wrong-schema.json": "schema is 'haircare-advice/0'",
    "records/rule-hashes-missing.json": "'knowledge_base.rule_hashes' is missing",
    "records/facts-not-a-list.json": "'facts' is missing or not a list",
    "records/fact-without-fields.json": "facts[0] needs id, type, fields",
    "records/fact-field-holds-object.json": "facts[0] (f1).type: {} is not allowed",
    "records/matched-facts-a-number.json": "advice[0].matched_facts must be a list of texts",
    "records/matched-facts-hold-objects.json": "advice[0].matched_facts must be a list of texts",
    "records/steps-a-number.json": "advice[0].steps must be a list of texts",
    "records/trace-facts-hold-objects.json": "trace[0].facts must be a list of fact ids",
    "records/trace-declared-a-mapping.json": "trace[0] needs rule, facts and declared",
    "records/lone-surrogate.json": "lone-surrogate.json:1: text holds a lone UTF-16 surrogate",
}
#: Exit codes that differ from the folder's (profiles, sessions, batch, records: 3; rules: 4).
EXIT: dict[str, int] = {}
#: What an output file holds before a failing run: it must hold exactly this afterwards.
BEFORE = b"an earlier report\n"
#: No case may take longer than this (seconds): a hang fails the test instead of the suite.
LIMIT = 60


@pytest.fixture(autouse=True)
def time_limit():
    """Every test here runs under an alarm: a hang (a FIFO, a runaway template) fails it."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"a bad-input case took over {LIMIT} s (a hang)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cases(folder: str) -> list:
    params = []
    for path in sorted((CORPUS / folder).glob("*")):
        key = path.name if folder == "profiles" else f"{folder}/{path.name}"
        params.append(pytest.param(path, key, id=key))
    return params


def run_in(folder: Path, args: list, input: str | None = None, existing: tuple = ()):
    """Run ``haircare`` in ``folder`` (the working directory), like a user at a shell.

    Each name in ``existing`` is created first in the working directory, holding BEFORE.
    """
    work = folder / "work"
    work.mkdir()
    for name in existing:
        (work / name).write_bytes(BEFORE)
    with contextlib.chdir(work):
        result = CliRunner().invoke(main, [str(a) for a in args], input=input, prog_name="haircare")
    return result, sorted(p.name for p in work.iterdir())


def check_error(result, code: int, says: str | None) -> None:
    """One ``Error:`` line on stderr, the exit code, no traceback, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.stderr, result.exception)
    assert result.exit_code != ExitCode.INTERNAL
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


@pytest.mark.parametrize("path, key", cases("profiles"))
def test_a_bad_profile_leaves_an_existing_report_as_it_was(tmp_path, path, key):
    result, left = run_in(tmp_path, ["advise", path, "-o", "report.json"], existing=["report.json"])
    check_error(result, ExitCode.PROFILE, SAYS[key])
    assert left == ["report.json"]
    assert (tmp_path / "work" / "report.json").read_bytes() == BEFORE


@pytest.mark.parametrize("path, key", cases("rules"))
def test_a_bad_rule_folder_is_one_error_line_and_no_report(tmp_path, path, key):
    result, left = run_in(tmp_path, ["advise", GOOD, "--rules", path, "-o", "report.json"],
                          existing=["old.json"])
    check_error(result, EXIT.get(key, ExitCode.RULES), SAYS[key])
    assert left == ["old.json"]


@pytest.mark.parametrize("path, key", cases("rules"))
def test_lint_reports_a_bad_rule_folder_with_file_and_line(tmp_path, path, key):
    """What stops a consultation is an error in `rules lint` too, at the same place."""
    result, _ = run_in(tmp_path, ["rules", "lint", "--rules", path, "--format", "json"])
    assert result.exit_code == ExitCode.CHANGED, result.output
    report = json.loads(result.stdout)
    assert not report["ok"] and not report["loaded"]
    lines = "\n".join(f"{f['where']}: {f['message']}" for f in report["errors"])
    assert SAYS[key] in lines, lines


@pytest.mark.parametrize("path, key", cases("records"))
def test_a_tampered_audit_record_names_the_bad_part(tmp_path, path, key):
    result, left = run_in(tmp_path, ["replay", path])
    check_error(result, EXIT.get(key, ExitCode.PROFILE), SAYS[key])
    assert str(path) in result.stderr
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
    result, left = run_in(tmp_path, ["batch", path, "-o", "out.jsonl", "--jobs", jobs],
                          existing=["out.jsonl"])
    check_error(result, ExitCode.PROFILE, SAYS[key])
    assert left == ["out.jsonl"]
    assert (tmp_path / "work" / "out.jsonl").read_bytes() == BEFORE


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
            ["advise", GOOD, "--rules", CORPUS / "rules" / "template-escape-bound"],
            ["advise", GOOD, "--rules", CORPUS / "rules" / "template-include"],
            ["advise", GOOD, "--rules", CORPUS / "rules" / "template-import"]]
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
    assert isinstance(consultation._text_environment(), SandboxedEnvironment)
    assert consultation._text_template("{{ x }}").environment is consultation._text_environment()


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


# -- output paths: never destroy what is there -------------------------------------------------
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
as_root = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def batch_input(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"hair": {"type": "curly"}}\n{"hair": {"type": "straight"}}\n')
    return path


def _writers(batch_input):
    return {"advise": ["advise", GOOD, "-o"], "batch": ["batch", batch_input, "-o"],
            "compare": ["compare", "hair_serum", "hair_mask", "-o"]}


@pytest.mark.parametrize("command", ["advise", "batch", "compare"])
def test_output_onto_a_symbolic_link_is_refused_and_both_are_untouched(tmp_path, batch_input, command):
    target = tmp_path / "precious.txt"
    target.write_bytes(BEFORE)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    result, _ = run_in(tmp_path, [*_writers(batch_input)[command], link])
    check_error(result, ExitCode.REPORT, "is a symbolic link, not a regular file; not replaced")
    assert link.is_symlink() and target.read_bytes() == BEFORE


@needs_fifo
@pytest.mark.parametrize("command", ["advise", "batch", "compare"])
def test_output_onto_a_fifo_is_refused_without_waiting_for_a_reader(tmp_path, batch_input, command):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result, _ = run_in(tmp_path, [*_writers(batch_input)[command], fifo])
    check_error(result, ExitCode.REPORT, "is a FIFO, not a regular file")
    assert fifo.is_fifo()


@pytest.mark.parametrize("command", ["advise", "batch", "compare"])
def test_output_onto_a_read_only_file_is_refused_and_it_is_untouched(tmp_path, batch_input, command):
    """Even for root, whom permissions do not stop: read-only means 'do not replace'."""
    target = tmp_path / "kept.txt"
    target.write_bytes(BEFORE)
    target.chmod(0o444)
    result, _ = run_in(tmp_path, [*_writers(batch_input)[command], target])
    check_error(result, ExitCode.REPORT, "is read-only; not replaced")
    assert target.read_bytes() == BEFORE and target.stat().st_mode & 0o777 == 0o444


@pytest.mark.parametrize("name", ["-", "/dev/stdout"])
def test_dash_and_dev_stdout_as_output_mean_standard_output(tmp_path, batch_input, name):
    result, left = run_in(tmp_path, ["advise", GOOD, "--format", "json", "-o", name])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "haircare-advice/1" and left == []
    result, left = run_in(tmp_path / "work", ["batch", batch_input, "-o", name])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["schema"] for line in result.stdout.splitlines()] == ["haircare-advice/1"] * 2
    assert "written to stdout" in result.stderr and left == []


@pytest.mark.parametrize("spelling", ["same", "dotted", "hard-link", "symlinked-folder"])
@pytest.mark.parametrize("command", ["advise", "batch"])
def test_an_output_naming_the_input_file_is_refused_before_anything_runs(tmp_path, command, spelling):
    source = tmp_path / ("client.yaml" if command == "advise" else "in.jsonl")
    source.write_text(GOOD.read_text() if command == "advise" else '{"hair": {"type": "curly"}}\n')
    before = source.read_bytes()
    output = {"same": source, "dotted": tmp_path / "." / source.name,
              "hard-link": tmp_path / "alias", "symlinked-folder": tmp_path / "via" / source.name}[spelling]
    if spelling == "hard-link":
        os.link(source, output)
    if spelling == "symlinked-folder":
        (tmp_path / "via").symlink_to(tmp_path)
    result, left = run_in(tmp_path, [command, source, "-o", output])
    check_error(result, ExitCode.USAGE, "file; it would be overwritten")
    assert source.read_bytes() == before and left == []


def test_two_outputs_naming_one_file_are_refused(tmp_path):
    """The reusable check the interview's --save/--session/-o use too."""
    from haircare_expert.atomic import same_file_clash
    out = tmp_path / "a.txt"
    assert "--save and -o name the same file" in same_file_clash(
        [("PROFILE", tmp_path / "p.yaml")], [("--save", out), ("-o", tmp_path / "." / "a.txt")])
    assert same_file_clash([("PROFILE", tmp_path / "p.yaml")], [("-o", out), ("--save", tmp_path / "b")]) is None
    assert same_file_clash([("PROFILE", "-")], [("-o", "-")]) is None    # stdout is not a file


@needs_fifo
@pytest.mark.parametrize("command", ["advise", "batch", "replay", "trace"])
def test_a_fifo_as_input_is_refused_not_waited_for(tmp_path, command):
    fifo = tmp_path / "client.yaml"
    os.mkfifo(fifo)
    args = [command, fifo] + (["-o", "out.jsonl"] if command == "batch" else [])
    result, left = run_in(tmp_path, args)
    check_error(result, ExitCode.NOT_FOUND, "is a FIFO (named pipe), not a regular file")
    assert left == []


@pytest.mark.parametrize("command", ["advise", "batch", "replay"])
def test_a_folder_as_input_is_a_usage_error(tmp_path, command):
    args = [command, tmp_path] + (["-o", "out.jsonl"] if command == "batch" else [])
    result, left = run_in(tmp_path, args)
    check_error(result, ExitCode.USAGE, "is a directory")
    assert left == []


@pytest.mark.skipif(as_root or sys.platform == "win32", reason="root reads any file")
def test_an_unreadable_input_is_a_usage_error(tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text(GOOD.read_text())
    secret.chmod(0)
    result, left = run_in(tmp_path, ["advise", secret, "-o", "report.txt"])
    check_error(result, ExitCode.USAGE, "is not readable")
    assert left == []


def test_an_error_line_escapes_newlines_and_terminal_controls_in_names(tmp_path):
    """A file name cannot forge a second error line or drive the terminal."""
    forged = tmp_path / "ana\nError: all fine\x1b[2J.yaml"
    forged.write_text("hair: {type: frizzy}\n")
    result, _ = run_in(tmp_path, ["advise", forged])
    check_error(result, ExitCode.PROFILE, "ana\\nError: all fine\\x1b[2J.yaml:1: hair.type")


# -- rule folders: every rule file loaded or reported ------------------------------------------
def _bad_rule() -> str:
    return (CORPUS / "rules" / "unknown-key" / "rule.yaml").read_text()


def test_a_symlinked_rule_subfolder_is_loaded(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rule.yaml").write_text(_bad_rule())
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)   # must not loop forever
    result, _ = run_in(tmp_path, ["advise", GOOD, "--rules", folder])
    check_error(result, ExitCode.RULES, "linked/rule.yaml:10: rule unknown-key: unknown key 'priority'")


def test_a_broken_link_in_a_rule_folder_is_reported(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "gone.yaml").symlink_to(tmp_path / "deleted.yaml")
    result, _ = run_in(tmp_path, ["advise", GOOD, "--rules", folder])
    check_error(result, ExitCode.RULES, "gone.yaml: broken symbolic link in a rules folder")


@needs_fifo
def test_a_fifo_in_a_rule_folder_is_reported_not_waited_for(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    os.mkfifo(folder / "rule.yaml")
    result, _ = run_in(tmp_path, ["advise", GOOD, "--rules", folder])
    check_error(result, ExitCode.RULES, "rule.yaml: rule file is a FIFO (named pipe), not a regular file")


@pytest.mark.skipif(as_root or sys.platform == "win32", reason="root reads any folder")
def test_an_unreadable_rule_subfolder_is_reported(tmp_path):
    folder = tmp_path / "rules"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "rule.yaml").write_text(_bad_rule())
    (folder / "locked").chmod(0)
    try:
        result, _ = run_in(tmp_path, ["advise", GOOD, "--rules", folder])
    finally:
        (folder / "locked").chmod(0o755)
    check_error(result, ExitCode.RULES, "locked: rules folder cannot be read")


def test_hidden_folders_and_files_are_not_rules(tmp_path):
    """A rule folder kept in git: .git/ and .pre-commit-config.yaml are not rules."""
    folder = tmp_path / "rules"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "config.yaml").write_text("not: [a rule\n")
    (folder / ".pre-commit-config.yaml").write_text("repos: []\n")
    result, _ = run_in(tmp_path, ["advise", GOOD, "--rules", folder, "--format", "json"])
    assert result.exit_code == 0, result.stderr


# -- rule text: bounded when filled in ---------------------------------------------------------
def test_a_rule_text_stops_at_the_length_cap_as_it_renders():
    """The load-time limits keep honest texts short; the cap stops whatever gets past them."""
    from jinja2.sandbox import SandboxedEnvironment

    from haircare_expert.errors import EngineError
    from haircare_expert.knowledge.rulebook import Rule
    from haircare_expert.knowledge.ruletext import MAX_TEXT, fill
    rule = Rule(id="long", title="t", kind="note", when=(), because="b", sources=[], file="r.yaml", line=3)
    template = SandboxedEnvironment().from_string("{{ n }}{{ n }}")
    assert fill(rule, template, {"n": "x" * 10}) == "x" * 20
    with pytest.raises(EngineError, match=f"r.yaml:3: rule long: its text is longer than {MAX_TEXT}"):
        fill(rule, template, {"n": "x" * MAX_TEXT})


def test_the_shipped_rule_texts_pass_the_load_time_check(advisor):
    """Whatever the shipped rules fill in (names, if/else, filters) stays allowed by the load-time check."""
    from haircare_expert.knowledge import ruletext
    texts = [t for r in advisor.rulebook.rules for t in (r.advise, *r.steps) if "{" in t]
    assert texts
    assert [t for t in texts if ruletext.problem(t)] == []


@pytest.mark.parametrize("text, says", [
    ("{{ t | upper | lower | title | trim }}", "more than 3 filters"),
    ("{{ t | replace('', '-') }}", "replace takes a non-empty text"),
    ("{{ t | default(t) }}", "takes quoted values only"),
    ("{{ t | default('a', true) }}", "takes 1 argument"),
    ("{{ t ~ t }}", "'~' cannot be used"),
    ("{{ t if t == 10000000 }}", "the constant 10000000 cannot be used"),
    ("{% set t = 'x' %}{{ t }}", "{% set %} cannot be used"),
    ("{{ t[0] }}", "indexing"),
    ("{{ " + "t " * 0 + "'" + "y" * 300 + "' }}", "a quoted text longer than 200 characters"),
    ("{{ t }} " + "x" * 6000, "at most 5000 characters"),
])
def test_rule_text_beyond_names_filters_and_if_is_refused_at_load(rule_folder, text, says):
    from haircare_expert.errors import RuleErrors
    from haircare_expert.knowledge.rulebook import Rulebook
    folder = rule_folder({"r.yaml": (CORPUS / "rules" / "template-power" / "rule.yaml").read_text()
                          .replace("{{ 9**(9**9) }}", text.replace('"', '\\"'))})
    with pytest.raises(RuleErrors) as caught:
        Rulebook.load(shipped=folder)
    assert caught.value.where.endswith("r.yaml:7") and says in caught.value.what, caught.value.what


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_device_is_never_a_report_target():
    """Checked without a command: were the check to break, a run would replace /dev/null."""
    from haircare_expert.atomic import check_target
    from haircare_expert.errors import ReportError
    with pytest.raises(ReportError, match="/dev/null: is a device, not a regular file; not replaced"):
        check_target("/dev/null")

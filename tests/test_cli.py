"""The command line: the JSON contract, reports to files, and one-line errors with documented exit codes."""
import json
import subprocess
import sys
from importlib.metadata import version

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT

from haircare_expert.cli import main
from haircare_expert.errors import ExitCode

EXAMPLE = ROOT / "facts" / "examples" / "dry-flaky-scalp.yaml"


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, prog_name="haircare")


def test_advise_json_follows_the_contract():
    result = run("advise", EXAMPLE, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["schema", "client", "knowledge_base", "advice", "schedule", "wash_day_order",
                          "plan", "conflicts", "facts", "trace"]
    assert data["schema"] == "haircare-advice/1"
    assert data["client"] == {"name": "Ana Example", "consultant": "Sam Adviser", "date": "2026-11-22"}
    kb = data["knowledge_base"]
    assert kb["fingerprint"].startswith("sha256:") and kb["rules"] == len(kb["rule_hashes"]) and kb["version"]
    assert list(data["schedule"]) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    fact_ids = {f["id"] for f in data["facts"]}
    for item in data["advice"]:
        assert set(item) == {"rule", "kind", "title", "text", "steps", "because", "sources", "matched_facts", "fired"}
        assert item["sources"] and item["because"]
        assert set(item["matched_facts"]) <= fact_ids
    for fact in data["facts"]:
        assert set(fact) == {"id", "type", "fields", "origin"}
        assert fact["origin"].startswith(("profile:", "rule:"))
    for step in data["trace"]:
        assert set(step) == {"seq", "rule", "facts", "bindings", "declared"}
    kinds = [a["kind"] for a in data["advice"]]
    order = ["referral", "warning", "recommendation", "how-to", "schedule", "note"]
    assert kinds == sorted(kinds, key=order.index)


def test_advise_writes_the_named_file_with_the_format_of_its_extension(tmp_path):
    out = tmp_path / "advice.json"
    result = run("advise", EXAMPLE, "-o", out)
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(out.read_text())["schema"] == "haircare-advice/1"
    txt = tmp_path / "advice.txt"
    assert run("advise", EXAMPLE, "-o", txt).exit_code == 0
    assert "Ana Example" in txt.read_text() and "not a medical diagnosis" in txt.read_text()


@pytest.mark.parametrize("content, code, words", [
    (None, ExitCode.NOT_FOUND, ["missing.yaml", "no such file"]),
    ("hair: {type: frizzy}\n", ExitCode.PROFILE, ["bad.yaml:1", "hair.type", "'frizzy'", "straight"]),
    ("hair: [\n", ExitCode.PROFILE, ["bad.yaml", "not valid YAML"]),
])
def test_errors_are_one_line_with_a_documented_code_and_no_output_file(tmp_path, content, code, words):
    profile = tmp_path / ("missing.yaml" if content is None else "bad.yaml")
    if content is not None:
        profile.write_text(content)
    out = tmp_path / "report.json"
    result = run("advise", profile, "-o", out)
    assert result.exit_code == code
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == ([profile] if content is not None else [])


def test_a_bad_rules_folder_is_reported_with_file_and_line(tmp_path):
    (tmp_path / "mine.yaml").write_text("id: mine\ntitle: t\nkind: note\nwhen: [{fact: hair, colour: red}]\n"
                                        "then: {advise: x}\nbecause: x\nsources: [{own: true, note: t}]\n")
    result = run("advise", EXAMPLE, "--rules", tmp_path)
    assert result.exit_code == ExitCode.RULES
    assert f"{tmp_path / 'mine.yaml'}:4" in result.stderr and "colour" in result.stderr


def test_version_matches_the_installed_distribution():
    result = run("--version")
    assert result.exit_code == 0 and version("haircare-expert") in result.stdout


@pytest.mark.parametrize("command", [[], ["advise"]])
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


def test_python_dash_m_runs_from_another_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "haircare_expert", "advise", str(EXAMPLES[0]), "--format", "txt"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0 and "YOUR HAIR AND SCALP CARE PLAN" in result.stdout


@pytest.mark.parametrize("args", [["advise"], ["nope"], ["advise", "x.yaml", "--format", "doc"]])
def test_usage_errors_are_one_line_with_exit_code_2(args):
    result = run(*args)
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr.startswith("Error: haircare") and result.stderr.count("\n") == 1
    assert "--help" in result.stderr


def _commands(group, prefix=()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,)
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + (name,))


@pytest.mark.parametrize("command", list(_commands(main)), ids=" ".join)
def test_every_subcommand_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.stdout


@pytest.mark.parametrize("args", [[], ["rules"]])
def test_a_group_alone_prints_its_help_not_an_error(args):
    result = run(*args)
    assert result.exit_code == 0 and "Usage:" in result.stdout and result.stderr == ""


def test_a_closed_pipe_is_not_a_failure(tmp_path):
    """`haircare rules list | head -1` exits 0, with no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "haircare_expert", "rules", "list"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()   # before the command writes: its first write meets a closed pipe
    assert proc.wait() == 0
    assert b"Traceback" not in proc.stderr.read()


def test_empty_entries_in_the_rules_variable_are_ignored(tmp_path):
    result = run("advise", EXAMPLE, "--format", "json", env={"HAIRCARE_RULES": f"{tmp_path}:"})
    assert result.exit_code == 0, result.stderr


def test_an_empty_rule_id_still_gives_a_where_and_a_what():
    result = run("explain", EXAMPLE, "")
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stderr.startswith("Error: (empty): no rule with this id")


def test_errors_survive_a_process_boundary():
    import pickle

    from haircare_expert.errors import ProfileError, RuleError, RuleErrors
    error = pickle.loads(pickle.dumps(ProfileError("p.yaml:3", "bad")))
    assert (type(error), error.where, error.what) == (ProfileError, "p.yaml:3", "bad")
    many = pickle.loads(pickle.dumps(RuleErrors([RuleError("a:1", "x"), RuleError("b:2", "y")])))
    assert [p.where for p in many.problems] == ["a:1", "b:2"]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_traceback_on_request_shows_where_then_the_one_error_line(how):
    """`haircare --traceback ...` (as the README says) or HAIRCARE_TRACEBACK=1."""
    args = ["--traceback"] if how == "option" else []
    env = {"HAIRCARE_TRACEBACK": "1"} if how == "environment" else {"HAIRCARE_TRACEBACK": ""}
    result = run(*args, "advise", "missing.yaml", env=env)
    assert result.exit_code == ExitCode.NOT_FOUND
    assert result.stderr.startswith("Traceback (most recent call last)")
    assert result.stderr.splitlines()[-1] == "Error: missing.yaml: no such file"


@pytest.mark.parametrize("raised, code, line", [
    (RuntimeError("boom"), ExitCode.INTERNAL, "Error: internal error: RuntimeError: boom (run with --traceback to see where)"),
    (KeyboardInterrupt(), ExitCode.INTERRUPTED, "Error: interrupted"),
    ("terminated", ExitCode.TERMINATED, "Error: terminated"),
])
def test_a_bug_an_interrupt_and_sigterm_are_one_line_with_their_code(monkeypatch, raised, code, line):
    from haircare_expert.consult.advisor import Advisor
    from haircare_expert.errors import Terminated

    def fail(self, path):
        raise Terminated() if raised == "terminated" else raised
    monkeypatch.setattr(Advisor, "consult_file", fail)
    result = run("advise", EXAMPLE, env={"HAIRCARE_TRACEBACK": ""})
    assert result.exit_code == code
    assert result.stderr == line + "\n"


def test_sigterm_is_handled_only_while_a_command_runs():
    """The CLI installs its SIGTERM handler for the command and puts the previous one back."""
    import signal
    before = signal.getsignal(signal.SIGTERM)
    assert run("rules", "list").exit_code == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_readme_exit_code_table_lists_every_code_the_commands_use():
    import re
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("### Exit codes", 1)[1]
    table = {int(code) for code in re.findall(r"^\| (\d+) \|", text.split("\n\n", 2)[1], flags=re.M)}
    assert table == {int(code) for code in ExitCode}

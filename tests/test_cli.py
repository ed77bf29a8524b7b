"""The command line: the JSON contract, reports to files, and one-line errors with documented exit codes."""
import json
import subprocess
import sys
from importlib.metadata import version

import pytest
from click.testing import CliRunner
from conftest import EXAMPLES, ROOT, advise_json_in_fresh_process

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
    import click
    ctx = click.Context(group)
    for name in group.list_commands(ctx):     # the lazily loaded commands too
        command = group.get_command(ctx, name)
        yield prefix + (name,)
        if hasattr(command, "commands"):
            yield from _commands(command, prefix + (name,))


def test_the_table_of_lazily_loaded_commands_is_whole():
    """Every command a module registers is reachable by name and listed in `haircare --help`,
    although `haircare X` imports only X's module."""
    import importlib
    import pkgutil

    from haircare_expert import cli
    for info in pkgutil.iter_modules(cli.__path__):
        importlib.import_module(f"haircare_expert.cli.{info.name}")
    assert {name: command.callback.__module__ for name, command in main.commands.items()} == cli.COMMANDS
    assert len(list(_commands(main))) > len(cli.COMMANDS)     # the groups' subcommands are found


def test_a_cold_advise_loads_neither_the_interview_nor_the_store_nor_the_web_app(tmp_path):
    """`haircare advise --format json` starts without importing the other commands' stacks (the
    interview, the records store and SQLAlchemy, the web app, the report templates' views) or
    importlib.metadata: a cold start pays only for what it runs."""
    stdout, loaded = advise_json_in_fresh_process(EXAMPLE, tmp_path)
    assert json.loads(stdout)["schema"] == "haircare-advice/1"
    assert "haircare_expert.cli.advise" in loaded
    unwanted = {"haircare_expert.cli.interview", "haircare_expert.cli.records", "haircare_expert.cli.audit",
                "haircare_expert.cli.rules", "haircare_expert.cli.serve", "haircare_expert.store",
                "haircare_expert.web", "haircare_expert.render.handout", "haircare_expert.render.view",
                "sqlalchemy", "flask", "importlib.metadata", "jsonschema"}
    assert loaded & unwanted == set()


def test_a_json_advice_with_no_values_to_fill_in_starts_without_jinja(tmp_path):
    """`haircare advise --format json` imports Jinja only to fill client values into rule text:
    a client whose advice has none (this example) starts without it, and gets the same JSON as
    through the library."""
    example = ROOT / "facts" / "examples" / "curls-serum-wash-days.yaml"
    stdout, loaded = advise_json_in_fresh_process(example, tmp_path)
    assert "jinja2" not in loaded
    assert stdout == run("advise", example, "--format", "json").stdout


def _console(*args, code="", **kwargs):
    """`haircare ARGS` through the console script's entry point (``cli.run``), after ``code``."""
    script = f"import sys\n{code}\nfrom haircare_expert.cli import run\nsys.argv[1:] = {[str(a) for a in args]!r}\nrun()\n"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, **kwargs)


def test_the_console_script_exits_with_the_command_s_code_and_loses_no_output(tmp_path):
    """The quick exit of `haircare` (no interpreter teardown) flushes everything first and keeps
    every exit code: a ~50 KB JSON on a pipe, an -o file, a usage error, a missing file."""
    whole = _console("advise", EXAMPLE, "--format", "json", cwd=tmp_path)
    assert whole.returncode == 0 and whole.stderr == b""
    assert whole.stdout.decode() == run("advise", EXAMPLE, "--format", "json").stdout
    out = tmp_path / "a.json"
    written = _console("advise", EXAMPLE, "-o", out, cwd=tmp_path)
    assert written.returncode == 0 and written.stdout == b""
    assert out.read_text(encoding="utf-8") == whole.stdout.decode()
    usage = _console("advise", cwd=tmp_path)
    assert usage.returncode == ExitCode.USAGE and usage.stderr.decode().startswith("Error: haircare advise")
    missing = _console("advise", "missing.yaml", cwd=tmp_path)
    assert (missing.returncode, missing.stderr) == (ExitCode.NOT_FOUND, b"Error: missing.yaml: no such file\n")
    version_only = _console("--version", cwd=tmp_path)
    assert version_only.returncode == 0 and version_only.stdout.startswith(b"haircare, version ")


def test_the_console_script_still_runs_exit_functions_after_the_output(tmp_path):
    """What Python does on its way out still happens: a function registered with atexit runs,
    after the command's output."""
    done = _console("--version", code="import atexit\natexit.register(lambda: print('exit function ran'))",
                    cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.decode().splitlines() == [f"haircare, version {version('haircare-expert')}",
                                                 "exit function ran"]


def test_the_console_script_waits_for_a_thread_still_working(tmp_path):
    """A (non-daemon) thread still running when the command ends finishes its work, as Python
    would let it."""
    flag = tmp_path / "thread-done"
    code = ("import threading, time\ndef late():\n    time.sleep(0.3)\n"
            f"    open({str(flag)!r}, 'w').close()\nthreading.Thread(target=late).start()")
    done = _console("--version", code=code, cwd=tmp_path)
    assert done.returncode == 0 and flag.exists()


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

    from haircare_expert.errors import Location, ProfileError, RuleError, RuleErrors
    error = pickle.loads(pickle.dumps(ProfileError("p.yaml:3", "bad")))
    assert (type(error), error.where, error.what) == (ProfileError, "p.yaml:3", "bad")
    many = pickle.loads(pickle.dumps(RuleErrors([RuleError(Location("a", 1), "x", code="yaml", rule="r"),
                                                 RuleError("b:2", "y")])))
    assert [p.where for p in many.problems] == ["a:1", "b:2"]
    assert (many.problems[0].location, many.code, many.rule) == (Location("a", 1), "yaml", "r")


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


def test_a_profiler_still_gets_to_write_its_results(tmp_path):
    """`python -m cProfile -o FILE -m haircare_expert ...` writes FILE: the quick exit steps
    aside while a profiler is running."""
    stats = tmp_path / "haircare.prof"
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "haircare_expert",
                           "--version"], capture_output=True, cwd=tmp_path)
    assert done.returncode == 0 and stats.stat().st_size > 0


def test_the_collector_is_back_on_once_the_rules_are_compiled():
    """The CLI compiles the rules with the garbage collector paused, and turns it back on after
    (a long-lived command such as `serve` or `interview` collects as usual); a program that had
    turned it off keeps it off."""
    import gc

    from haircare_expert.cli import base
    assert gc.isenabled()
    assert base.advisor().rulebook is base.rulebook()
    assert gc.isenabled()
    gc.disable()
    try:
        base.advisor(())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_console_script_freezes_the_compiled_rules_and_keeps_the_collector_on(tmp_path):
    """`haircare advise` keeps the collector off the rules it compiled (frozen, as long-lived
    commands do) and on for everything else; the JSON is unchanged."""
    code = "import atexit, gc\natexit.register(lambda: print(gc.get_freeze_count(), gc.isenabled(), file=sys.stderr))"
    done = _console("advise", EXAMPLE, "--format", "json", code=code, cwd=tmp_path)
    frozen, enabled = done.stderr.decode().split()
    assert done.returncode == 0 and int(frozen) > 10_000 and enabled == "True"
    assert done.stdout.decode() == run("advise", EXAMPLE, "--format", "json").stdout

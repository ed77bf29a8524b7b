"""README.md starts a newcomer with exactly two commands, and CI runs the second one verbatim."""
import re

from conftest import ROOT


def commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.split("## Start here", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", start, flags=re.S)


def test_readme_has_a_run_command_and_a_test_command():
    run, test = commands()
    assert "pip install ." in run and "haircare advise facts/examples/" in run
    assert 'pip install ".[test]"' in test and "pytest" in test
    example = run.split("haircare advise ", 1)[1].split()[0]
    assert (ROOT / example).is_file()


def test_ci_runs_the_readme_test_command_verbatim():
    assert commands()[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")

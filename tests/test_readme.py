"""README.md starts a newcomer with exactly two commands, and CI runs the second one verbatim."""
import re
from pathlib import Path

import pytest
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


def test_the_readme_rule_example_is_a_valid_rule_whose_examples_pass(tmp_path):
    """A rule author copying the README's example gets a rule that loads and behaves as shown."""
    from haircare_expert.consult.advisor import Advisor
    from haircare_expert.knowledge.ruletest import run_tests

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### Writing rules", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "mine.yaml").write_text("rules:\n" + block.replace("hair-serum-not-on-scalp", "readme-rule"))
    report = run_tests(Advisor(extra_rules=(str(tmp_path),)), include_examples=False)
    mine = [case for case in report.cases if case.rule == "readme-rule"]
    assert len(mine) == 2 and all(case.passed for case in mine)


def test_the_code_passes_ruff_check():
    """CI's style gate: `ruff check` (ruff.toml) is clean over the package, tests, benchmarks and scripts."""
    import shutil
    import subprocess
    import sys
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    done = subprocess.run([ruff, "check", "--no-cache", "haircare_expert", "tests", "benchmarks", "scripts"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr

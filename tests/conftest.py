"""Shared fixtures: the shipped knowledge base compiled once, and tiny rule folders for tests."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import pytest

from haircare_expert.consult.advisor import Advisor
from haircare_expert.knowledge.rulebook import Rulebook

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "facts" / "examples").glob("*.yaml"))
SOURCES = (resources.files("haircare_expert.rules") / "sources.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def _rule_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rule-cache")


@pytest.fixture(autouse=True)
def _records_db(tmp_path_factory, monkeypatch, _rule_cache):
    """Every test keeps its client records in a database of its own, never the user's, and the
    compiled-rules cache in the test run's own folder, never the user's cache directory."""
    folder = tmp_path_factory.mktemp("records")
    monkeypatch.setenv("HAIRCARE_DB", str(folder / "records.sqlite3"))
    monkeypatch.setenv("HAIRCARE_CACHE_DIR", str(_rule_cache))


@pytest.fixture(scope="session")
def advisor() -> Advisor:
    return Advisor()


@pytest.fixture
def rule_folder(tmp_path):
    """Write rule files into a fresh folder that holds the source catalogue; return the folder."""
    def make(files: dict[str, str], with_sources: bool = True) -> Path:
        folder = tmp_path / "rules"
        folder.mkdir(exist_ok=True)
        if with_sources:
            (folder / "sources.yaml").write_text(SOURCES, encoding="utf-8")
        for name, text in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return folder
    return make


@pytest.fixture
def mini_advisor(rule_folder):
    """An Advisor over only the given rule files (the shipped rules left out)."""
    def make(**files: str) -> Advisor:
        folder = rule_folder({f"{name.replace('_', '-')}.yaml": text for name, text in files.items()})
        return Advisor(Rulebook.load(shipped=folder))
    return make


def fired(consultation) -> list[str]:
    return [firing.rule for firing in consultation.trace]


_LIST_MODULES = ("import sys\nfrom haircare_expert.cli import main\ntry:\n    main(sys.argv[1:])\n"
                 "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
                 "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)")


def advise_json_in_fresh_process(example: Path, cwd: Path) -> tuple[str, set[str]]:
    """``haircare advise EXAMPLE --format json`` in a new interpreter: its output and the names
    of the modules it had loaded by the end (for tests of what a cold start imports)."""
    done = subprocess.run([sys.executable, "-c", _LIST_MODULES, "advise", str(example), "--format", "json"],
                          capture_output=True, text=True, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout, set(done.stderr.split())

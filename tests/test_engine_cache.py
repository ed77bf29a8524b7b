"""The compiled-rulebook cache: a second start reads the rules back instead of parsing them,
any rule edit is seen, and an entry this user's haircare did not write is never unpickled."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from haircare_expert.knowledge import cache
from haircare_expert.knowledge.rulebook import Rulebook

RULE = """
rules:
  - id: custom-note
    title: T
    kind: note
    when: [{fact: hair, type: curly}]
    then: {advise: "%s"}
    because: x
    sources: [{own: true, note: test}]
"""


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "cache"


def entries(folder):
    return sorted(folder.glob("rulebook-*.bin"))


def test_the_second_load_comes_from_the_cache_and_equals_a_fresh_load(folder, monkeypatch):
    """A cold start reads the same rulebook back without parsing the rule files again."""
    first = cache.load_rulebook(folder=folder)
    assert len(entries(folder)) == 1
    assert oct((folder / "key").stat().st_mode & 0o777) == "0o600"

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed the rule files again")

    monkeypatch.setattr(Rulebook, "load", no_parsing)
    second = cache.load_rulebook(folder=folder)
    assert second.summary() == first.summary()
    assert [(r.id, r.when, r.advise, r.stratum) for r in second.rules] == [(r.id, r.when, r.advise, r.stratum) for r in first.rules]


def test_an_edited_rule_file_is_a_new_entry(folder, rule_folder):
    """Editing a custom rule is seen on the next start (the key covers every rule file's text)."""
    custom = rule_folder({"note.yaml": RULE % "first words"}, with_sources=False)
    assert cache.load_rulebook([str(custom)], folder=folder).get("custom-note").advise == "first words"
    (custom / "note.yaml").write_text(RULE % "second words", encoding="utf-8")
    assert cache.load_rulebook([str(custom)], folder=folder).get("custom-note").advise == "second words"
    assert len(entries(folder)) == 2


class _Planted:
    """What an attacker would plant: unpickling it creates a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_an_entry_not_signed_with_this_users_key_is_never_unpickled(folder, tmp_path):
    """A pickle planted in the cache directory (code execution if loaded) is ignored and replaced."""
    cache.load_rulebook(folder=folder)
    entry, = entries(folder)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(marker))
    for mac in (b"\0" * 32, cache._mac(os.urandom(32), entry.stem[len("rulebook-"):], payload)):
        entry.write_bytes(cache._MAGIC + mac + payload)
        rulebook = cache.load_rulebook(folder=folder)
        assert not marker.exists()
        assert isinstance(rulebook, Rulebook) and len(rulebook) > 10
    assert entry.read_bytes().startswith(cache._MAGIC) and pickle.dumps(_Planted(marker)) not in entry.read_bytes()


def test_a_key_others_can_read_turns_the_cache_off(folder):
    """With a secret other users could read, nothing is read from or written to the cache."""
    folder.mkdir()
    (folder / "key").write_bytes(os.urandom(32))
    os.chmod(folder / "key", 0o644)
    assert len(cache.load_rulebook(folder=folder)) > 10
    assert entries(folder) == []


def test_the_cache_can_be_switched_off(monkeypatch, tmp_path):
    """HAIRCARE_CACHE_DIR=off loads without touching any cache directory."""
    monkeypatch.setenv("HAIRCARE_CACHE_DIR", "off")
    assert cache.directory() is None
    monkeypatch.setenv("HAIRCARE_CACHE_DIR", str(tmp_path / "c"))
    assert len(cache.load_rulebook()) > 10
    assert len(entries(tmp_path / "c")) == 1


def test_an_edit_to_the_code_that_builds_the_rulebook_is_another_key(tmp_path, monkeypatch):
    """A developer who changes a rule class within one version never gets yesterday's pickled rulebook."""
    from haircare_expert.knowledge import rule as rule_module
    before = cache._key(())
    edited = tmp_path / "rule.py"
    edited.write_bytes(Path(rule_module.__file__).read_bytes() + b"\n# an edited class\n")
    files = cache.code_files()
    original = Path(rule_module.__file__).resolve()
    assert original in files
    monkeypatch.setattr(cache, "code_files", lambda: [edited if p == original else p for p in files])
    assert before is not None and cache._key(()) not in (None, before)


def test_the_key_covers_the_code_of_every_class_in_a_cached_rulebook(folder):
    """An edit to any class a cached rulebook holds (or to the code that reads the rules) is a
    new key, so a start never unpickles objects of an older shape."""
    import io

    cache.load_rulebook(folder=folder)
    payload = entries(folder)[0].read_bytes()[len(cache._MAGIC) + cache._DIGEST:]
    modules = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            modules.add(module)
            return super().find_class(module, name)

    Recording(io.BytesIO(payload)).load()
    hashed = {p.resolve() for p in cache.code_files()}
    ours = {m for m in modules if m.split(".")[0] == "haircare_expert"}
    assert ours and {Path(__import__(m, fromlist=["_"]).__file__).resolve() for m in ours} <= hashed
    assert modules - ours <= {"builtins", "copyreg", "collections", "enum", "pathlib", "re"}


@pytest.mark.parametrize("env", [{}, {"XDG_CACHE_HOME": "/tmp/xdg-cache/"}, {"XDG_CACHE_HOME": "relative/cache"},
                                 {"XDG_CACHE_HOME": "", "HOME": "/home/someone/"}, {"HOME": "/"}])
def test_the_cache_directory_is_where_platformdirs_puts_it(monkeypatch, env):
    """The cache lives in the user's cache directory as platformdirs names it (XDG_CACHE_HOME,
    else ~/.cache), whether or not the quick path that skips importing platformdirs applies."""
    import platformdirs
    monkeypatch.delenv("HAIRCARE_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cache.directory() == Path(platformdirs.user_cache_dir("haircare-expert", appauthor=False))


def test_the_code_files_are_every_file_the_patterns_name():
    """The key hashes every module and schema the patterns of CODE name (listed without glob)."""
    package = Path(cache.__file__).resolve().parent.parent
    assert cache.code_files() == sorted(p for pattern in cache.CODE for p in package.glob(pattern))
    assert package / "knowledge" / "rule.py" in cache.code_files()


def test_the_shipped_data_folders_are_the_ones_importlib_resources_finds():
    """Rules, facts and report templates are read from the installed package's own folders."""
    from importlib import resources

    from haircare_expert import yamlio
    for folder in ("rules", "facts", "reports"):
        assert yamlio.package_files(folder) == resources.files(f"haircare_expert.{folder}")

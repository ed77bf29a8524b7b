"""A cache of loaded rulebooks in the user's cache directory, keyed by what they were loaded
from, and never read back without checking it was written by this user.

Loading the rules (parsing the YAML, checking every rule against the vocabulary) is about a
fifth of a cold ``haircare advise``; reading the loaded rulebook back is ~20 times cheaper.
:func:`load_rulebook` is ``Rulebook.load`` with that cache in front:

* the key is a SHA-256 of everything the loaded rulebook depends on: the Python version, the
  source of the modules that read, check and define what is pickled (:data:`CODE`: every
  module of ``haircare_expert.knowledge``, ``yamlio``, ``errors``, ``model`` and the JSON
  schemas), the vocabulary file, and every rule file's place and text, read as
  ``Rulebook.load`` reads them (so any edit to a rule file, an added or removed file or another
  folder is another key; the rulebook's own fingerprint is computed from the same texts). The
  code is hashed rather than the package version: it catches an edit within one version too,
  and costs a cold start far less than looking the version up (``importlib.metadata``);
* an entry is a pickle, and unpickling runs code: so each entry carries an HMAC-SHA256 of its
  key and contents under a secret of 32 random bytes kept in the cache directory, readable by
  this user only (mode 0600, checked before use). An entry that anyone else wrote or changed
  fails the check and is ignored (and replaced); nothing is unpickled before the check passes;
* anything unusual (no cache directory, a read-only disk, a key file with loose permissions, a
  rule folder the loader would complain about) falls back to a plain ``Rulebook.load``, which
  raises the loader's own errors. The cache never changes what is loaded, only how fast.

``HAIRCARE_CACHE_DIR`` overrides the directory (``platformdirs.user_cache_dir``); ``off``
disables the cache.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from haircare_expert.knowledge.rulebook import Rulebook

_MAGIC = b"haircare-rulebook-cache/1\n"
_DIGEST = 32


def directory() -> Path | None:
    """The cache directory (None when the cache is off)."""
    chosen = os.environ.get("HAIRCARE_CACHE_DIR")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    plain = _xdg_cache_home()
    if plain is not None:
        return Path(plain, "haircare-expert")
    import platformdirs
    return Path(platformdirs.user_cache_dir("haircare-expert", appauthor=False))


def _xdg_cache_home() -> str | None:
    """The XDG cache home on plain Linux, in the cases every platformdirs version (>= 3) agrees
    on: ``$XDG_CACHE_HOME`` when it is an absolute path, else ``$HOME/.cache`` when it is unset
    and ``$HOME`` is absolute; None otherwise (Android, other systems, anything unusual), and
    platformdirs answers. Importing platformdirs costs a cold start ~6 ms."""
    env = os.environ
    if sys.platform != "linux" or hasattr(sys, "getandroidapilevel") or "ANDROID_DATA" in env:
        return None
    xdg, home = env.get("XDG_CACHE_HOME", ""), env.get("HOME", "")
    if xdg:
        return xdg if os.path.isabs(xdg) else None
    return os.path.join(home, ".cache") if os.path.isabs(home) else None


def load_rulebook(extra: Iterable[str | Path] = (), folder: Path | None = None) -> Rulebook:
    """``Rulebook.load(extra)``, from the cache when a verified entry for the same files is
    there; a fresh load is stored for next time (best effort)."""
    extra = tuple(extra)
    folder = folder if folder is not None else directory()
    try:
        key = _key(extra) if folder is not None else None
        secret = _secret(folder) if key else None
    except Exception:   # the cache must never be why loading fails: load as if there were none
        key = secret = None
    if not key or not secret:
        return Rulebook.load(extra)
    path = folder / f"rulebook-{key}.bin"
    cached = _read(path, key, secret)
    if cached is not None:
        return cached
    rulebook = Rulebook.load(extra)
    _write(path, key, secret, rulebook)
    return rulebook


def _key(extra: tuple) -> str | None:
    """What the loaded rulebook depends on, hashed; None when the loader would find problems
    reading the folders (it then reports them itself)."""
    from haircare_expert import yamlio
    from haircare_expert.knowledge import rulebook as loader

    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{pickle.HIGHEST_PROTOCOL}\0".encode())
    for path in code_files():
        # the code that builds and defines what is pickled: an edited class is another key, even
        # within one version (a development checkout)
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update((yamlio.package_files("facts") / "vocabulary.yaml").read_bytes() + b"\0")
    problems: list = []
    folders = [loader._read_folder(None, "rules", problems)]
    for name in extra:
        if not Path(name).is_dir():
            return None
        folders.append(loader._read_folder(Path(name), str(name), problems))
    if problems:
        return None
    for index, (label, files) in enumerate(folders):
        digest.update(f"folder {index}: {label}\0".encode())
        for name, text in files:
            digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


#: The code a loaded rulebook depends on, relative to the package: what reads the rule files,
#: checks them and defines the objects pickled (tests/test_engine_cache.py checks that every
#: class in a pickled rulebook comes from one of these).
CODE = ("knowledge/*.py", "knowledge/schemas/*.json", "yamlio.py", "errors.py", "model.py")


def code_files() -> list[Path]:
    """The files of :data:`CODE`, in a stable order."""
    package = Path(__file__).resolve().parent.parent
    found = []
    for pattern in CODE:    # listed by hand: Path.glob compiles a regex for each pattern
        folder, _, name = pattern.rpartition("/")
        if name.startswith("*"):
            found.extend(package / folder / n for n in os.listdir(package / folder) if n.endswith(name[1:]))
        elif (package / pattern).exists():
            found.append(package / pattern)
    return sorted(found)


def _secret(folder: Path) -> bytes | None:
    """This user's HMAC key, made on first use; None when it is not safe to use (not ours, or
    others may read or change it)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / "key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            return None
        secret = handle.read()
    return secret if len(secret) == 32 else None


def _mac(secret: bytes, key: str, payload: bytes) -> bytes:
    return hmac.new(secret, key.encode() + b"\0" + payload, hashlib.sha256).digest()


def _read(path: Path, key: str, secret: bytes) -> Rulebook | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = len(_MAGIC)
    if not data.startswith(_MAGIC) or len(data) < head + _DIGEST:
        return None
    mac, payload = data[head:head + _DIGEST], data[head + _DIGEST:]
    if not hmac.compare_digest(mac, _mac(secret, key, payload)):
        return None     # not written by this user's haircare: never unpickled
    try:
        rulebook = pickle.loads(payload)
    except Exception:
        return None
    return rulebook if isinstance(rulebook, Rulebook) else None


def _write(path: Path, key: str, secret: bytes, rulebook: Rulebook) -> None:
    for rule in rulebook.rules:     # worked out once, stored with the rule
        rule.variants()
        _ = rule.content_hash
    try:
        payload = pickle.dumps(rulebook, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(_MAGIC + _mac(secret, key, payload) + payload)
        os.replace(temp, path)
    except OSError:
        try:
            temp.unlink()
        except OSError:
            pass
        return
    _prune(path.parent)


#: Entries kept: the newest few (one per rule-folder combination in use).
KEEP = 8


def _prune(folder: Path) -> None:
    """Remove all but the :data:`KEEP` newest entries, and temporary files a killed run left."""
    try:
        entries = sorted(folder.glob("rulebook-*.bin"), key=lambda p: p.stat().st_mtime, reverse=True)
        stale = [p for p in folder.glob(".rulebook-*.tmp") if p.stat().st_mtime < time.time() - 3600]
        for old in entries[KEEP:] + stale:
            old.unlink()
    except OSError:
        pass

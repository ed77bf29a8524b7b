"""The web app's guards: the password (a salted scrypt hash), login attempts, CSRF tokens, the
host binding rule and the response headers. No Flask request handling here, so each piece is
tested on its own.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections import deque

from haircare_expert.errors import ExitCode, HaircareError, NotFoundError

#: The environment variables ``haircare serve`` reads a password from.
PASSWORD_ENV = "HAIRCARE_PASSWORD"
PASSWORD_FILE_ENV = "HAIRCARE_PASSWORD_FILE"
#: The format of a password file's one line: ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``.
HASH_SCHEME = "scrypt"
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}

#: Content-Security-Policy of every page: scripts and styles from the app only, nothing inline.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
#: The handout and record are documents with their own embedded print CSS: styles may be inline
#: there, scripts still may not run at all.
DOCUMENT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


class SecurityError(HaircareError):
    """Raised when the server would start unsafely (an open host without a password) or a
    password file is unusable."""

    exit_code = ExitCode.USAGE


# -- the password ----------------------------------------------------------------------------------
def hash_password(password: str, salt: bytes | None = None) -> str:
    """A salted scrypt hash of ``password``, as the one line a password file holds."""
    if not password:
        raise SecurityError("password", "the password is empty")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)
    b64 = base64.b64encode
    return (f"{HASH_SCHEME}${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$"
            f"{b64(salt).decode()}${b64(digest).decode()}")


def check_hash(line: str, where: str = "password hash") -> str:
    """``line`` if it is a hash this module wrote; SecurityError naming ``where`` otherwise."""
    line = line.strip()
    parts = line.split("$")
    try:
        ok = (len(parts) == 6 and parts[0] == HASH_SCHEME and all(int(p) > 0 for p in parts[1:4])
              and base64.b64decode(parts[4], validate=True) and base64.b64decode(parts[5], validate=True))
    except ValueError:
        ok = False
    if not ok:
        raise SecurityError(where, "not a password hash; make one with 'haircare serve --hash-password'")
    return line


def verify_password(password: str, line: str) -> bool:
    """Whether ``password`` matches the hash line (constant-time comparison)."""
    _, n, r, p, salt, digest = line.split("$")
    got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                         p=int(p), maxmem=64 * 1024 * 1024)
    return hmac.compare_digest(got, base64.b64decode(digest))


def password_hash_from(env: dict | None = None, path: str | None = None) -> str | None:
    """The password hash to log in with: from ``path`` (a password file), else the file named
    by $HAIRCARE_PASSWORD_FILE, else $HAIRCARE_PASSWORD (hashed here, never kept in clear);
    None when no password is set."""
    env = os.environ if env is None else env
    path = path or env.get(PASSWORD_FILE_ENV) or None
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as exc:
            raise NotFoundError(path, f"cannot read the password file: {exc.strerror or exc}") from None
        return check_hash(text, path)
    if env.get(PASSWORD_ENV):
        return hash_password(env[PASSWORD_ENV])
    return None


# -- where the server listens --------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_binding(host: str, password_hash: str | None) -> None:
    """Refuse (SecurityError) to listen beyond this machine without a password: client records
    are personal data."""
    if not is_loopback(host) and not password_hash:
        raise SecurityError(f"--host {host}", "other machines could reach the client records; set a "
                            f"password first (${PASSWORD_ENV}, or a file from 'haircare serve "
                            f"--hash-password' named by --password-file or ${PASSWORD_FILE_ENV})")


# -- login attempts ------------------------------------------------------------------------------
class AttemptLimiter:
    """At most ``limit`` failed logins per address within ``window`` seconds."""

    def __init__(self, limit: int = 5, window: float = 300.0, clock=time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, who: str) -> deque:
        now = self.clock()
        failures = self._failures.setdefault(who, deque())
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def blocked_for(self, who: str) -> int:
        """Seconds until ``who`` may try again (0: now)."""
        with self._lock:
            failures = self._recent(who)
            if len(failures) < self.limit:
                return 0
            return max(1, int(self.window - (self.clock() - failures[0])) + 1)

    def failed(self, who: str) -> None:
        with self._lock:
            self._recent(who).append(self.clock())

    def succeeded(self, who: str) -> None:
        with self._lock:
            self._failures.pop(who, None)


# -- CSRF ----------------------------------------------------------------------------------------
def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given), str(expected))

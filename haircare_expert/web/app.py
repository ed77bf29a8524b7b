"""The Flask application factory: configuration, the guards every request passes, error pages.

``create_app(config)`` takes a mapping (all keys optional):

``DB_URL``         the records store (default: the store's own default, $HAIRCARE_DB or a file)
``STORE``          an open store to use instead (tests)
``RULES_DIRS``     the consultant's own rule folders, as ``--rules``
``PASSWORD_HASH``  a hash line from :func:`~haircare_expert.web.security.hash_password`; when set,
                   every page but the login page needs the password
``SECRET_KEY``     signs the session cookie (default: random per process)
``LOGIN_LIMIT``    failed logins allowed per address per ``LOGIN_WINDOW`` seconds (5 per 300)
"""
from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException

from haircare_expert.errors import HaircareError, NotFoundError, ProfileError
from haircare_expert.web import security

log = logging.getLogger("haircare_expert.web")

#: HTTP status of each kind of library error shown on the error page.
_STATUS = {"NotFoundError": 404, "ProfileError": 400, "StoreConflictError": 409}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """A ready web app over the records store and the compiled knowledge base."""
    config = dict(config or {})
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.urandom(32),
        SESSION_COOKIE_NAME="haircare_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PROPAGATE_EXCEPTIONS=False,
        TRAP_HTTP_EXCEPTIONS=False,
        MAX_CONTENT_LENGTH=64 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
        PASSWORD_HASH=None,
        LOGIN_LIMIT=5,
        LOGIN_WINDOW=300,
        RULES_DIRS=(),
        DB_URL=None,
    )
    app.config.update(config)
    if app.config["PASSWORD_HASH"]:
        app.config["PASSWORD_HASH"] = security.check_hash(app.config["PASSWORD_HASH"])
    app.jinja_env.undefined = __import__("jinja2").StrictUndefined
    app.extensions["haircare_limiter"] = security.AttemptLimiter(app.config["LOGIN_LIMIT"],
                                                                 app.config["LOGIN_WINDOW"])
    app.extensions["haircare_desk"] = _desk(app.config)

    from haircare_expert.web import views
    app.register_blueprint(views.bp)
    _guards(app)
    _errors(app)
    return app


def _desk(config):
    from haircare_expert.consult.advisor import shared_advisor
    from haircare_expert.web.desk import Desk
    store = config.get("STORE")
    if store is None:
        from haircare_expert.store import Store
        store = Store.open(config.get("DB_URL"))
    return Desk(store, shared_advisor(config.get("RULES_DIRS") or ()), tuple(config.get("RULES_DIRS") or ()))


def desk():
    """The desk of the app handling this request."""
    from flask import current_app
    return current_app.extensions["haircare_desk"]


# -- guards ----------------------------------------------------------------------------------------
def csrf_token() -> str:
    """The session's CSRF token (made on first use); every form posts it back."""
    if "csrf" not in session:
        session["csrf"] = security.new_token()
    return session["csrf"]


def safe_next(target: str | None) -> str:
    """A redirect target on this site only (a path), else the start page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.start")


def _same_site_path(url: str | None) -> str | None:
    """The path of ``url`` on this site, to offer as a way back (None for the start page)."""
    path = safe_next(urlsplit(url).path) if url else None
    return path if path and path != url_for("web.start") else None


def _guards(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _login_and_csrf():
        g.document = False
        if request.endpoint == "static":
            return None
        if app.config["PASSWORD_HASH"] and not session.get("signed_in") and request.endpoint != "web.login":
            if request.method == "GET":
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            return _page_error(401, "sign in", "please sign in first"), 401
        if request.method == "POST" and not security.same_token(request.form.get("csrf_token"), session.get("csrf")):
            log.warning("refused a form without a valid CSRF token: %s %s", request.method, request.path)
            return render_template("error.html", status=400, where="form",
                                   what="this form has expired (the server was restarted, or it was "
                                        "sent from elsewhere); nothing was changed. Go back, reload "
                                        "the page and send it again.",
                                   retry=_same_site_path(request.referrer)), 400
        return None

    @app.after_request
    def _headers(response):
        document = getattr(g, "document", False)
        response.headers["Content-Security-Policy"] = security.DOCUMENT_CSP if document else security.CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN" if document else "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"   # client data stays off disk caches
        return response


# -- errors ----------------------------------------------------------------------------------------
def _page_error(status: int, where: str, what: str):
    return render_template("error.html", status=status, where=where, what=what, retry=None)


def _errors(app: Flask) -> None:
    @app.errorhandler(HaircareError)
    def _library_error(exc: HaircareError):
        status = _STATUS.get(type(exc).__name__, 500)
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, ProfileError):
            status = 400
        log.log(logging.ERROR if status >= 500 else logging.WARNING, "Error: %s (%s %s)", exc,
                request.method, request.path)
        g.document = False
        return _page_error(status, exc.where, exc.what), status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        g.document = False
        return _page_error(exc.code or 500, request.path, (exc.description or exc.name).rstrip(".")), exc.code

    @app.errorhandler(Exception)
    def _bug(exc: Exception):
        # a bug: the whole traceback goes to the log, never to the browser
        log.exception("internal error on %s %s", request.method, request.path)
        g.document = False
        return _page_error(500, "internal error", "something went wrong on the server; it has been "
                           "logged. The answers saved so far are safe: go back to the start page "
                           "and resume the consultation."), 500

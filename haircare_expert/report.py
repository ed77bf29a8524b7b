"""Reports: the consultation result written out through the Jinja templates in ``reports/``.

Formats: ``json`` (the contract, no template), ``txt``, ``md``, ``html`` and ``pdf`` (the HTML
printed by WeasyPrint, imported only when a PDF is asked for).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape

from .errors import ReportError
from .model import Consultation

FORMATS = ("json", "txt", "md", "html", "pdf")
_ENV: Environment | None = None


def environment() -> Environment:
    """The Jinja environment of the report templates (StrictUndefined; HTML autoescaped)."""
    global _ENV
    if _ENV is None:
        env = Environment(loader=PackageLoader("haircare_expert.reports", "."),
                          undefined=StrictUndefined, autoescape=select_autoescape(["html", "html.j2"]),
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.filters["words"] = lambda value: str(value).replace("_", " ")
        _ENV = env
    return _ENV


def format_for(path: str | Path | None, default: str = "txt") -> str:
    """The report format named by a file's extension (``report.html`` -> ``html``)."""
    if path is None:
        return default
    suffix = Path(str(path)).suffix.lower().lstrip(".")
    aliases = {"markdown": "md", "text": "txt", "htm": "html"}
    suffix = aliases.get(suffix, suffix)
    return suffix if suffix in FORMATS else default


def to_json(consultation: Consultation) -> str:
    """The contract JSON, byte-identical for the same input."""
    return json.dumps(consultation.to_json(), indent=2, ensure_ascii=False) + "\n"


def render(consultation: Consultation, fmt: str, context: dict | None = None) -> str | bytes:
    """Render a consultation in ``fmt``; PDF comes back as bytes, the rest as text."""
    if fmt not in FORMATS:
        raise ReportError(fmt, f"unknown report format; formats: {', '.join(FORMATS)}")
    if fmt == "json":
        return to_json(consultation)
    if fmt == "pdf":
        html = render(consultation, "html", context)
        return _pdf(html)
    from .view import report_view
    name = f"report.{fmt}.j2"
    try:
        template = environment().get_template(name)
        return template.render(**report_view(consultation), **(context or {}))
    except TemplateError as exc:
        where = getattr(exc, "filename", None) or name
        line = getattr(exc, "lineno", None)
        raise ReportError(f"reports/{Path(where).name}" + (f":{line}" if line else ""),
                          f"template error: {exc.message or exc}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ReportError(f"reports/{name}", f"template failed: {type(exc).__name__}: {exc}") from None


def _pdf(html: str) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ReportError("pdf", f"WeasyPrint is not available ({exc}); install it with "
                          "'pip install haircare-expert[pdf]' and its system libraries (Pango)") from None
    base = str(Path(__file__).resolve().parent)
    return weasyprint.HTML(string=html, base_url=base).write_pdf()


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write a file through a temporary file and a rename: never a half-written report."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise ReportError(str(path), f"cannot write here ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise ReportError(str(path), f"cannot write the file ({exc.strerror or exc})") from None

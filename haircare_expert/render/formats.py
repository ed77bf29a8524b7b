"""Reports: the consultation result written out through the Jinja templates in ``reports/``.

Formats: ``json`` (the contract, no template), ``txt``, ``md``, ``html`` and ``pdf`` (the HTML
printed by WeasyPrint, imported only when a PDF is asked for). Jinja itself is imported when a
template is first used: a JSON report needs none (a cold ``advise --format json`` saves ~40 ms).
"""
from __future__ import annotations

import json
import re
import textwrap
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from haircare_expert import yamlio
from haircare_expert.errors import ReportError
from haircare_expert.model import Consultation
from haircare_expert.render.wording import clean, escape_json_text, text_calendar, text_ticks, words

if TYPE_CHECKING:
    from jinja2 import BaseLoader, Environment, TemplateError

FORMATS = ("json", "txt", "md", "html", "pdf")
#: Other names for the formats, accepted by every ``--format`` option and as ``-o`` extensions.
ALIASES = {"text": "txt", "markdown": "md", "htm": "html"}
#: Who a report is for: the client's handout, or the consultant's record (everything).
AUDIENCES = ("client", "consultant")
#: Template stem per audience.
TEMPLATES = {"client": "handout", "consultant": "report"}
#: The most pages a printed handout may have (DESIGN.md, "Reports").
HANDOUT_PAGES = 2
#: Width of the plain-text report.
TEXT_WIDTH = 90
_ENV: Environment | None = None
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~])")


def wrap(text: Any, indent: int | str = 0, first: int | str | None = None, width: int = TEXT_WIDTH) -> str:
    """Wrap ``text`` to ``width`` columns; ``indent`` for every line, ``first`` for the first."""
    rest = indent if isinstance(indent, str) else " " * indent
    head = rest if first is None else (first if isinstance(first, str) else " " * first)
    return textwrap.fill(" ".join(str(text).split()), width=width, initial_indent=head,
                         subsequent_indent=rest, break_long_words=False, break_on_hyphens=False)


def md_escape(text: Any) -> str:
    """Client or rule text made inert in Markdown: markup characters escaped, HTML neutralised."""
    value = " ".join(str(text).split())
    value = value.replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", value)


def quote(text: str, prefix: str = "> ") -> str:
    """Prefix every line with ``prefix`` (a Markdown block quote, a marked text block)."""
    bare = prefix.rstrip()
    return "\n".join(prefix + line if line.strip() else bare for line in str(text).strip("\n").split("\n"))


def make_environment(loader: BaseLoader | None = None) -> Environment:
    """A Jinja environment for the report templates: StrictUndefined (a typo in a template is an
    error, not a blank) and autoescaping for HTML (client text is shown, never executed)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
    if loader is None:
        yamlio.package_files("reports")  # a clear error when the templates are not installed
        loader = PackageLoader("haircare_expert.reports", ".")
    env = Environment(loader=loader,
                      undefined=StrictUndefined,
                      autoescape=select_autoescape(["html", "html.j2"], default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["words"] = words
    env.filters["wrap"] = wrap
    env.filters["md"] = md_escape
    env.filters["quote"] = quote
    env.filters["rstrip"] = lambda text: str(text).rstrip()
    env.filters["clean"] = clean
    env.globals["text_calendar"] = text_calendar
    env.globals["text_ticks"] = text_ticks
    return env


def environment() -> Environment:
    """The shared Jinja environment of the report templates (built once)."""
    global _ENV
    if _ENV is None:
        _ENV = make_environment()
    return _ENV


def format_name(name: str) -> str | None:
    """The canonical format for a name or alias (``text`` -> ``txt``), or None if unknown."""
    name = name.lower()
    name = ALIASES.get(name, name)
    return name if name in FORMATS else None


def known_formats() -> str:
    """The format names a user may give, for error messages."""
    return ", ".join(list(FORMATS) + sorted(ALIASES))


def format_for(path: str | Path | None, default: str = "txt") -> str:
    """The report format named by a file's extension (``report.html`` -> ``html``).

    No path, or a path without an extension, gives ``default``; an extension that names no
    format is a :class:`ReportError` that lists the known ones.
    """
    if path is None:
        return default
    suffix = Path(str(path)).suffix.lstrip(".")
    if not suffix or str(path) == "-":
        return default
    fmt = format_name(suffix)
    if fmt is None:
        raise ReportError(str(path), f"unknown report format '.{suffix}'; known formats: {known_formats()}")
    return fmt


def to_json(consultation: Consultation) -> str:
    """The contract JSON, byte-identical for the same input."""
    return escape_json_text(json.dumps(consultation.to_json(), indent=2, ensure_ascii=False)) + "\n"


def render(consultation: Consultation, fmt: str, audience: str = "client", context: dict | None = None,
           rulebook=None) -> str | bytes:
    """Render a consultation in ``fmt`` for ``audience``; PDF comes back as bytes, the rest as text.

    ``audience`` is ``client`` (the handout: the plan, the week, no rule ids) or ``consultant``
    (the record: every line with its rule, facts and sources, and the audit appendix); the JSON
    is the audit record for both. ``rulebook`` defaults to the one that produced the
    consultation. Raises :class:`ReportError` for an unknown format or audience, a template
    error or a PDF that cannot be made.
    """
    fmt = format_name(fmt) or fmt
    if fmt not in FORMATS:
        raise ReportError(fmt, f"unknown report format; formats: {', '.join(FORMATS)}")
    if audience not in AUDIENCES:
        raise ReportError(audience, f"unknown audience; audiences: {', '.join(AUDIENCES)}")
    if fmt == "json":
        return to_json(consultation)
    if fmt == "pdf":
        if audience == "client":
            return _fitted_handout(consultation, context, rulebook)
        return _pdf(render(consultation, "html", audience, context, rulebook))
    return _render_template(consultation, fmt, audience, context, rulebook)


def _render_template(consultation: Consultation, fmt: str, audience: str, context: dict | None,
                     rulebook, defer: int = 0) -> str:
    from jinja2 import TemplateError
    name = f"{TEMPLATES[audience]}.{fmt}.j2"
    if audience == "client":
        from haircare_expert.render.handout import handout_view
        values = handout_view(consultation, rulebook, defer=defer)
    else:
        from haircare_expert.render.view import report_view
        values = report_view(consultation, rulebook)
    values.update(context or {})
    try:
        template = environment().get_template(name)
        return template.render(**values)
    except TemplateError as exc:
        where, line = _template_place(exc, name)
        raise ReportError(f"reports/{where}" + (f":{line}" if line else ""),
                          f"template error: {exc.message or exc}") from None
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise ReportError(f"reports/{name}", f"template failed: {type(exc).__name__}: {exc}") from None


def _fitted_handout(consultation: Consultation, context: dict | None, rulebook) -> bytes:
    """The handout printed on at most :data:`HANDOUT_PAGES` pages: when the full plan does not
    fit, the least urgent detail waits for the next visit (the fewest items that make it fit);
    the type size never changes."""
    from haircare_expert.render.handout import handout_view

    def document(defer: int):
        return _document(_render_template(consultation, "html", "client", context, rulebook, defer))

    doc = document(0)
    if len(doc.pages) <= HANDOUT_PAGES:
        return _write(doc)
    # Most plans need only a little to wait: gallop up (1, 2, 4, ...) to a level that fits, then
    # bisect between the last one that did not fit and the first one that did.
    most = handout_view(consultation, rulebook)["can_defer"]
    low, high, best = 0, 1, None
    while high < most:
        best = document(high)
        if len(best.pages) <= HANDOUT_PAGES:
            break
        low, high, best = high, high * 2, None
    if best is None:
        high = most
        best = document(high)
    while high - low > 1:
        middle = (low + high) // 2
        trial = document(middle)
        if len(trial.pages) <= HANDOUT_PAGES:
            high, best = middle, trial
        else:
            low = middle
    return _write(best)


def _template_place(exc: TemplateError, name: str) -> tuple[str, int | None]:
    """The template file and line of a Jinja error (a syntax error carries them; an undefined
    value is found in the traceback, which Jinja rewrites to point into the template)."""
    where = getattr(exc, "filename", None) or getattr(exc, "name", None)
    line = getattr(exc, "lineno", None)
    if where and line:
        return Path(str(where)).name, line
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2") or filename == "<template>":
            where = filename if filename.endswith(".j2") else name
            line = tb.tb_lineno
        tb = tb.tb_next
    return Path(str(where or name)).name, line


def _pdf(html: str) -> bytes:
    """Print the HTML report to PDF with WeasyPrint."""
    return _write(_document(html))


def _write(document) -> bytes:
    """The PDF bytes of a laid-out document."""
    try:
        with _weasyprint_messages():
            return document.write_pdf()
    except (OSError, ValueError) as exc:
        raise ReportError("pdf", f"WeasyPrint could not print the report: {exc}") from None


@contextmanager
def _weasyprint_messages():
    """Collect what WeasyPrint logs while it lays out a report, instead of letting it reach
    stderr: the library prints nothing. WeasyPrint warns once per glyph that no installed font
    has (the report's font stack covers the scripts Debian's Noto fonts cover; CJK and emoji
    need fonts-noto-cjk and fonts-noto-color-emoji), and the warning is no error of ours. Only
    the ``weasyprint`` logger is touched, and only for the length of the call."""
    import logging
    logger = logging.getLogger("weasyprint")
    messages: list[logging.LogRecord] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record)

    handler, propagate = _Collect(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _document(html: str):
    """Lay the HTML out in pages with WeasyPrint (imported here: only PDF needs it)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ReportError("pdf", f"WeasyPrint is not available ({exc}); reinstall it "
                          "with 'pip install weasyprint' and install the Pango system library") from None
    base = str(Path(__file__).resolve().parent)
    try:
        with _weasyprint_messages():
            return weasyprint.HTML(string=html, base_url=base).render()
    except (OSError, ValueError) as exc:
        raise ReportError("pdf", f"WeasyPrint could not print the report: {exc}") from None



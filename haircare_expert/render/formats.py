"""Reports: the consultation result written out through the Jinja templates in ``reports/``.

Formats: ``json`` (the contract, no template), ``txt``, ``md``, ``html`` and ``pdf`` (the HTML
printed by WeasyPrint, imported only when a PDF is asked for).
"""
from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, PackageLoader, StrictUndefined, TemplateError, select_autoescape

from haircare_expert import yamlio
from haircare_expert.errors import ReportError
from haircare_expert.model import Consultation
from haircare_expert.render.view import words

FORMATS = ("json", "txt", "md", "html", "pdf")
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


def text_calendar(week: list[dict], width: int = TEXT_WIDTH - 3) -> str:
    """The week as a plain-text grid, one row per day: day, wash day or not, what to use."""
    day_w, wash_w = 9, 8
    item_w = width - (day_w + wash_w + 10)
    rule = f"+{'-' * (day_w + 2)}+{'-' * (wash_w + 2)}+{'-' * (item_w + 2)}+"
    lines = [rule, f"| {'Day':<{day_w}} | {'Wash day':<{wash_w}} | {'Use':<{item_w}} |", rule]
    for day in week:
        text = "; ".join(" ".join(str(i).split()) for i in day["items"]) or "-"
        parts = textwrap.wrap(text, width=item_w, break_long_words=True) or ["-"]
        for i, part in enumerate(parts):
            name = day["name"] if i == 0 else ""
            wash = ("yes" if day["wash"] else "-") if i == 0 else ""
            lines.append(f"| {name:<{day_w}} | {wash:<{wash_w}} | {part:<{item_w}} |")
    lines.append(rule)
    return "\n".join(lines)


def make_environment(loader: BaseLoader | None = None) -> Environment:
    """A Jinja environment for the report templates: StrictUndefined (a typo in a template is an
    error, not a blank) and autoescaping for HTML (client text is shown, never executed)."""
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
    env.globals["text_calendar"] = text_calendar
    return env


def environment() -> Environment:
    """The shared Jinja environment of the report templates (built once)."""
    global _ENV
    if _ENV is None:
        _ENV = make_environment()
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


def render(consultation: Consultation, fmt: str, context: dict | None = None,
           rulebook=None) -> str | bytes:
    """Render a consultation in ``fmt``; PDF comes back as bytes, the rest as text.

    ``rulebook`` defaults to the one that produced the consultation (source titles, the fields
    each rule tested). Raises :class:`ReportError` for an unknown format, a template error or
    a PDF that cannot be made.
    """
    if fmt not in FORMATS:
        raise ReportError(fmt, f"unknown report format; formats: {', '.join(FORMATS)}")
    if fmt == "json":
        return to_json(consultation)
    if fmt == "pdf":
        html = render(consultation, "html", context, rulebook)
        return _pdf(html)
    from haircare_expert.render.view import report_view
    name = f"report.{fmt}.j2"
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
    """Print the HTML report to PDF with WeasyPrint (imported here: only PDF needs it)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise ReportError("pdf", f"WeasyPrint is not available ({exc}); reinstall it "
                          "with 'pip install weasyprint' and install the Pango system library") from None
    base = str(Path(__file__).resolve().parent)
    try:
        return weasyprint.HTML(string=html, base_url=base).write_pdf()
    except (OSError, ValueError) as exc:
        raise ReportError("pdf", f"WeasyPrint could not print the report: {exc}") from None



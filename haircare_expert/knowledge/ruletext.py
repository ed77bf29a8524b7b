"""What rule text may do: show bound variables, a few filters, ``{% if %}`` — nothing that computes.

A rule's ``advise`` and ``steps`` are Jinja templates filled in with the variables the rule
bound (``{{ n }}``). A consultant's rule folder is untrusted input, so the text is checked when
the rules load, not when a client is advised: only plain text, ``{{ name }}``, the filters of
:data:`FILTERS` with quoted arguments, comparisons and ``{% if %}``/``{% else %}`` are allowed.
Nothing can compute (``{{ 'x' * 10**9 }}``, ``{{ 9**9**9 }}``), reach Python objects
(``{{ x.__class__ }}``), loop or read files (``{% include %}``). :func:`fill` renders a text and
stops once it passes :data:`MAX_TEXT` characters, whatever got past the checks.
"""
from __future__ import annotations

import functools

from haircare_expert.errors import EngineError

#: Filters rule text may use, with the (least, most) number of quoted arguments each takes.
FILTERS = {"lower": (0, 0), "upper": (0, 0), "capitalize": (0, 0), "title": (0, 0),
           "trim": (0, 0), "replace": (2, 2), "default": (1, 1),
           "label": (1, 1)}  # a bound value in client words (consult/advisor.py, the plan branch)
#: Limits that keep a filled-in text small: filters on one value, the length of a quoted
#: constant and of a replacement, of the text as written, and of the text once filled in.
MAX_FILTERS = 3
MAX_CONSTANT = 200
MAX_REPLACEMENT = 10
MAX_SOURCE = 5_000
MAX_TEXT = 10_000
_COMPARE_OPS = {"eq", "ne", "lt", "gt", "lteq", "gteq", "in", "notin"}
_LIMITS = (f"rule text is limited to {{{{ name }}}}, the filters {', '.join(FILTERS)} "
           "and {% if %}")


@functools.cache
def env():
    """The sandboxed Jinja environment rule text is parsed with."""
    from jinja2.sandbox import SandboxedEnvironment
    return SandboxedEnvironment()


def short(text: str) -> str:
    """A text quoted for an error message, cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def problem(text: str) -> str:
    """What is wrong with a rule text ('' if nothing): a syntax error or something it may not do."""
    if "{" not in text:
        return ""
    from jinja2 import TemplateSyntaxError
    text = " ".join(text.split())       # as the rule keeps it
    if len(text) > MAX_SOURCE:
        return f"a text with {{{{ }}}} is at most {MAX_SOURCE} characters long"
    try:
        tree = env().parse(text)
    except TemplateSyntaxError as exc:
        return str(exc.message)
    found = _tree_problem(tree)
    return f"{found}; {_LIMITS}" if found else ""


def _tree_problem(tree) -> str:
    """What in a parsed rule text cannot be used ('' if nothing)."""
    from jinja2 import nodes
    allowed = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.CondExpr,
               nodes.And, nodes.Or, nodes.Not, nodes.Compare, nodes.Operand, nodes.Const,
               nodes.Name, nodes.Filter)
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, allowed):
            return f"{_what(node)} cannot be used"
        if isinstance(node, nodes.Name) and node.ctx != "load":
            return f"assigning {node.name!r} cannot be used"
        if isinstance(node, nodes.Operand) and node.op not in _COMPARE_OPS:
            return f"the operator {node.op!r} cannot be used"
        if isinstance(node, nodes.Const):
            value = node.value
            if isinstance(value, str) and len(value) > MAX_CONSTANT:
                return f"a quoted text longer than {MAX_CONSTANT} characters cannot be used"
            if not isinstance(value, (str, bool, type(None))) and not (
                    isinstance(value, int) and abs(value) < 10**6):
                return (f"the constant {value!r:.20} cannot be used (text, true/false or a small "
                        "whole number only)")
        if isinstance(node, nodes.Filter):
            found = _filter_problem(node)
            if found:
                return found
    return ""


def _filter_problem(node) -> str:
    from jinja2 import nodes
    if node.name not in FILTERS:
        return f"the filter {node.name!r} cannot be used"
    least, most = FILTERS[node.name]
    if node.kwargs or node.dyn_args or node.dyn_kwargs or not least <= len(node.args) <= most:
        return f"the filter {node.name!r} takes {least} argument(s)"
    if not all(isinstance(arg, nodes.Const) for arg in node.args):
        return f"the filter {node.name!r} takes quoted values only"
    if node.name == "replace":
        old, new = (arg.value for arg in node.args)
        if not (isinstance(old, str) and old and isinstance(new, str) and len(new) <= MAX_REPLACEMENT):
            return (f"replace takes a non-empty text and a replacement of at most "
                    f"{MAX_REPLACEMENT} characters")
    depth, inner = 0, node
    while isinstance(inner, nodes.Filter):
        depth, inner = depth + 1, inner.node
    if depth > MAX_FILTERS:
        return f"more than {MAX_FILTERS} filters on one value cannot be used"
    return ""


def _what(node) -> str:
    from jinja2 import nodes
    words = {nodes.Getattr: "reading an attribute ('.')", nodes.Getitem: "indexing ('[...]')",
             nodes.Call: "calling a function", nodes.Include: "{% include %}",
             nodes.Import: "{% import %}", nodes.FromImport: "{% from ... import %}",
             nodes.For: "{% for %}", nodes.Macro: "{% macro %}", nodes.Assign: "{% set %}",
             nodes.Pow: "'**'", nodes.Mul: "'*'", nodes.Add: "'+'", nodes.Concat: "'~'"}
    for cls, word in words.items():
        if isinstance(node, cls):
            return word
    return f"'{type(node).__name__}'"


def fill(rule, template, values: dict) -> str:
    """Render a rule text's compiled ``template`` with ``values``, stopping with
    :class:`EngineError` (naming the rule) once it grows past :data:`MAX_TEXT` characters."""
    pieces, size = [], 0
    for piece in template.generate(**values):
        size += len(piece)
        if size > MAX_TEXT:
            raise EngineError(rule.location, f"rule {rule.id}: its text is longer than {MAX_TEXT} "
                                             "characters once filled in")
        pieces.append(piece)
    return "".join(pieces)

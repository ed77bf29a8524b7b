"""The package keeps the layout of DESIGN.md: imports run down the data flow, never back up, and
no function or module grows past a reader's page without saying why (read with ast, not run)."""
import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "haircare_expert"

#: The stages of the data flow (DESIGN.md "Layout"), lowest first: a stage imports only from
#: itself, the stages below it and the shared root modules (model, errors, yamlio, atomic).
#: web and cli are both shells; cli is above web because ``haircare serve`` starts the web app.
STAGES = ("knowledge", "engine", "consult", "audit", "render", "store", "web", "cli")
#: Root modules shared by all stages; they import no stage. (The package's ``__init__`` is the
#: public facade and ``__main__`` the entry point: they sit above everything.)
SHARED = ("model", "errors", "yamlio", "atomic")

#: Imports that go up on purpose, each with its reason. Nothing else may.
UPWARD = {
    # `haircare rules lint` reports what the engine would refuse to compile, with the engine's
    # own static limits (engine/limits.py reads only rules and is the engine's to own)
    ("knowledge/lint.py", "engine"): "lint reports the engine's static limits",
    # rule tests run every example through Advisor.consult, the path a client takes, and name
    # the failing condition with the evaluator's why-not: a tool over the whole pipeline
    ("knowledge/ruletest.py", "consult"): "rule tests run each case as a consultation",
    ("knowledge/ruletest.py", "engine"): "rule tests explain a silent rule with why-not",
}

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500
#: Long places in files other work in progress owns (issue 17: the engine's matcher and the
#: interview planner), to be split or given a reason there; nothing else may be added here.
PENDING: dict[str, str] = {}


def modules():
    return sorted(PACKAGE.rglob("*.py"))


def stage_of(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 and parts[0] in STAGES else None


def imported_stages(tree: ast.AST):
    """(line, stage or shared root module) for every import of the package, nested ones too."""
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + ([f"{node.module}.{a.name}" for a in node.names]
                                     if node.module == "haircare_expert" else [])
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "haircare_expert" and len(parts) > 1 and parts[1] in STAGES + SHARED:
                yield node.lineno, parts[1]


def test_imports_run_down_the_data_flow_never_back_up():
    """A newcomer can trust the tree as the data flow: no stage reaches up into a later one
    (knowledge imports no one above it, audit does not import the reports, ...)."""
    upward, seen = [], set()
    for path in modules():
        rel = path.relative_to(PACKAGE).as_posix()
        here = stage_of(path)
        root = rel.removesuffix(".py") if "/" not in rel else None
        if here is None and root not in SHARED:
            continue
        seen.add(here or root)
        for line, there in imported_stages(ast.parse(path.read_text(encoding="utf-8"))):
            if here is None:                     # a shared root module imports no stage
                if there in STAGES:
                    upward.append(f"{rel}:{line} imports {there}")
            elif there in STAGES and STAGES.index(there) > STAGES.index(here) \
                    and (rel, there) not in UPWARD:
                upward.append(f"{rel}:{line} ({here}) imports {there}")
    assert seen == set(STAGES) | set(SHARED)     # the walk really read every stage
    assert upward == []


def _long_functions(tree: ast.AST, lines: list[str]):
    """(Class.method or outer.inner name, line, length) of each long function without a reason."""
    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from walk(child, prefix)
                continue
            name = prefix + child.name
            if not isinstance(child, ast.ClassDef):
                length = child.end_lineno - child.lineno + 1
                body = lines[child.lineno - 1:child.end_lineno]
                if length > MAX_FUNCTION_LINES and not any(re.match(r"\s*# long:", t) for t in body):
                    yield name, child.lineno, length
            yield from walk(child, name + ".")
    yield from walk(tree, "")


def test_no_function_or_module_is_long_without_a_reason():
    """Every function fits a page (60 lines) and every module 500 lines, or says why it is one
    piece: a ``# long:`` comment in the function, a ``long:`` line in the module's docstring."""
    found = []
    for path in modules():
        rel = path.relative_to(PACKAGE).as_posix()
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        lines = text.splitlines()
        doc = ast.get_docstring(tree) or ""
        if len(lines) > MAX_MODULE_LINES and not re.search(r"(?im)^\s*long:", doc) and rel not in PENDING:
            found.append(f"{rel}: {len(lines)} lines")
        for name, line, length in _long_functions(tree, lines):
            if f"{rel}:{name}" not in PENDING:
                found.append(f"{rel}:{line} {name}: {length} lines")
    assert found == []


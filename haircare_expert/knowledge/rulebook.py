"""The knowledge base: rule files and the source catalogue, loaded and validated.

A rule file is YAML data, never code. It holds one rule (a mapping with ``id``) or several
(``rules: [...]``) on one concern. Every problem found is reported with ``file:line``; loading
collects all problems before raising :class:`RuleErrors`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import HaircareError, NotFoundError, RuleError, RuleErrors
from haircare_expert.knowledge import ruletext
from haircare_expert.knowledge.conditions import (
    LIST_OPS,
    NUMBER_OPS,
    OPS,
    SET_OPS,
    AnyOf,
    Condition,
    Not,
    Pattern,
    Test,
    Var,
    variants,
)
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import ADVICE_KINDS, DERIVE, RULE_KINDS, UNKNOWN

ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
VAR_RE = re.compile(r"^\?([a-z_][a-z0-9_]*)$")
RULE_KEYS = {"id", "title", "kind", "salience", "when", "then", "because", "sources", "tags",
             "examples", "conflict"}
THEN_KEYS = {"advise", "steps", "declare", "schedule", "wash_day"}
#: ``heat``: on the days the client styles with heat (as many as she does), see consult/schedule.py.
SCHEDULE_DAYS = ("wash", "between", "any", "daily", "heat")
#: Environment variable naming extra rule folders (separated like PATH).
RULES_ENV = "HAIRCARE_RULES"
#: More alternatives than this in one rule is a modelling mistake (and slow in a Rete network).
MAX_VARIANTS = 32


@dataclass(frozen=True)
class ScheduleEntry:
    """A weekly-calendar entry a rule asks for."""

    item: str
    per_week: tuple[int, int]       # (at least, at most) times a week
    days: str                       # wash | between | any | daily
    order: int = 50
    replaces: str = ""              # another item this one stands in for (it is left out)


@dataclass(frozen=True)
class WashStep:
    """A step of the wash-day order, placed by ``order`` (lower comes first)."""

    step: str
    order: int


@dataclass(frozen=True)
class Declaration:
    """A derived fact a rule concludes; values may be variables bound in ``when``."""

    type: str
    fields: tuple[tuple[str, Any], ...]


@dataclass
class Rule:
    """One rule, as loaded and checked."""

    id: str
    title: str
    kind: str
    when: tuple[Condition, ...]
    because: str
    sources: list[dict]
    salience: int = 0
    advise: str = ""
    steps: tuple[str, ...] = ()
    declare: tuple[Declaration, ...] = ()
    schedule: tuple[ScheduleEntry, ...] = ()
    wash_day: tuple[WashStep, ...] = ()
    conflict: dict | None = None
    tags: tuple[str, ...] = ()
    examples: dict = field(default_factory=dict)
    file: str = ""
    line: int = 0
    raw: dict = field(default_factory=dict, repr=False)
    origin: str = "shipped"          # shipped | custom | override
    stratum: int = 0

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    @functools.cached_property
    def content_hash(self) -> str:
        """A hash of the rule as written: replay compares it to name edited rules."""
        text = json.dumps(self.raw, sort_keys=True, default=str, ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @functools.cached_property
    def _variants(self) -> list[tuple]:
        return variants(self.when)

    def variants(self) -> list[tuple]:
        """The rule's alternatives as flat conjunctions (``any`` expanded), computed once."""
        return self._variants

    def positive_types(self) -> set[str]:
        return {p.type for v in self.variants() for p in v if isinstance(p, Pattern)}

    def negated_types(self) -> set[str]:
        return {p.type for v in self.variants() for n in v if isinstance(n, Not) for p in n.body}

    def concludes(self) -> set[str]:
        return {d.type for d in self.declare}

    def own(self) -> bool:
        return any(s.get("own") for s in self.sources)


@dataclass
class Source:
    id: str
    title: str
    publisher: str
    sections: tuple[str, ...]
    file: str = ""
    url: str = ""


class Rulebook:
    """The validated rules, the source catalogue and the vocabulary they use."""

    def __init__(self, rules: list[Rule], sources: dict[str, Source], vocabulary: Vocabulary,
                 version: str, fingerprint: str, folders: list[str], overridden: list[str]):
        self.rules = rules
        self.by_id = {r.id: r for r in rules}
        self.sources = sources
        self.vocabulary = vocabulary
        self.version = version
        self.fingerprint = fingerprint
        self.folders = folders
        self.overridden = overridden

    def __len__(self) -> int:
        return len(self.rules)

    def get(self, rule_id: str) -> Rule:
        try:
            return self.by_id[rule_id]
        except KeyError:
            import difflib
            close = difflib.get_close_matches(rule_id, list(self.by_id), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise NotFoundError(rule_id, f"no rule with this id{hint}") from None

    def summary(self) -> dict:
        """The ``knowledge_base`` block of a consultation."""
        info = {"version": self.version, "fingerprint": self.fingerprint, "rules": len(self.rules),
                "rule_hashes": {r.id: r.content_hash for r in sorted(self.rules, key=lambda r: r.id)}}
        if self.overridden or any(r.origin == "custom" for r in self.rules):
            info["custom"] = {"folders": self.folders[1:], "overrides": sorted(self.overridden),
                              "added": sorted(r.id for r in self.rules if r.origin == "custom")}
        return info

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, extra: Iterable[str | Path] = (), vocabulary: Vocabulary | None = None,
             shipped: str | Path | None = None) -> Rulebook:
        """Load the shipped rules (or ``shipped``) plus each extra folder, in order.

        A rule in an extra folder with the id of an earlier rule replaces it.
        """
        vocabulary = vocabulary or Vocabulary.load()
        problems: list[RuleError] = []
        folders: list[tuple[str, list[tuple[str, str]]]] = []
        base = Path(shipped) if shipped else None
        folders.append(_read_folder(base, "rules", problems))
        for folder in extra:
            path = Path(folder)
            if not path.is_dir():
                raise NotFoundError(str(path), "rules folder does not exist")
            folders.append(_read_folder(path, str(path), problems))

        catalogue = None
        for _label, files in folders:
            for name, text in files:
                if Path(name).name == "sources.yaml":
                    data = _safe_load(text, name, problems)
                    if data is not None:
                        catalogue = _parse_sources(data, name, problems, catalogue)
        if catalogue is None:
            raise RuleError("rules/sources.yaml", "the source catalogue is missing")
        sources, version = catalogue

        digest = hashlib.sha256()
        rules: dict[str, Rule] = {}
        overridden: list[str] = []
        for index, (label, files) in enumerate(folders):
            seen_here: dict[str, str] = {}
            for name, text in files:
                # the folder's position and the path inside it: not how the folder was spelled
                relative = _relative(name, label)
                digest.update(f"{index}:{relative}".encode() + b"\0" + text.encode() + b"\0")
                if Path(name).name == "sources.yaml":
                    continue
                data = _safe_load(text, name, problems)
                if data is None:
                    continue
                for raw in _rule_docs(data, name, problems):
                    rule = _parse_rule(raw, name, vocabulary, sources, problems)
                    if rule is None:
                        continue
                    if rule.id in seen_here:
                        problems.append(RuleError(rule.location, f"duplicate rule id {rule.id!r} (also at {seen_here[rule.id]})"))
                        continue
                    seen_here[rule.id] = rule.location
                    if index > 0:
                        rule.origin = "override" if rule.id in rules else "custom"
                        if rule.id in rules:
                            overridden.append(rule.id)
                    rules[rule.id] = rule
        ordered = sorted(rules.values(), key=lambda r: r.id)
        _check_variables_and_declares(ordered, vocabulary, problems)
        if not problems:
            _stratify(ordered, problems)
        if problems:
            raise RuleErrors(problems)
        return cls(ordered, sources, vocabulary, version, "sha256:" + digest.hexdigest(),
                   [label for label, _ in folders], overridden)


def _relative(name: str, label: str) -> str:
    """A file's path inside its rule folder (shipped files are already 'rules/...')."""
    if label == "rules" and name.startswith("rules/"):
        return name[len("rules/"):]
    try:
        return Path(name).relative_to(Path(label)).as_posix()
    except ValueError:
        return Path(name).name


def _text(value) -> bool:
    """A non-empty plain string (what an id, a fact type or a source id must be)."""
    return isinstance(value, str) and bool(value.strip())


def _read_folder(path: Path | None, label: str, problems) -> tuple[str, list[tuple[str, str]]]:
    """All YAML files under a folder, as (display name, text), in a stable order.

    Every ``*.yaml``/``*.yml`` file is loaded (any case of the suffix), in sub-folders too,
    following symbolic links; hidden files and folders (``.git/``) are not rules. Nothing is
    skipped without a word: a broken link, an unreadable folder or a rule file that is not a
    regular file (a FIFO) is a problem.
    """
    files: list[tuple[str, str]] = []
    if path is None:
        root = yamlio.package_files("rules")
        for name, ref in sorted(_walk(root, "")):
            files.append((f"rules/{name}", ref.read_text(encoding="utf-8")))
        return label, files
    for file in sorted(_rule_files(path, problems)):
        try:
            text = yamlio.read_text(file, RuleError)
        except RuleError as exc:
            problems.append(exc)
            continue
        except HaircareError as exc:      # not a regular file, or unreadable: a rule problem here
            problems.append(RuleError(exc.where, f"rule file {exc.what}"))
            continue
        files.append((str(file), text))
    return label, files


def _rule_files(folder: Path, problems: list, seen: set | None = None) -> list[Path]:
    """The rule files under ``folder`` (see :func:`_read_folder`); problems are appended."""
    seen = set() if seen is None else seen
    real = os.path.realpath(folder)
    if real in seen:            # a link back up the tree: its files are already listed
        return []
    seen.add(real)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        problems.append(RuleError(str(folder), f"rules folder cannot be read ({exc.strerror or exc})"))
        return []
    found: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()             # follows links
            is_yaml = entry.name.lower().endswith((".yaml", ".yml"))
            if entry.is_symlink() and not path.exists():
                problems.append(RuleError(str(path), "broken symbolic link in a rules folder"))
            elif is_dir:
                found.extend(_rule_files(path, problems, seen))
            elif is_yaml:
                found.append(path)
        except OSError as exc:
            problems.append(RuleError(str(path), f"cannot be read ({exc.strerror or exc})"))
    return found


def _walk(ref, prefix):
    for child in ref.iterdir():
        name = f"{prefix}{child.name}"
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, name + "/")
        elif child.name.endswith((".yaml", ".yml")):
            yield name, child


def _safe_load(text, name, problems):
    try:
        return yamlio.loads(text, name, RuleError)
    except RuleError as exc:
        problems.append(exc)
        return None


def _parse_sources(data, where, problems, previous):
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        problems.append(RuleError(where, "the source catalogue needs a 'sources' list"))
        return previous
    sources = dict(previous[0]) if previous else {}
    version = str(data.get("version", previous[1] if previous else "0"))
    for entry in data["sources"]:
        line = f"{where}:{getattr(entry, 'line', 0)}"
        if not isinstance(entry, dict) or not _text(entry.get("id")) or not _text(entry.get("title")):
            problems.append(RuleError(line, "each source needs an id and a title (text)"))
            continue
        sections = entry.get("sections") or []
        if not isinstance(sections, list) or not all(_text(x) for x in sections):
            problems.append(RuleError(line, f"source {entry['id']}: sections must be a list of headings"))
            continue
        sources[entry["id"]] = Source(
            id=entry["id"], title=entry["title"], publisher=entry.get("publisher", ""),
            sections=tuple(entry.get("sections") or ()), file=entry.get("file", ""),
            url=entry.get("url", ""))
    return sources, version


def _rule_docs(data, where, problems):
    if isinstance(data, dict) and "rules" in data and "id" not in data:
        if not isinstance(data["rules"], list):
            problems.append(RuleError(f"{where}:{data.line_of('rules')}", "'rules' must be a list of rules"))
            return []
        docs = data["rules"]
    else:
        docs = [data]
    good = []
    for doc in docs:
        if not isinstance(doc, dict):
            problems.append(RuleError(where, "a rule must be a mapping with id, title, kind, when, then, because, sources"))
        else:
            good.append(doc)
    return good


class _Problems:
    """Collects errors for one rule, each with file:line."""

    def __init__(self, where: str, problems: list):
        self.where = where
        self.problems = problems
        self.count = 0

    def add(self, node: Any, key: Any, what: str):
        line = node.line_of(key) if hasattr(node, "line_of") and key is not None else getattr(node, "line", 0)
        self.problems.append(RuleError(f"{self.where}:{line}", what))
        self.count += 1


def _parse_rule(raw: dict, where: str, vocab: Vocabulary, sources: dict, problems) -> Rule | None:
    p = _Problems(where, problems)
    rid = raw.get("id")
    if not isinstance(rid, str) or not ID_RE.match(rid):
        p.add(raw, "id" if "id" in raw else None, f"rule id {rid!r} must be kebab-case (a-z, 0-9, -)")
        rid = str(rid)
    label = f"rule {rid}"
    for key in raw:
        if key not in RULE_KEYS:
            p.add(raw, key, f"{label}: unknown key {key!r}; allowed: {', '.join(sorted(RULE_KEYS))}")
    for key in ("title", "kind", "because", "sources"):
        if not raw.get(key):
            p.add(raw, None, f"{label}: missing {key!r}")
    kind = raw.get("kind")
    if kind and kind not in RULE_KINDS:
        p.add(raw, "kind", f"{label}: kind {kind!r} is not one of {', '.join(RULE_KINDS)}")
    salience = raw.get("salience", 0)
    if not isinstance(salience, int) or isinstance(salience, bool) or not -1000 <= salience <= 1000:
        p.add(raw, "salience", f"{label}: salience must be a whole number from -1000 to 1000")
        salience = 0

    when = _parse_when(raw.get("when", []), raw, "when", vocab, p, label)
    then = raw.get("then") or {}
    if not isinstance(then, dict):
        p.add(raw, "then", f"{label}: 'then' must be a mapping")
        then = {}
    for key in then:
        if key not in THEN_KEYS:
            p.add(then, key, f"{label}: unknown key then.{key}; allowed: {', '.join(sorted(THEN_KEYS))}")
    advise = then.get("advise", "")
    if kind in ADVICE_KINDS and not (isinstance(advise, str) and advise.strip()):
        p.add(then or raw, "advise" if then else "then", f"{label}: a {kind} rule needs then.advise (the advice text)")
    if kind == DERIVE and advise:
        p.add(then, "advise", f"{label}: a derive rule concludes facts only; move the text to an advice rule")
    steps = then.get("steps") or []
    if not isinstance(steps, list) or not all(isinstance(s, str) and s.strip() for s in steps):
        p.add(then, "steps", f"{label}: then.steps must be a list of texts")
        steps = []
    if isinstance(advise, str):
        _check_text(advise, then, "advise", p, label)
    for text in steps:
        _check_text(text, then, "steps", p, label)
    declare = _parse_declare(then.get("declare") or [], then, vocab, p, label)
    if kind == DERIVE and not declare:
        p.add(raw, "then", f"{label}: a derive rule must declare at least one fact")
    schedule = _parse_schedule(then.get("schedule") or [], then, p, label)
    wash = _parse_wash(then.get("wash_day") or [], then, p, label)
    conflict = _parse_conflict(raw.get("conflict"), raw, sources, p, label)
    srcs = _parse_sources_ref(raw.get("sources") or [], raw, sources, p, label)
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        p.add(raw, "tags", f"{label}: tags must be a list of words")
        tags = []
    examples = raw.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"fires", "silent", "todo"}:
        p.add(raw, "examples", f"{label}: examples takes 'fires', 'silent' (lists of profiles) and 'todo'")
        examples = {}
    because = raw.get("because", "")
    if p.count:
        return None
    rule = Rule(id=rid, title=str(raw["title"]).strip(), kind=kind, when=tuple(when),
                because=" ".join(str(because).split()), sources=srcs, salience=salience,
                advise=" ".join(str(advise).split()) if advise else "",
                steps=tuple(" ".join(s.split()) for s in steps), declare=tuple(declare),
                schedule=tuple(schedule), wash_day=tuple(wash), conflict=conflict,
                tags=tuple(tags), examples=dict(examples), file=where, line=raw.line,
                raw=_plain(raw))
    if len(rule.variants()) > MAX_VARIANTS:
        p.add(raw, "when", f"{label}: 'any' expands to {len(rule.variants())} alternatives (at most {MAX_VARIANTS}); use 'in' or 'contains_any' for lists of values")
        return None
    return rule


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _parse_when(node, parent, key, vocab, p, label) -> list[Condition]:
    if node is None:
        return []
    items = node if isinstance(node, list) else [node]
    conds: list[Condition] = []
    for item in items:
        cond = _parse_condition(item, parent if not isinstance(node, list) else node, vocab, p, label, parent, key)
        if cond is not None:
            conds.append(cond)
    return conds


def _parse_condition(item, container, vocab, p, label, parent, key) -> Condition | None:
    if not isinstance(item, dict):
        p.add(parent, key, f"{label}: each condition must be a mapping (a fact pattern, not, any or all)")
        return None
    line = getattr(item, "line", 0)
    if "fact" in item:
        return _parse_pattern(item, vocab, p, label)
    if len(item) != 1:
        p.add(item, None, f"{label}: a condition is a fact pattern ('fact: ...') or one of not/any/all")
        return None
    (op, body), = item.items()
    if op == "not":
        inner = _parse_when(body, item, "not", vocab, p, label)
        flat = variants(inner)
        if any(isinstance(c, Not) for v in flat for c in v):
            p.add(item, "not", f"{label}: 'not' inside 'not' is not supported; say it positively")
            return None
        if len(flat) == 1:
            return Not(tuple(flat[0]), line)
        # not(any(A, B)) == not A and not B
        return AnyOf(((tuple(Not(tuple(v), line) for v in flat)),), line)
    if op == "any":
        if not isinstance(body, list) or len(body) < 2:
            p.add(item, "any", f"{label}: 'any' takes a list of at least two alternatives")
            return None
        alts = []
        for alt in body:
            if isinstance(alt, dict) and set(alt) == {"all"}:
                alts.append(tuple(_parse_when(alt["all"], alt, "all", vocab, p, label)))
            elif isinstance(alt, list):
                alts.append(tuple(_parse_when(alt, item, "any", vocab, p, label)))
            else:
                alts.append(tuple(_parse_when([alt], item, "any", vocab, p, label)))
        return AnyOf(tuple(alts), line)
    if op == "all":
        return AnyOf((tuple(_parse_when(body, item, "all", vocab, p, label)),), line)
    p.add(item, op, f"{label}: unknown condition {op!r}; use a fact pattern ('fact: ...'), not, any or all")
    return None


def _parse_pattern(item, vocab: Vocabulary, p, label) -> Pattern | None:
    type_name = item["fact"]
    ftype = vocab.types.get(type_name) if _text(type_name) else None
    if ftype is None:
        p.add(item, "fact", f"{label}: unknown fact type {type_name!r}; known: {', '.join(sorted(vocab.types))}")
        return None
    tests: list[Test] = []
    for fname, spec in item.items():
        if fname == "fact":
            continue
        field_spec = ftype.fields.get(fname)
        if field_spec is None:
            p.add(item, fname, f"{label}: {type_name} has no field {fname!r}; fields: {', '.join(ftype.fields)}")
            continue
        for test in _parse_tests(fname, spec, item, field_spec, p, label, type_name):
            tests.append(test)
    return Pattern(type_name, tuple(tests), getattr(item, "line", 0))


def _parse_tests(fname, spec, item, field_spec, p, label, type_name):
    where = f"{label}: {type_name}.{fname}"
    if isinstance(spec, str) and VAR_RE.match(spec):
        return [Test(fname, "bind", Var(VAR_RE.match(spec).group(1)))]
    if not isinstance(spec, dict):
        spec = {"eq": spec}
    tests = []
    for op, value in spec.items():
        if op not in OPS:
            p.add(spec if hasattr(spec, "line_of") else item, op if hasattr(spec, "line_of") else fname,
                  f"{where}: unknown test {op!r}; tests: {', '.join(OPS)}")
            continue
        problem = _check_operand(op, value, field_spec)
        if problem:
            p.add(spec if hasattr(spec, "line_of") else item, op if hasattr(spec, "line_of") else fname,
                  f"{where}: {problem}")
            continue
        if op == "bind":
            tests.append(Test(fname, "bind", Var(VAR_RE.match(value).group(1))))
        elif op in LIST_OPS:
            tests.append(Test(fname, op, tuple(value)))
        else:
            tests.append(Test(fname, op, value))
    return tests


def _check_operand(op, value, fs) -> str:
    """Why ``op value`` cannot apply to a field of spec ``fs`` (empty string if it can)."""
    def check_value(v):
        if v == UNKNOWN:
            return ""
        if fs.type in ("choice", "set"):
            return "" if v in fs.values else f"{v!r} is not a value of this field; allowed: {fs.allowed()}"
        if fs.type == "int":
            ok = isinstance(v, int) and not isinstance(v, bool)
            return "" if ok else f"{v!r} is not a whole number"
        if fs.type == "bool":
            return "" if isinstance(v, bool) else f"{v!r} is not true/false"
        return "" if isinstance(v, str) else f"{v!r} is not text"

    if op == "bind":
        return "" if isinstance(value, str) and VAR_RE.match(value) else "bind takes a variable such as ?name"
    if op in ("empty", "known"):
        if not isinstance(value, bool):
            return f"{op} takes true or false"
        if op == "empty" and fs.type != "set":
            return "empty applies only to list fields"
        return ""
    if op in SET_OPS and fs.type != "set":
        return f"{op} applies only to list fields; use eq or in"
    if op in ("in", "not_in") and fs.type == "set":
        return f"{op} does not apply to a list field; use contains_any or contains_none"
    if op in NUMBER_OPS:
        if fs.type != "int":
            return f"{op} applies only to numbers"
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{op} takes a whole number, not {value!r}"
    if op in LIST_OPS:
        if not isinstance(value, list) or not value:
            return f"{op} takes a non-empty list of values"
        for v in value:
            problem = check_value(v)
            if problem:
                return problem
        return ""
    if op in ("eq", "ne") and fs.type == "set":
        return "a list field is tested with contains, contains_any, contains_all, contains_none or empty"
    return check_value(value)


def _parse_declare(node, then, vocab, p, label) -> list[Declaration]:
    if not isinstance(node, list):
        node = [node]
    out = []
    for entry in node:
        if not isinstance(entry, dict):
            p.add(then, "declare", f"{label}: each declare entry is a mapping such as {{need: scalp_hydration}}")
            continue
        if "fact" in entry:
            type_name = entry["fact"]
            if not _text(type_name):
                p.add(entry, "fact", f"{label}: 'fact' names a derived fact type")
                continue
            values = {k: v for k, v in entry.items() if k != "fact"}
        elif len(entry) == 1:
            (type_name, value), = entry.items()
            ftype = vocab.types.get(type_name)
            if ftype is None or len(ftype.fields) != 1:
                p.add(entry, type_name, f"{label}: shorthand {{{type_name}: value}} needs a derived fact type with one field")
                continue
            values = {next(iter(ftype.fields)): value}
        else:
            p.add(entry, None, f"{label}: a declare entry names its fact type with 'fact:'")
            continue
        ftype = vocab.types.get(type_name)
        if ftype is None or not ftype.derived:
            known = ", ".join(sorted(t for t, ft in vocab.types.items() if ft.derived))
            p.add(entry, None, f"{label}: rules may only conclude derived facts ({known}), not {type_name!r}")
            continue
        fields = []
        for fname, value in values.items():
            fs = ftype.fields.get(fname)
            if fs is None:
                p.add(entry, fname, f"{label}: {type_name} has no field {fname!r}; fields: {', '.join(ftype.fields)}")
                continue
            if isinstance(value, str) and VAR_RE.match(value):
                fields.append((fname, Var(VAR_RE.match(value).group(1))))
                continue
            if isinstance(value, list):
                value = tuple(value)
            if not fs.accepts(value):
                p.add(entry, fname, f"{label}: {type_name}.{fname}: {value!r} is not allowed; allowed: {fs.allowed()}")
                continue
            fields.append((fname, value))
        out.append(Declaration(type_name, tuple(sorted(fields, key=lambda kv: kv[0]))))
    return out


def _parse_schedule(node, then, p, label) -> list[ScheduleEntry]:
    if isinstance(node, dict):
        node = [node]
    out = []
    for entry in node:
        if not isinstance(entry, dict) or not isinstance(entry.get("item"), str):
            p.add(then, "schedule", f"{label}: a schedule entry needs 'item' (what to do)")
            continue
        per = entry.get("per_week", 1)
        if isinstance(per, int) and not isinstance(per, bool):
            per = (per, per)
        elif isinstance(per, list) and len(per) == 2 and all(isinstance(x, int) for x in per):
            per = tuple(per)
        else:
            p.add(entry, "per_week", f"{label}: per_week is a number or [at least, at most]")
            continue
        days = entry.get("days", "any")
        if days not in SCHEDULE_DAYS:
            p.add(entry, "days", f"{label}: days must be one of {', '.join(SCHEDULE_DAYS)}")
            continue
        if not 0 <= per[0] <= per[1] <= 7:
            p.add(entry, "per_week", f"{label}: per_week must be between 0 and 7, smaller first")
            continue
        order = entry.get("order", 50)
        if not isinstance(order, int) or isinstance(order, bool):
            p.add(entry, "order", f"{label}: order must be a whole number")
            continue
        replaces = entry.get("replaces", "")
        if not isinstance(replaces, str):
            p.add(entry, "replaces", f"{label}: replaces names the item this entry stands in for")
            continue
        out.append(ScheduleEntry(" ".join(entry["item"].split()), per, days, order,
                                 " ".join(replaces.split())))
    return out


def _parse_wash(node, then, p, label) -> list[WashStep]:
    if isinstance(node, dict):
        node = [node]
    out = []
    for entry in node:
        if (not isinstance(entry, dict) or not isinstance(entry.get("step"), str)
                or not isinstance(entry.get("order"), int) or isinstance(entry.get("order"), bool)):
            p.add(then, "wash_day", f"{label}: a wash_day entry needs 'step' (text) and 'order' (a number)")
            continue
        out.append(WashStep(" ".join(entry["step"].split()), entry["order"]))
    return out


def _parse_conflict(node, raw, sources, p, label):
    if node is None:
        return None
    if not isinstance(node, dict) or not all(node.get(k) for k in ("topic", "sources", "resolution")):
        p.add(raw, "conflict", f"{label}: conflict needs topic, sources (ids) and resolution")
        return None
    if not isinstance(node["sources"], list) or not all(_text(x) for x in node["sources"]):
        p.add(node, "sources", f"{label}: conflict sources must be a list of source ids")
        return None
    for sid in node["sources"]:
        if sid not in sources:
            p.add(node, "sources", f"{label}: conflict cites unknown source {sid!r}")
    return {"topic": " ".join(str(node["topic"]).split()), "sources": list(node["sources"]),
            "resolution": " ".join(str(node["resolution"]).split())}


def _parse_sources_ref(node, raw, sources, p, label) -> list[dict]:
    if not isinstance(node, list) or not node:
        return []
    out = []
    for ref in node:
        if not isinstance(ref, dict):
            p.add(raw, "sources", f"{label}: each source is {{source: id, section: heading}} or {{own: true, note: ...}}")
            continue
        if ref.get("own"):
            if not ref.get("note"):
                p.add(ref, "own", f"{label}: an own rule says where its guidance comes from in 'note'")
                continue
            out.append({"own": True, "note": " ".join(str(ref["note"]).split())})
            continue
        sid, section = ref.get("source"), ref.get("section")
        if not _text(sid) or not isinstance(section, (str, type(None))):
            p.add(ref, None, f"{label}: a source is {{source: id, section: heading}} (both text)")
            continue
        if sid not in sources:
            p.add(ref, "source", f"{label}: unknown source {sid!r}; known: {', '.join(sorted(sources))}")
            continue
        if not section:
            p.add(ref, None, f"{label}: source {sid} needs the section heading it comes from")
            continue
        if sources[sid].sections and section not in sources[sid].sections:
            p.add(ref, "section", f"{label}: {sid} has no section {section!r}; sections: {'; '.join(sources[sid].sections)}")
            continue
        out.append({"source": sid, "section": section})
    return out


def _check_variables_and_declares(rules: list[Rule], vocab: Vocabulary, problems: list) -> None:
    """Variables must be bound by a positive pattern before a 'not' or 'then' uses them."""
    for rule in rules:
        in_text = _template_names(rule, problems)
        for variant in rule.variants():
            bound: set[str] = set()
            for cond in variant:
                if isinstance(cond, Pattern):
                    bound |= {t.value.name for t in cond.tests if t.op == "bind"}
                else:
                    for pat in cond.body:
                        for t in pat.tests:
                            if t.op == "bind" and t.value.name not in bound:
                                problems.append(RuleError(f"{rule.file}:{cond.line}", f"rule {rule.id}: variable ?{t.value.name} inside 'not' must be bound by an earlier pattern"))
            used = {v.name for d in rule.declare for _, v in d.fields if isinstance(v, Var)}
            used |= in_text
            for name in sorted(used - bound):
                problems.append(RuleError(rule.location, f"rule {rule.id}: ?{name} is used in 'then' but not bound in every alternative of 'when'"))


def _template_names(rule: Rule, problems: list) -> set[str]:
    """The variables the advice text and steps use (the texts passed :func:`_check_text`)."""
    texts = [t for t in (rule.advise, *rule.steps) if "{" in t]
    if not texts:
        return set()
    from jinja2 import TemplateSyntaxError, nodes
    names: set[str] = set()
    for text in texts:
        try:
            # every name read, globals such as `cycler` included: only bound variables may appear
            names |= {n.name for n in ruletext.env().parse(text).find_all(nodes.Name) if n.ctx == "load"}
        except TemplateSyntaxError as exc:
            problems.append(RuleError(rule.location, f"rule {rule.id}: text {text[:40]!r}...: {exc.message}"))
    return names


def _check_text(text: str, node, key: str, p, label: str) -> None:
    """A problem (``file:line``) unless ``text`` keeps to what rule text may do (see
    :mod:`haircare_expert.knowledge.ruletext`): checked when the rules load."""
    text = " ".join(text.split())       # as the rule keeps it
    problem = ruletext.problem(text)
    if problem:
        p.add(node, key, f"{label}: text {ruletext.short(text)} in then.{key}: {problem}")


def _stratify(rules: list[Rule], problems: list) -> None:
    """Give each rule a stratum so a negation is tested only after all it negates can exist.

    stratum(r) >= stratum(p) for every producer p of a type r matches positively, and
    > stratum(p) for every producer of a type r negates. A cycle through a negation is an error.
    """
    producers: dict[str, list[Rule]] = {}
    for rule in rules:
        for t in rule.concludes():
            producers.setdefault(t, []).append(rule)
    strata = {r.id: 0 for r in rules}
    limit = len(rules) + 1
    changed = True
    while changed:
        changed = False
        for rule in rules:
            need = 0
            for t in rule.positive_types():
                for prod in producers.get(t, ()):
                    need = max(need, strata[prod.id])
            for t in rule.negated_types():
                for prod in producers.get(t, ()):
                    need = max(need, strata[prod.id] + 1)
            if need > strata[rule.id]:
                if need > limit:
                    problems.append(RuleError(rule.location, f"rule {rule.id}: its conditions depend on their own negation through a cycle of rules (cannot be ordered)"))
                    return
                strata[rule.id] = need
                changed = True
    for rule in rules:
        rule.stratum = strata[rule.id]

"""One rule file entry parsed and checked against the vocabulary and the source catalogue: every
problem collected with its :class:`~haircare_expert.errors.Location`, code and rule id."""
from __future__ import annotations

from typing import Any

from haircare_expert.errors import Location, RuleError
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
from haircare_expert.knowledge.rule import (
    ID_RE,
    MAX_VARIANTS,
    MISSING_CODES,
    RULE_KEYS,
    SCHEDULE_DAYS,
    THEN_KEYS,
    VAR_RE,
    Declaration,
    Rule,
    ScheduleEntry,
    WashStep,
    _text,
)
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import ADVICE_KINDS, DERIVE, RULE_KINDS, UNKNOWN


class _Problems:
    """Collects errors for one rule, each with its :class:`Location`, code and rule id."""

    def __init__(self, where: str, problems: list, rule: str = ""):
        self.where = where
        self.problems = problems
        self.rule = rule
        self.count = 0

    def add(self, node: Any, key: Any, what: str, code: str = "load"):
        line = node.line_of(key) if hasattr(node, "line_of") and key is not None else getattr(node, "line", 0)
        self.problems.append(RuleError(Location(self.where, line), what, code=code, rule=self.rule))
        self.count += 1


def _parse_rule(raw: dict, where: str, vocab: Vocabulary, sources: dict, problems) -> Rule | None:
    """One rule checked whole (every problem found, in the file's order), or None if it has any."""
    rid = raw.get("id")
    p = _Problems(where, problems, rid if isinstance(rid, str) and ID_RE.match(rid) else "")
    rid, label, kind, salience = _parse_head(raw, p)
    when = _parse_when(raw.get("when", []), raw, "when", vocab, p, label)
    advise, steps, declare, schedule, wash = _parse_then(raw, kind, vocab, p, label)
    conflict = _parse_conflict(raw.get("conflict"), raw, sources, p, label)
    srcs = _parse_sources_ref(raw.get("sources") or [], raw, sources, p, label)
    tags, examples = _parse_tags_and_examples(raw, p, label)
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


def _parse_head(raw: dict, p: _Problems) -> tuple[str, str, Any, int]:
    """The rule's id, its label in messages (``rule ID``), kind and salience; the keys checked."""
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
            p.add(raw, None, f"{label}: missing {key!r}", MISSING_CODES.get(key, "missing-field"))
    kind = raw.get("kind")
    if kind and kind not in RULE_KINDS:
        p.add(raw, "kind", f"{label}: kind {kind!r} is not one of {', '.join(RULE_KINDS)}")
    salience = raw.get("salience", 0)
    if not isinstance(salience, int) or isinstance(salience, bool) or not -1000 <= salience <= 1000:
        p.add(raw, "salience", f"{label}: salience must be a whole number from -1000 to 1000")
        salience = 0
    return rid, label, kind, salience


def _parse_then(raw: dict, kind: Any, vocab: Vocabulary, p: _Problems, label: str) -> tuple:
    """``then``: the advice text and steps, the facts declared, the week and wash-day entries."""
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
    return advise, steps, declare, schedule, wash


def _parse_tags_and_examples(raw: dict, p: _Problems, label: str) -> tuple[list, dict]:
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        p.add(raw, "tags", f"{label}: tags must be a list of words")
        tags = []
    examples = raw.get("examples") or {}
    if not isinstance(examples, dict) or set(examples) - {"fires", "silent", "todo"}:
        p.add(raw, "examples", f"{label}: examples takes 'fires', 'silent' (lists of profiles) and 'todo'")
        examples = {}
    return tags, examples


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
        p.add(item, "fact", f"{label}: unknown fact type {type_name!r}; known: {', '.join(sorted(vocab.types))}",
              "unknown-fact-type")
        return None
    tests: list[Test] = []
    for fname, spec in item.items():
        if fname == "fact":
            continue
        field_spec = ftype.fields.get(fname)
        if field_spec is None:
            p.add(item, fname, f"{label}: {type_name} has no field {fname!r}; fields: {', '.join(ftype.fields)}",
                  "unknown-field")
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
        code, problem = _check_operand(op, value, field_spec)
        if problem:
            p.add(spec if hasattr(spec, "line_of") else item, op if hasattr(spec, "line_of") else fname,
                  f"{where}: {problem}", code)
            continue
        if op == "bind":
            tests.append(Test(fname, "bind", Var(VAR_RE.match(value).group(1))))
        elif op in LIST_OPS:
            tests.append(Test(fname, op, tuple(value)))
        else:
            tests.append(Test(fname, op, value))
    return tests


def _check_operand(op, value, fs) -> tuple[str, str]:
    """Why ``op value`` cannot apply to a field of spec ``fs``, as (lint code, text); ("", "") if it can."""
    def check_value(v):
        if v == UNKNOWN:
            return "", ""
        if fs.type in ("choice", "set"):
            return ("", "") if v in fs.values else (
                "unknown-value", f"{v!r} is not a value of this field; allowed: {fs.allowed()}")
        if fs.type == "int":
            ok = isinstance(v, int) and not isinstance(v, bool)
            return ("", "") if ok else ("load", f"{v!r} is not a whole number")
        if fs.type == "bool":
            return ("", "") if isinstance(v, bool) else ("load", f"{v!r} is not true/false")
        return ("", "") if isinstance(v, str) else ("load", f"{v!r} is not text")

    def bad(text):
        return "load", text

    if op == "bind":
        if isinstance(value, str) and VAR_RE.match(value):
            return "", ""
        return "unbound-variable", "bind takes a variable such as ?name"
    if op in ("empty", "known"):
        if not isinstance(value, bool):
            return bad(f"{op} takes true or false")
        if op == "empty" and fs.type != "set":
            return bad("empty applies only to list fields")
        return "", ""
    if op in SET_OPS and fs.type != "set":
        return bad(f"{op} applies only to list fields; use eq or in")
    if op in ("in", "not_in") and fs.type == "set":
        return bad(f"{op} does not apply to a list field; use contains_any or contains_none")
    if op in NUMBER_OPS:
        if fs.type != "int":
            return bad(f"{op} applies only to numbers")
        if not isinstance(value, int) or isinstance(value, bool):
            return bad(f"{op} takes a whole number, not {value!r}")
    if op in LIST_OPS:
        if not isinstance(value, list) or not value:
            return bad(f"{op} takes a non-empty list of values")
        for v in value:
            problem = check_value(v)
            if problem[1]:
                return problem
        return "", ""
    if op in ("eq", "ne") and fs.type == "set":
        return bad("a list field is tested with contains, contains_any, contains_all, contains_none or empty")
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
                p.add(entry, fname, f"{label}: {type_name} has no field {fname!r}; fields: {', '.join(ftype.fields)}",
                      "unknown-field")
                continue
            if isinstance(value, str) and VAR_RE.match(value):
                fields.append((fname, Var(VAR_RE.match(value).group(1))))
                continue
            if isinstance(value, list):
                value = tuple(value)
            if not fs.accepts(value):
                p.add(entry, fname, f"{label}: {type_name}.{fname}: {value!r} is not allowed; allowed: {fs.allowed()}",
                      "unknown-value")
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
            p.add(node, "sources", f"{label}: conflict cites unknown source {sid!r}", "unknown-source")
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
            p.add(ref, "source", f"{label}: unknown source {sid!r}; known: {', '.join(sorted(sources))}",
                  "unknown-source")
            continue
        if not section:
            p.add(ref, None, f"{label}: source {sid} needs the section heading it comes from", "unknown-section")
            continue
        if sources[sid].sections and section not in sources[sid].sections:
            p.add(ref, "section", f"{label}: {sid} has no section {section!r}; sections: {'; '.join(sources[sid].sections)}",
                  "unknown-section")
            continue
        out.append({"source": sid, "section": section})
    return out


def _check_text(text: str, node, key: str, p, label: str) -> None:
    """A problem (``file:line``) unless ``text`` keeps to what rule text may do (see
    :mod:`haircare_expert.knowledge.ruletext`): checked when the rules load."""
    text = " ".join(text.split())       # as the rule keeps it
    problem = ruletext.problem(text)
    if problem:
        p.add(node, key, f"{label}: text {ruletext.short(text)} in then.{key}: {problem}")

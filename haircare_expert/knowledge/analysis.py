"""The one static analysis of rules: what could match what, who concludes what, who declared what.

Lint, the interview planner, the direct evaluator, explain and replay all ask the same three
questions; they are answered here, once:

* **could this declaration match this pattern** (:func:`could_match`, :func:`could_conclude`):
  a declared constant must pass the pattern's tests; a declared variable might be any value
  (:data:`ANY`), so it is never what rules a match out;
* **which rules conclude this fact** (:func:`producers`, :func:`rules_concluding`);
* **which firing declared this fact** (:func:`declared_by`; :func:`firings_of` an advice line,
  :func:`derivation_rules` the whole chain behind it).

:class:`Analysis` builds on them for lint: which rules can fire at all (a fixpoint over what
the live rules can conclude), and why an alternative of ``any`` cannot hold. It only ever says
"never" when it is sure (shared variables across patterns are not analysed).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

from haircare_expert.knowledge.conditions import AnyOf, Not, Pattern, Test, Var
from haircare_expert.knowledge.rulebook import Declaration, Rule, Rulebook
from haircare_expert.model import UNKNOWN, Firing

#: A declared value bound from a variable: it may be any value of the field.
ANY = object()
#: List fields with more distinct mentioned values than this are not enumerated (assumed fine).
MAX_SET_VALUES = 12


# -- the three questions --------------------------------------------------------------------------
def could_match(fields: Mapping[str, Any], pattern: Pattern) -> bool:
    """Whether a fact with these fields could match ``pattern`` (variable bindings aside).

    A field the fact lacks never matches; a value that is :data:`ANY` or a :class:`Var` might.
    """
    for test in pattern.tests:
        if test.field not in fields:
            return False
        value = fields[test.field]
        if test.op == "bind" or value is ANY or isinstance(value, Var):
            continue
        if not test.predicate()(value):
            return False
    return True


def could_conclude(decl: Declaration, pattern: Pattern) -> bool:
    """Whether a fact the declaration concludes could match ``pattern``."""
    return decl.type == pattern.type and could_match(dict(decl.fields), pattern)


def rule_could_conclude(rule: Rule, pattern: Pattern) -> bool:
    """Whether one of ``rule``'s declarations can give a fact that passes ``pattern``."""
    return any(could_conclude(decl, pattern) for decl in rule.declare)


def producers(rules: Iterable[Rule]) -> dict[str, list[tuple[Rule, Declaration]]]:
    """Fact type -> every (rule, declaration) that concludes a fact of that type, in rule order."""
    out: dict[str, list[tuple[Rule, Declaration]]] = {}
    for rule in rules:
        for decl in rule.declare:
            out.setdefault(decl.type, []).append((rule, decl))
    return out


def rules_concluding(rules: Iterable[Rule], pattern: Pattern) -> list[Rule]:
    """The rules (in order) that could conclude a fact matching ``pattern``."""
    return [rule for rule in rules if rule_could_conclude(rule, pattern)]


def declared_by(trace: Iterable[Firing]) -> dict[str, list[Firing]]:
    """Fact id -> the firings that declared it, first firing first (a merged fact has several)."""
    out: dict[str, list[Firing]] = {}
    for firing in trace:
        for fact_id in firing.declared:
            out.setdefault(fact_id, []).append(firing)
    return out


def firings_of(trace: Iterable[Firing], rule: str, matched: Iterable[str]) -> list[Firing]:
    """The firings of ``rule`` behind an advice line that matched ``matched`` facts (a line merges
    the firings that gave the same text); every firing of the rule when none fits."""
    trace, matched = list(trace), set(matched)
    hits = [f for f in trace if f.rule == rule and set(f.facts) <= matched]
    return hits or [f for f in trace if f.rule == rule]


def derivation_rules(trace: Sequence[Firing], starts: Iterable[Firing]) -> set[str]:
    """The rules of ``starts`` and, recursively, of the firings that declared the facts they matched."""
    first = {fid: firings[0] for fid, firings in declared_by(trace).items()}
    rules: set[str] = set()
    todo, seen = list(starts), set()
    while todo:
        firing = todo.pop()
        if id(firing) in seen:
            continue
        seen.add(id(firing))
        rules.add(firing.rule)
        todo.extend(first[f] for f in firing.facts if f in first)
    return rules


def all_patterns(rule: Rule) -> list[Pattern]:
    """Every pattern of every alternative of the rule, those inside ``not`` included."""
    out = []
    for variant in rule.variants():
        for cond in variant:
            out.extend([cond] if isinstance(cond, Pattern) else cond.body)
    return out


def not_conditions(conds) -> Iterable[Not]:
    """Every ``not`` among ``conds``, those inside ``any`` included."""
    for cond in conds:
        if isinstance(cond, Not):
            yield cond
        elif isinstance(cond, AnyOf):
            for alt in cond.alternatives:
                yield from not_conditions(alt)


# -- which rules can fire -----------------------------------------------------------------------
class Analysis:
    """Which rules can fire, which derived facts can exist, and why an alternative cannot hold."""

    def __init__(self, rulebook: Rulebook):
        self.rulebook = rulebook
        self.vocab = rulebook.vocabulary
        self.single = {t.name for t in self.vocab.types.values() if not t.derived and not t.many}
        self.live: set[str] = set()
        self.produced: dict[str, set[tuple]] = {}
        self.why: dict[tuple[str, int], str] = {}      # (rule, variant) -> reason it cannot hold
        self._fixpoint()

    # the fixpoint: a rule is live if one alternative can hold given what live rules conclude
    def _fixpoint(self) -> None:
        changed = True
        while changed:
            changed = False
            for rule in self.rulebook.rules:
                if rule.id in self.live:
                    continue
                for index, variant in enumerate(rule.variants()):
                    reason = self.impossible(variant)
                    if reason:
                        self.why[(rule.id, index)] = reason
                        continue
                    self.why.pop((rule.id, index), None)
                    self.live.add(rule.id)
                    for decl in rule.declare:
                        self.produced.setdefault(decl.type, set()).update(self.points(decl))
                    changed = True
                    break
        for rule in self.rulebook.rules:   # final reasons for the alternatives of live rules too
            for index, variant in enumerate(rule.variants()):
                reason = self.impossible(variant)
                if reason:
                    self.why[(rule.id, index)] = reason
                else:
                    self.why.pop((rule.id, index), None)

    def points(self, decl: Declaration) -> set[tuple]:
        """The concrete facts a declaration can produce (a variable: every value of the field)."""
        ftype = self.vocab.types[decl.type]
        options = []
        for name, value in decl.fields:
            if isinstance(value, Var):
                spec = ftype.fields[name]
                vals = list(spec.values) if spec.values else [ANY]
                options.append([(name, v) for v in vals])
            else:
                options.append([(name, value)])
        combos = [()]
        for opts in options:
            combos = [c + (o,) for c in combos for o in opts]
        return {tuple(sorted(c, key=lambda kv: kv[0])) for c in combos}

    def could_produce(self, decl: Declaration, pattern: Pattern) -> bool:
        """Whether some fact the declaration can produce (variables enumerated) matches ``pattern``."""
        return decl.type == pattern.type and any(self.could_match(pt, pattern) for pt in self.points(decl))

    @staticmethod
    def could_match(point: tuple, pattern: Pattern) -> bool:
        """A derived fact with these fields (a point) could match the pattern (bindings aside)."""
        return could_match(dict(point), pattern)

    # domains and satisfying sets
    def _domain(self, type_name: str, fname: str, mentioned: Sequence) -> list | None:
        spec = self.vocab.types[type_name].fields[fname]
        if spec.type == "choice":
            return list(spec.values) + [UNKNOWN]
        if spec.type == "bool":
            return [True, False, UNKNOWN]
        if spec.type == "int" and spec.min is not None and spec.max is not None:
            return list(range(spec.min, spec.max + 1)) + [UNKNOWN]
        if spec.type == "set":
            named = [v for v in spec.values if v in mentioned]
            other = [v for v in spec.values if v not in mentioned][:1]
            base = named + other
            if len(base) > MAX_SET_VALUES:
                return None
            subsets = [c for n in range(len(base) + 1) for c in combinations(base, n)]
            return subsets + [UNKNOWN]
        return None

    @staticmethod
    def mentioned(patterns: Iterable[Pattern]) -> dict[tuple[str, str], list]:
        """(type, field) -> the values the patterns' tests name (the values worth enumerating)."""
        out: dict[tuple[str, str], list] = {}
        for pat in patterns:
            for test in pat.tests:
                vals = out.setdefault((pat.type, test.field), [])
                if isinstance(test.value, tuple):
                    vals.extend(test.value)
                elif not isinstance(test.value, (Var, bool)):
                    vals.append(test.value)
        return out

    def _field_sets(self, pattern: Pattern, mentioned) -> dict[str, frozenset | None]:
        """For an input pattern: field -> the values that pass all its tests (None: not enumerable)."""
        by_field: dict[str, list[Test]] = {}
        for test in pattern.tests:
            by_field.setdefault(test.field, []).append(test)
        out = {}
        for fname, tests in by_field.items():
            domain = self._domain(pattern.type, fname, mentioned.get((pattern.type, fname), ()))
            if domain is None:
                out[fname] = None
                continue
            preds = [t.predicate() for t in tests if t.op != "bind"]
            out[fname] = frozenset(v for v in domain if all(p(v) for p in preds))
        return out

    def _derived_set(self, pattern: Pattern) -> frozenset:
        """For a derived pattern: the producible facts (as field tuples) that match it."""
        return frozenset(pt for pt in self.produced.get(pattern.type, ()) if self.could_match(pt, pattern))

    def pattern_set(self, pattern: Pattern, mentioned) -> Any:
        if self.vocab.types[pattern.type].derived:
            return self._derived_set(pattern)
        return self._field_sets(pattern, mentioned)

    @staticmethod
    def implies(p_set, q_set, derived: bool) -> bool:
        """Every fact matching P (set p_set) also matches Q (set q_set)."""
        if derived:
            return p_set <= q_set
        for fname, q_vals in q_set.items():
            p_vals = p_set.get(fname)
            if p_vals is None or q_vals is None or not p_vals <= q_vals:
                return False
        return True

    def impossible(self, variant: Sequence[Pattern | Not]) -> str:
        """Why this flat conjunction can never hold ("" when it might)."""
        positives = [c for c in variant if isinstance(c, Pattern)]
        nots = [c for c in variant if isinstance(c, Not)]
        mentioned = self.mentioned(positives + [p for n in nots for p in n.body])
        sets = []
        for pat in positives:
            derived = self.vocab.types[pat.type].derived
            s = self.pattern_set(pat, mentioned)
            sets.append((pat, s, derived))
            if derived and not s:
                if not self.produced.get(pat.type):
                    return f"no rule that can fire concludes a {pat.type} fact (needed by '{pat.describe()}')"
                return f"no rule that can fire concludes a fact matching '{pat.describe()}'"
            if not derived:
                for fname, vals in s.items():
                    if vals is not None and not vals:
                        return self._empty_reason(pat, fname)
        merged: dict[str, dict] = {}
        for pat, s, derived in sets:
            if derived or pat.type not in self.single:
                continue
            into = merged.setdefault(pat.type, {})
            for fname, vals in s.items():
                if fname in into and vals is not None and into[fname] is not None:
                    both = into[fname] & vals
                    if not both:
                        tests = [t.describe() for p, _, _ in sets if p.type == pat.type
                                 for t in p.tests if t.field == fname and t.op != "bind"]
                        return (f"there is only one {pat.type} fact and no {fname} value "
                                f"passes all of: {'; '.join(tests)}")
                    into[fname] = both
                elif fname not in into or into[fname] is None:
                    into[fname] = vals
        for neg in nots:
            if len(neg.body) != 1:
                continue
            q = neg.body[0]
            if any(t.op == "bind" for t in q.tests):
                continue
            derived = self.vocab.types[q.type].derived
            q_set = self.pattern_set(q, mentioned)
            candidates = [(pat, s) for pat, s, d in sets if pat.type == q.type]
            if q.type in merged:
                candidates.append((None, merged[q.type]))
            for pat, p_set in candidates:
                if self.implies(p_set, q_set, derived):
                    needs = f"'{pat.describe()}'" if pat else f"the {q.type} patterns"
                    return f"'{neg.describe()}' excludes every {q.type} fact that {needs} needs"
        return ""

    def _empty_reason(self, pat: Pattern, fname: str) -> str:
        spec = self.vocab.types[pat.type].fields[fname]
        tests = "; ".join(t.describe() for t in pat.tests if t.field == fname and t.op != "bind")
        if spec.type == "int":
            return f"{pat.type}.{fname} runs from {spec.min} to {spec.max}: no value passes {tests}"
        return f"no value of {pat.type}.{fname} passes all of: {tests}"

    def vacuous_not(self, neg: Not) -> bool:
        """The negated pattern can never match (so the ``not`` always holds)."""
        if len(neg.body) != 1:
            return False
        q = neg.body[0]
        q_set = self.pattern_set(q, self.mentioned([q]))
        if self.vocab.types[q.type].derived:
            return not q_set
        return any(v is not None and not v for v in q_set.values())

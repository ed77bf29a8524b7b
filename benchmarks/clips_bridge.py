"""The same rules on CLIPS (through clipspy), for a side-by-side speed comparison.

:func:`translate` turns a loaded rulebook into CLIPS constructs with the engine's meaning:

* one deftemplate per fact type of the vocabulary; a ``set`` field is a multislot, every other
  field a slot. A field the fact lacks holds the symbol ``MISSING_`` and the answer ``unknown``
  is the string ``"unknown"`` (in a multislot the symbol ``UNKNOWN_``), so no test can mistake
  either for a value, as in :func:`haircare_expert.knowledge.conditions.make_predicate`;
* one defrule per alternative of a rule (``any`` expanded), with the engine's salience (the
  strata order: what a negation depends on is derived before it is tested); every test as a
  native CLIPS constraint (literals where the engine tests equality, predicates otherwise), a
  ``not`` as ``(not (and ...))``; the conclusions as one ``assert`` (CLIPS, like the engine,
  keeps one fact per content).

:class:`ClipsEngine` runs it per profile: ``reset``, assert the input facts, ``run``. With
``record=True`` each firing also asserts a ``fired__`` fact (which no rule matches), so
:meth:`ClipsEngine.outcome` gives what :func:`engine_outcome` gives for the engine: the
firing count of every rule and the derived facts, compared on every profile timed.

clipspy 1.0.6 never releases a fact it hands to Python (``Fact.__del__`` calls ``ReleaseFact``
with an argument too many, and swallows the TypeError): every fact asserted from Python stays
retained and CLIPS slows down as they pile up (5x over 3,000 profiles). :func:`_release`
releases each one explicitly.
"""
from __future__ import annotations

from collections import Counter

import clips
from clips._clips import lib

from haircare_expert.knowledge.conditions import Not, Pattern, Var

NEVER = "(eq 0 1)"


def _join(word: str, parts: list[str]) -> str:
    """``(or a b)`` / ``(and a b)``; one part alone (CLIPS wants two or more)."""
    return parts[0] if len(parts) == 1 else f"({word} {' '.join(parts)})"


def _lit(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Translator:
    def __init__(self, rulebook):
        self.rulebook = rulebook
        self.vocabulary = rulebook.vocabulary
        self.sets = {(name, f) for name, t in self.vocabulary.types.items()
                     for f, spec in t.fields.items() if spec.type == "set"}
        self.names: dict[str, str] = {}    # CLIPS rule name -> rule id

    def templates(self) -> list[str]:
        out = ["(deftemplate fired__ (slot rule) (slot n))"]
        for name, ftype in self.vocabulary.types.items():
            slots = [f"(multislot {f} (default MISSING_))" if (name, f) in self.sets
                     else f"(slot {f} (default MISSING_))" for f in ftype.fields]
            out.append(f"(deftemplate {name} {' '.join(slots)})")
        return out

    def rules(self, record: bool) -> list[str]:
        order = sorted(self.rulebook.rules, key=lambda r: (r.stratum, -r.salience, r.id))
        top = len(order)
        out = []
        for rank, rule in enumerate(order):
            for index, variant in enumerate(rule.variants()):
                name = f"R{rank}-{index}"
                self.names[name] = rule.id
                self._counter = 0
                lhs = " ".join(self._condition(c) for c in variant)
                rhs = []
                facts = [self._declare(d) for d in rule.declare]
                if facts:
                    rhs.append(f"(assert {' '.join(facts)})")
                if record:
                    rhs.append(f'(assert (fired__ (rule {name}) (n (gensym*))))')
                salience = max(-10000, min(10000, top - rank))
                out.append(f"(defrule {name} (declare (salience {salience})) {lhs} => {' '.join(rhs)})")
        return out

    def _condition(self, cond) -> str:
        if isinstance(cond, Not):
            body = [self._pattern(p) for p in cond.body]
            return f"(not {body[0]})" if len(body) == 1 else f"(not (and {' '.join(body)}))"
        return self._pattern(cond)

    def _pattern(self, pattern: Pattern) -> str:
        by_field: dict[str, list] = {}
        for test in pattern.tests:
            by_field.setdefault(test.field, []).append(test)
        slots = []
        for fname, tests in by_field.items():
            multi = (pattern.type, fname) in self.sets
            bind = next((t.value.name for t in tests if t.op == "bind"), None)
            if bind:
                var = ("$?v_" if multi else "?v_") + bind
            else:
                self._counter += 1
                var = ("$?t" if multi else "?t") + str(self._counter)
            terms = [var, ":(not (member$ MISSING_ $?X))" if multi else "~MISSING_"]
            for test in tests:
                if test.op != "bind":
                    terms.append((self._set_test if multi else self._scalar_test)(test, var, fname, pattern.type))
            constraint = "&".join(terms).replace("$?X", var)
            slots.append(f"({fname} {constraint})")
        return f"({pattern.type}{' ' if slots else ''}{' '.join(slots)})"

    def _scalar_test(self, test, var, fname, ftype) -> str:
        op, value = test.op, test.value
        is_bool = self.vocabulary.types[ftype].fields[fname].type == "bool"
        if op == "eq":
            return _lit(value)
        if op == "ne":
            return f'~"unknown"&~{_lit(value)}'
        if op == "in":
            if is_bool:
                return f":{NEVER}"
            return ":" + _join("or", [f"(eq {var} {_lit(v)})" for v in value])
        if op == "not_in":
            return '~"unknown"&:(not ' + _join("or", [f"(eq {var} {_lit(v)})" for v in value]) + ")"
        if op in ("lt", "le", "gt", "ge"):
            sign = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
            return f":(integerp {var})&:({sign} {var} {value})"
        if op == "known":
            return '~"unknown"' if value else '"unknown"'
        return f":{NEVER}"      # contains, empty...: a scalar is never a set

    def _set_test(self, test, var, fname, ftype) -> str:
        op, value = test.op, test.value
        known = f":(not (member$ UNKNOWN_ {var}))"
        if op == "contains":
            return f":(member$ {_lit(value)} {var})"
        if op == "contains_any":
            return ":" + _join("or", [f"(member$ {_lit(v)} {var})" for v in value])
        if op == "contains_all":
            return ":" + _join("and", [f"(member$ {_lit(v)} {var})" for v in value])
        if op == "contains_none":
            return known + "&:(not " + _join("or", [f"(member$ {_lit(v)} {var})" for v in value]) + ")"
        if op == "empty":
            return known + (f"&:(= (length$ {var}) 0)" if value else f"&:(> (length$ {var}) 0)")
        if op == "eq":
            return f":(member$ UNKNOWN_ {var})" if value == "unknown" else f":{NEVER}"
        if op == "ne":
            return known
        if op == "in":
            return f":(member$ UNKNOWN_ {var})" if "unknown" in value else f":{NEVER}"
        if op == "known":
            return known if value else f":(member$ UNKNOWN_ {var})"
        return f":{NEVER}"      # not_in, numbers: a set never passes

    def _declare(self, decl) -> str:
        slots = []
        for fname, value in decl.fields:
            slots.append(f"({fname} {'?v_' + value.name if isinstance(value, Var) else _lit(value)})")
        return f"({decl.type} {' '.join(slots)})"


def translate(rulebook, record: bool = False) -> tuple[list[str], dict[str, str]]:
    """(CLIPS constructs, CLIPS rule name -> rule id) for ``rulebook``."""
    translator = _Translator(rulebook)
    return translator.templates() + translator.rules(record), translator.names


def _release(fact) -> None:
    """What clipspy 1.0.6's ``Fact.__del__`` means to do (it passes an argument too many)."""
    lib.ReleaseFact(fact._fact)


class ClipsEngine:
    """A rulebook translated to CLIPS, run per profile like :class:`Engine` (build once)."""

    def __init__(self, rulebook, record: bool = False):
        self.env = clips.Environment()
        constructs, self.names = translate(rulebook, record)
        for construct in constructs:
            self.env.build(construct)
        self.templates = {t.name: t for t in self.env.templates()}
        self.sets = _Translator(rulebook).sets
        self.derived = {name for name, t in rulebook.vocabulary.types.items() if t.derived}

    def run(self, facts) -> int:
        """Reset, assert the input facts, run the rules; the number of firings."""
        env = self.env
        env.reset()
        templates, sets = self.templates, self.sets
        for fact in facts:
            slots = {}
            for name, value in fact.fields.items():
                if (fact.type, name) in sets:
                    value = [clips.Symbol("UNKNOWN_")] if value == "unknown" else list(value)
                slots[name] = value
            _release(templates[fact.type].assert_fact(**slots))
        return env.run()

    def outcome(self) -> tuple[Counter, set]:
        """After :meth:`run` of a recording engine: (firings per rule id, derived facts)."""
        fired: Counter = Counter()
        derived = set()
        for fact in self.env.facts():
            name = fact.template.name
            if name == "fired__":
                fired[self.names[str(fact["rule"])]] += 1
            elif name in self.derived:
                derived.add((name, tuple(sorted((k, _norm(v)) for k, v in dict(fact).items()
                                                if not (isinstance(v, clips.Symbol) and v == "MISSING_")))))
            _release(fact)
        return fired, derived


def _norm(value):
    if isinstance(value, bool):
        return ("sym", "TRUE" if value else "FALSE")
    if isinstance(value, clips.Symbol):
        return ("sym", str(value))
    if isinstance(value, int):
        return ("int", value)
    return ("str", str(value))


def engine_outcome(all_facts, trace) -> tuple[Counter, set]:
    """The engine's (firings per rule id, derived facts), as :meth:`ClipsEngine.outcome`."""
    fired = Counter(firing.rule for firing in trace)
    derived = {(f.type, tuple(sorted((k, _norm(v)) for k, v in f.fields.items())))
               for f in all_facts if f.origin.startswith("rule:")}
    return fired, derived

"""What the interview planner works out from the rules alone, once per rulebook: each rule's
alternatives as a walk reads them, the patterns alike merged, which rules could conclude each
derived pattern's fact, the order a refresh goes in, and what an answer to each key changes."""
from __future__ import annotations

import re
import weakref
from typing import Any

from haircare_expert.knowledge.analysis import could_conclude, producers
from haircare_expert.knowledge.conditions import Not, Pattern, Var, match_pattern
from haircare_expert.knowledge.questions import PRODUCTS_KEY
from haircare_expert.knowledge.rulebook import Rule, Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import ADVICE_KINDS

#: An answer key of a routine entry: ``routine[2].per_week``.
_ENTRY_KEY_RE = re.compile(r"routine\[\d+\]\.([a-z_]+)$")
#: How many facts' matching patterns a rulebook's index keeps (then it starts again).
_MATCHING_KEPT = 50_000


class RuleIndex:
    """What the planner works out from the rules alone, once per rulebook."""

    _known: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, rulebook: Rulebook, vocab: Vocabulary) -> RuleIndex:
        index = cls._known.get(rulebook)
        if index is None or index.vocab is not vocab:
            index = cls._known[rulebook] = cls(rulebook, vocab)
        return index

    def __init__(self, rulebook: Rulebook, vocab: Vocabulary):
        self.rulebook = rulebook
        self.vocab = vocab
        self.producers: dict[str, list[tuple[Rule, Any]]] = producers(rulebook.rules)
        self.varies = {r.id: can_vary(r) for r in rulebook.rules}
        red_flag = rulebook.vocabulary.red_flag
        self.flags = {r.id: r.kind == "referral" or red_flag in r.concludes() for r in rulebook.rules}
        self.negates = {r.id: bool(r.negated_types()) for r in rulebook.rules}
        self.rank = {rid: i for i, rid in enumerate(sorted(self.flags, key=self._rule_rank))}
        # per rule: (rule, red flag, its node in a walk, its node once it fired: None when a
        # second firing can say something new, so it is walked as if it had not fired)
        self.top = [(rule, self.flags[rule.id], ("rule", rule.id, False),
                     None if self.varies[rule.id] else ("rule", rule.id, True)) for rule in rulebook.rules]
        self.place = {rule.id: place for place, rule in enumerate(rulebook.rules)}
        self.patterns: list[Pattern] = []           # one pattern of each distinct content
        self._contents: dict[tuple, int] = {}
        self.checks: dict[int, tuple] = {}          # input pattern -> see _checks
        self.compatible: dict[int, list[Rule]] = {}   # derived pattern -> its producers
        self.steps = {rule.id: self._steps(rule) for rule in rulebook.rules}
        self.watch_present, self.watch_holds = self._watched()
        self._matching: dict[tuple, tuple] = {}       # (holds, fact key) -> the patterns it matches
        self.input_readers: dict[tuple, list[int]] = {}    # what an answer changes -> input patterns reading it
        for index, (_, _, reading, _) in self.checks.items():
            for token in reading:
                self.input_readers.setdefault(token, []).append(index)
        self.feeds: dict[str, list[int]] = {}       # rule id -> the derived patterns it could conclude
        for index, rules in self.compatible.items():
            for rule in rules:
                self.feeds.setdefault(rule.id, []).append(index)
        # pattern -> the derived patterns whose producers could wait on its answers
        self.down = {index: tuple(sorted({d for r in rules for d in self.feeds.get(r, ())}))
                     for index, rules in self._testers().items()}
        self.order = self._producer_order()
        self.agg_rank = {index: 2 * max((self.order[r.id] for r in rules), default=-1) + 1
                         for index, rules in self.compatible.items()} if self.order is not None else {}
        self.answer_map = self._answer_reads()

    def _canonical(self, pattern: Pattern) -> int:
        """The index of the pattern's content (type and tests): patterns alike share results."""
        content = (pattern.type, tuple((t.field, t.op, repr(t.value)) for t in pattern.tests))
        index = self._contents.get(content)
        if index is None:
            index = self._contents[content] = len(self.patterns)
            self.patterns.append(pattern)
            ftype = self.vocab.types[pattern.type]
            if ftype.derived:
                rules = {rule.id: rule for rule, decl in self.producers.get(pattern.type, ())
                         if could_conclude(decl, pattern)}
                self.compatible[index] = list(rules.values())
            else:
                self.checks[index] = self._checks(pattern, ftype)
        return index

    def _steps(self, rule: Rule) -> tuple:
        """The rule's alternatives as a walk reads them: per condition (negated, the pattern
        index of a one-pattern 'not' without variables or None, its patterns as (pattern,
        index, fact type))."""
        out = []
        for variant in rule.variants():
            conds = []
            for cond in variant:
                negated = isinstance(cond, Not)
                body = cond.body if negated else (cond,)
                holds = None
                if negated and len(body) == 1 and not any(t.op == "bind" for t in body[0].tests):
                    holds = self._canonical(body[0])
                conds.append((negated, holds, tuple((p, self._canonical(p), self.vocab.types[p.type])
                                                    for p in body)))
            out.append(tuple(conds))
        return tuple(out)

    def _checks(self, pattern: Pattern, ftype) -> tuple[list[str], list, tuple, bool]:
        """(fields the input pattern tests that a client answers, (field, predicate) of its
        tests but variable bindings, what a walk reads to test it, whether it has no tests)."""
        tested = [t.field for t in pattern.tests if not ftype.fields[t.field].generated]
        checks = [(t.field, t.predicate()) for t in pattern.tests if t.op != "bind"]
        names = dict.fromkeys(tested + [f for f, _ in checks])
        if ftype.many:
            reads = (("key", PRODUCTS_KEY),) + tuple(("entry-field", f) for f in names)
            return tested, checks, reads, not pattern.tests
        reads = tuple(("key", field_key(self.vocab, ftype.name, f)) for f in names)
        if not pattern.tests:
            reads += (("section", ftype.name),)
        return tested, checks, reads, not pattern.tests

    def _watched(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Fact type -> the derived patterns whose presence a walk reads, and the one-pattern
        ``not`` bodies whose holding it reads (by pattern index)."""
        present: dict[str, dict[int, None]] = {}
        holds: dict[str, dict[int, None]] = {}
        for variants in self.steps.values():
            for variant in variants:
                for _, held, patterns in variant:
                    if held is not None:
                        holds.setdefault(self.patterns[held].type, {})[held] = None
                    for pattern, index, ftype in patterns:
                        if ftype.derived:
                            present.setdefault(pattern.type, {})[index] = None
        return ({t: list(v) for t, v in present.items()}, {t: list(v) for t, v in holds.items()})

    def _testers(self) -> dict[int, set[str]]:
        """Pattern -> the ids of the rules that test it."""
        out: dict[int, set[str]] = {}
        for rule_id, variants in self.steps.items():
            for variant in variants:
                for _, _, patterns in variant:
                    for _, index, _ in patterns:
                        out.setdefault(index, set()).add(rule_id)
        return out

    def _producer_order(self) -> dict[str, int] | None:
        """Each rule's place, the rules that could conclude what it tests before it; None when
        some rules could conclude each other's facts in a circle (then every answer re-walks
        everything: which result a circle gives depends on where the walk enters it)."""
        edges = {rid: [r.id for variant in variants for _, _, patterns in variant
                       for _, index, ftype in patterns if ftype.derived for r in self.compatible[index]]
                 for rid, variants in self.steps.items()}
        order: dict[str, int] = {}
        for root in edges:
            if root in order:
                continue
            stack, busy = [(root, iter(edges[root]))], {root}
            while stack:
                node, children = stack[-1]
                child = next(children, None)
                if child is None:
                    stack.pop()
                    busy.discard(node)
                    order[node] = len(order)
                elif child in busy:
                    return None
                elif child not in order:
                    busy.add(child)
                    stack.append((child, iter(edges[child])))
        return order

    def matching(self, holds: bool, key: tuple, facts: dict, more: dict | None = None) -> tuple[int, ...]:
        """The one-pattern 'not' bodies (``holds``) or the derived patterns a walk reads that the
        fact with this key (in ``facts`` or ``more``) matches; kept per fact key."""
        found = self._matching.get((holds, key))
        if found is None:
            fact = facts.get(key) or more[key]
            watched = (self.watch_holds if holds else self.watch_present).get(fact.type, ())
            found = tuple(index for index in watched
                          if match_pattern(self.patterns[index], fact, {}) is not None)
            if len(self._matching) >= _MATCHING_KEPT:
                self._matching.clear()
            self._matching[(holds, key)] = found
        return found

    def node_rank(self, node: tuple) -> int:
        """A result's place in a refresh: after every result it reads."""
        if node[0] == "rule":
            return 2 * self.order[node[1]]
        return self.agg_rank[node[1]]

    def _answer_reads(self) -> dict[str, tuple]:
        """Answer key -> what a walk reads that an answer to it changes."""
        out: dict[str, tuple] = {PRODUCTS_KEY: (("key", PRODUCTS_KEY),)}
        for ftype in self.vocab.types.values():
            if ftype.derived or ftype.many:
                continue
            for fname in ftype.fields:
                key = field_key(self.vocab, ftype.name, fname)
                out[key] = (("key", key), ("section", ftype.name))
        return out

    def answer_reads(self, key: str) -> tuple | None:
        """What a walk reads that an answer to ``key`` changes (None: not a key it knows)."""
        reads = self.answer_map.get(key)
        if reads is None:
            match = _ENTRY_KEY_RE.match(key)
            if match:
                reads = (("entry-field", match.group(1)),)
            elif key.startswith("client."):
                reads = ()
        return reads

    def _rule_rank(self, rule_id: str) -> tuple:
        rule = self.rulebook.by_id[rule_id]
        kinds = ADVICE_KINDS + ("derive",)
        return (not self.flags[rule_id], kinds.index(rule.kind) if rule.kind in kinds else 99,
                -rule.salience, rule.id)


def field_key(vocab: Vocabulary, type_name: str, fname: str) -> str:
    ftype = vocab.types[type_name]
    if ftype.list_field == fname:
        return ftype.section
    if ftype.many and fname == "product":
        return PRODUCTS_KEY
    return f"{ftype.section}.{fname}"


def can_vary(rule: Rule) -> bool:
    """Whether a second firing of the rule can say or conclude something new."""
    if any(isinstance(v, Var) for d in rule.declare for _, v in d.fields):
        return True
    return any("{{" in text for text in (rule.advise, *rule.steps))

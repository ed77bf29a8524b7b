"""Which questions can still change the advice, decided from the rules.

The walk over the rules is kept from one answer to the next: each result remembers what it read
(answers, fired rules, derived facts, other rules' results), and after an answer only the
results whose reads changed are worked out again, the rules that could conclude a fact before
the rules that test it; a result that comes out the same stops the change there. The plan is
the one a walk from scratch gives (``tests/test_interview_planner.py`` drives interviews and
compares them at every step).
"""
from __future__ import annotations

import heapq
import re
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from haircare_expert.consult.interview.session import Session
from haircare_expert.knowledge.analysis import could_conclude, declared_by, producers
from haircare_expert.knowledge.conditions import Not, Pattern, Var, match_pattern
from haircare_expert.knowledge.questions import PRODUCTS_KEY, QuestionBook, Slot
from haircare_expert.knowledge.rulebook import Rule, Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import ADVICE_KINDS, Consultation, Fact, Firing

#: An answer key of a routine entry: ``routine[2].per_week``.
_ENTRY_KEY_RE = re.compile(r"routine\[\d+\]\.([a-z_]+)$")
_ABSENT = object()


# -- the planner ---------------------------------------------------------------------------------
@dataclass
class Plan:
    """What to ask next, what is still open, and which rules wait on each open question."""

    next: Slot | None
    pending: list[Slot]                         #: every question still worth asking, next first
    waiting: dict[str, list[str]]               #: key -> ids of the rules waiting on its answer
    needed_for: dict[str, str] = field(default_factory=dict)  #: key -> key of the question it unlocks
    red_flag: set = field(default_factory=set)  #: keys that feed a referral or a red flag
    per_product: int = 0                        #: questions each product may bring (estimate)


class Planner:
    """Decides from the rules which questions can still change the advice.

    Unasked fields are absent from the facts. A rule that fired waits only on the answers that
    could make one of its ``not`` conditions match (and so undo it), unless a new firing could
    say something different (its text or conclusions use variables). Every other rule is walked:
    a pattern on an input fact is still possible for a fact whose answered fields pass its
    tests, and its unanswered tested fields are what it waits on; a pattern on a derived fact
    waits on whatever the unsettled rules that could conclude such a fact wait on (the derive
    chain). A rule none of whose alternatives is still possible waits on nothing.

    A planner remembers its last walk (see the module's doc): one planner per interview. What
    it works out from the rules alone is shared by every planner on the same rulebook.
    """

    def __init__(self, rulebook: Rulebook, book: QuestionBook):
        self.rulebook = rulebook
        self.book = book
        self.rules = _RuleIndex.of(rulebook, book.vocabulary)
        self._memory = _Memory()

    # -- the plan --------------------------------------------------------------------------------
    def plan(self, session: Session, consultation: Consultation) -> Plan:
        """What to ask next, given the answers and the consultation they give."""
        return self.plan_run(session, consultation.facts, consultation.trace)

    def plan_run(self, session: Session, facts: Sequence[Fact], trace: Sequence[Firing]) -> Plan:
        """What to ask next, given the answers and the facts and firings of the engine's run
        over them (what :meth:`plan` reads of a consultation)."""
        answers = session.answers
        fired = {firing.rule for firing in trace}
        waiting = self._waiting(self._walk(answers, facts, trace, fired), fired)
        for key, rule_id in self._calendar_waits(fired):
            if key not in answers and rule_id not in waiting.setdefault(key, []):
                waiting[key].append(rule_id)
        # fields some rule wants from routine entries that do not exist yet: only an estimate
        per_product = {k for k in waiting if k.startswith("routine[*].")}
        for key in per_product:
            del waiting[key]
        listed = self.book.slots(answers)
        slots = {s.key: s for s in listed}
        askable, needed_for = self._askable(waiting, slots, answers)
        flags = self.rules.flags
        red = {k for k in askable if any(flags[r] for r in waiting.get(k, ()))}
        for slot in slots.values():       # the client block is always asked, first
            if slot.question.fact_type == "client" and slot.key not in answers:
                askable[slot.key] = slot
        pending = self._in_order(askable, red, listed)
        waiting = {k: sorted(v, key=self.rules.rank.__getitem__) for k, v in waiting.items()}
        return Plan(pending[0] if pending else None, pending, waiting, needed_for, red,
                    len(per_product))

    def _walk(self, answers: dict, facts: Sequence[Fact], trace: Sequence[Firing], fired: set) -> _Walk:
        """A walk over the rules for this state, the last walk's results kept where what they
        read is unchanged."""
        memory, rules = self._memory, self.rules
        state = _State.of(rules, answers, facts, trace, fired)
        changes = _changes(rules, memory.state, state)
        if changes is None:
            memory.clear()
        walk = _Walk(rules, state, memory)
        if changes:
            walk.refresh(changes)
        # a state whose facts' stability goes round in a circle is never built on
        memory.state = None if state.tangled or rules.order is None else state
        return walk

    def _waiting(self, walk: _Walk, fired: set) -> dict[str, list[str]]:
        """Answer key -> the rules (in rule order) that wait on it."""
        waiting: dict[str, list[str]] = {}
        known = walk.memory.results
        for rule, rule_id, varies in self.rules.top:
            # a rule that fired can still be undone by an answer that makes one of its 'not'
            # conditions match; a second firing matters only if it can say something new
            settled = rule_id in fired and not varies
            alive, needs = known.get(("rule", rule_id, settled)) or walk.rule(rule, settled)
            if alive:
                for key in needs:
                    waiting.setdefault(key, []).append(rule_id)
        return waiting

    def _askable(self, waiting: dict, slots: dict, answers: dict) -> tuple[dict, dict]:
        """(key -> slot of each question worth asking now, key -> key of the question an
        unanswered one decides whether to ask); ``waiting`` gains the rules behind each."""
        needed_for: dict[str, str] = {}
        askable: dict[str, Slot] = {}
        todo = [k for k in waiting if k in slots and k not in answers]
        while todo:
            key = todo.pop(0)
            slot = slots[key]
            state = self.applies(slot, answers)
            if state is False:
                continue
            if state is True:
                askable[key] = slot
                continue
            for ref in state:             # unanswered answers this question depends on
                if ref in slots and ref not in answers and ref not in askable and ref not in needed_for:
                    needed_for[ref] = key
                    waiting.setdefault(ref, [])
                    for rid in waiting[key]:
                        if rid not in waiting[ref]:
                            waiting[ref].append(rid)
                    todo.append(ref)
        return askable, needed_for

    def _in_order(self, askable: dict, red: set, slots: list[Slot]) -> list[Slot]:
        """The askable questions in the order to ask them: the client block, red flags, the rest."""
        order = {s.key: i for i, s in enumerate(slots)}
        products_order = next((q.order for q in self.book.questions if q.creates_entries), 0)

        def rank(slot: Slot) -> tuple:
            q = slot.question
            group = 0 if q.fact_type == "client" else (1 if slot.key in red else 2)
            if q.per_entry:
                return (group, products_order + 0.5, slot.entry, q.order)
            return (group, q.order, -1, order[slot.key])

        return sorted(askable.values(), key=rank)

    def _calendar_waits(self, fired: set[str]) -> list[tuple[str, str]]:
        """(answer key, rule id) for each fired rule whose calendar entries need that count.

        The weekly calendar: a rule that fired and puts something on wash days (or heat days)
        makes the wash (heat) count worth asking, even when no rule's condition tests it.
        """
        vocab = self.book.vocabulary
        if "habits" not in vocab.types:
            return []
        needs = {"wash": "washes_per_week", "between": "washes_per_week",
                 "heat": "heat_styling_per_week"}
        out = []
        for rule_id in sorted(fired):
            rule = self.rulebook.by_id.get(rule_id)
            for entry in (rule.schedule if rule else ()):
                fname = needs.get(entry.days)
                if fname and fname in vocab.types["habits"].fields:
                    out.append((_field_key(vocab, "habits", fname), rule_id))
        return out

    def applies(self, slot: Slot, answers: dict):
        """True / False, or the keys of the unanswered answers that decide it."""
        missing = []
        for ref_type, test in slot.question.when:
            key = (f"routine[{slot.entry}].{test.field}" if ref_type == "" else
                   _field_key(self.book.vocabulary, ref_type, test.field))
            if test.field == "product" and ref_type == "":
                value = slot.product
            elif key not in answers:
                missing.append(key)
                continue
            else:
                value = answers[key]
            if not test.predicate()(value):
                return False
        return missing or True

class _RuleIndex:
    """What the planner works out from the rules alone, once per rulebook."""

    _known: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, rulebook: Rulebook, vocab: Vocabulary) -> _RuleIndex:
        index = cls._known.get(rulebook)
        if index is None or index.vocab is not vocab:
            index = cls._known[rulebook] = cls(rulebook, vocab)
        return index

    def __init__(self, rulebook: Rulebook, vocab: Vocabulary):
        self.rulebook = rulebook
        self.vocab = vocab
        self.producers: dict[str, list[tuple[Rule, Any]]] = producers(rulebook.rules)
        self.varies = {r.id: _varies(r) for r in rulebook.rules}
        red_flag = rulebook.vocabulary.red_flag
        self.flags = {r.id: r.kind == "referral" or red_flag in r.concludes() for r in rulebook.rules}
        self.negates = {r.id: bool(r.negated_types()) for r in rulebook.rules}
        self.rank = {rid: i for i, rid in enumerate(sorted(self.flags, key=self._rule_rank))}
        self.top = [(rule, rule.id, self.varies[rule.id]) for rule in rulebook.rules]
        self.patterns: list[Pattern] = []           # one pattern of each distinct content
        self._contents: dict[tuple, int] = {}
        self.checks: dict[int, tuple] = {}          # input pattern -> see _checks
        self.compatible: dict[int, list[Rule]] = {}   # derived pattern -> its producers
        self.steps = {rule.id: self._steps(rule) for rule in rulebook.rules}
        self.watch_present, self.watch_holds = self._watched()
        self.feeds: dict[str, list[int]] = {}       # rule id -> the derived patterns it could conclude
        for index, rules in self.compatible.items():
            for rule in rules:
                self.feeds.setdefault(rule.id, []).append(index)
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
        reads = tuple(("key", _field_key(self.vocab, ftype.name, f)) for f in names)
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
                key = _field_key(self.vocab, ftype.name, fname)
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


def _field_key(vocab: Vocabulary, type_name: str, fname: str) -> str:
    ftype = vocab.types[type_name]
    if ftype.list_field == fname:
        return ftype.section
    if ftype.many and fname == "product":
        return PRODUCTS_KEY
    return f"{ftype.section}.{fname}"


def _varies(rule: Rule) -> bool:
    """Whether a second firing of the rule can say or conclude something new."""
    if any(isinstance(v, Var) for d in rule.declare for _, v in d.fields):
        return True
    return any("{{" in text for text in (rule.advise, *rule.steps))


def _changes(rules: _RuleIndex, old: _State | None, new: _State) -> set | None:
    """What a walk reads that differs between two states (None: too much to say; walk anew)."""
    if old is None or new.tangled or rules.order is None:
        return None
    changed: set = set()
    for key in old.answers.keys() | new.answers.keys():
        if not _same(old.answers.get(key, _ABSENT), new.answers.get(key, _ABSENT)):
            reads = rules.answer_reads(key)
            if reads is None:
                return None
            changed.update(reads)
    changed.update(("fired", rule_id) for rule_id in old.fired ^ new.fired)
    for fact in _differ(old.derived, new.derived, old.examples, new.examples, False):
        changed.update(("present", index) for index in rules.watch_present.get(fact.type, ())
                       if match_pattern(rules.patterns[index], fact, {}) is not None)
    for fact in _differ(old.shown, new.shown, old.examples, new.examples, True):
        changed.update(("holds", index) for index in rules.watch_holds.get(fact.type, ())
                       if match_pattern(rules.patterns[index], fact, {}) is not None)
    return changed


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type, all the way down (``1`` is not ``True`` to a test)."""
    if type(a) is not type(b) or a != b:
        return False
    if isinstance(a, tuple):
        return all(_same(x, y) for x, y in zip(a, b))
    return True


def _differ(old: Counter, new: Counter, old_facts: dict, new_facts: dict, paired: bool) -> list[Fact]:
    """A fact for each entry one count has and the other has not (as often); the entries are
    fact keys, or (fact key, something) pairs when ``paired``."""
    out = []
    for entry in (old - new) + (new - old):
        key = entry[0] if paired else entry
        out.append(new_facts.get(key) or old_facts[key])
    return out


# -- what a walk reads of a consultation -----------------------------------------------------------
@dataclass
class _State:
    """The answers and the consultation, as a walk reads them, and as two states are compared."""

    answers: dict
    fired: frozenset
    derived: Counter            # fact key of each concluded fact
    shown: Counter              # (fact key, stable) of each fact a one-pattern 'not' looks at
    examples: dict              # fact key -> a fact with that key
    by_type: dict
    derived_by_type: dict
    declared_by: dict
    stable: dict                # fact id -> no further answer can take it away
    tangled: bool               # the facts' stability depends on itself (see _stability)

    @classmethod
    def of(cls, rules: _RuleIndex, answers: dict, facts: Sequence[Fact], trace: Sequence[Firing],
           fired: set) -> _State:
        by_type: dict[str, list[Fact]] = {}
        derived_by_type: dict[str, list[Fact]] = {}
        derived: Counter = Counter()
        examples: dict[tuple, Fact] = {}
        for fact in facts:
            by_type.setdefault(fact.type, []).append(fact)
            if not fact.origin.startswith("profile:"):
                derived_by_type.setdefault(fact.type, []).append(fact)
                key = fact.key()
                derived[key] += 1
                examples[key] = fact
        firings = declared_by(trace)
        watched = [f for t in rules.watch_holds for f in by_type.get(t, ())]
        stable, tangled = _stability(watched, firings, rules.negates)
        shown: Counter = Counter()
        for fact in watched:
            key = fact.key()
            shown[(key, stable[fact.id])] += 1
            examples[key] = fact
        return cls(dict(answers), frozenset(fired), derived, shown, examples, by_type,
                   derived_by_type, firings, stable, tangled)


def _stability(facts: list[Fact], firings: dict, negates: dict) -> tuple[dict, bool]:
    """(fact id -> whether no further answer can take the fact away, whether working that out
    met a fact whose stability depends on itself).

    Stable: a client answer, or concluded by rules without 'not' conditions from stable facts.
    Without a circle the answer is the same whatever order facts are asked in, so a walk can
    take it from here; with one it depends on the order, and the walk works it out itself.
    """
    stable: dict[str, bool] = {}
    busy: set[str] = set()
    tangled = False

    def visit(fact_id: str) -> bool:
        nonlocal tangled
        if fact_id in stable:
            return stable[fact_id]
        if fact_id in busy:
            tangled = True
            return False
        busy.add(fact_id)
        found = firings.get(fact_id)
        value = found is None or any(not negates[firing.rule] and all(visit(f) for f in firing.facts)
                                     for firing in found)
        busy.discard(fact_id)
        stable[fact_id] = value
        return value

    for fact in facts:
        visit(fact.id)
    return stable, tangled


# -- the walk --------------------------------------------------------------------------------------
class _Memory:
    """The results of the walks so far, what each read, and which results read what."""

    def __init__(self) -> None:
        self.state: _State | None = None
        self.results: dict[tuple, tuple] = {}       # rule node -> (alive, every answer it waits on)
        self.cores: dict[tuple, tuple] = {}         # rule node -> (alive, own answers, patterns)
        self.reads: dict[tuple, set] = {}
        self.readers: dict[Any, set] = {}           # what was read -> the rule nodes that read it
        self.users: dict[int, set] = {}             # derived pattern -> rule nodes adding its answers
        self.together: dict[int, _Together] = {}    # derived pattern -> what its producers wait on

    def clear(self) -> None:
        self.state = None
        for known in (self.results, self.cores, self.reads, self.readers, self.users, self.together):
            known.clear()

    def store(self, node: tuple, core: tuple, reads: set) -> None:
        self.cores[node] = core
        self.reads[node] = reads
        for token in reads:
            self.readers.setdefault(token, set()).add(node)
        for index in core[2]:
            self.users.setdefault(index, set()).add(node)

    def forget(self, node: tuple) -> None:
        for token in self.reads.pop(node, ()):
            self.readers[token].discard(node)
        for index in self.cores.pop(node)[2]:
            self.users[index].discard(node)


class _Together:
    """What the rules that could conclude a derived pattern's fact wait on together: whether one
    that is unsettled can still fire, and what any such rule waits on. Kept as counts, so that a
    change in one rule is applied without going over the others."""

    __slots__ = ("parts", "alive", "counts", "_outcome")

    def __init__(self) -> None:
        self.parts: dict[str, tuple | None] = {}    # rule id -> what it waits on, None: it does not count
        self.alive = 0
        self.counts: dict[str, int] = {}            # answer key -> how many counted rules wait on it
        self._outcome: tuple | None = None

    def put(self, rule_id: str, part: tuple | None) -> None:
        old = self.parts.get(rule_id)
        if rule_id in self.parts and old == part:
            return
        counts = self.counts
        if old is not None:
            self.alive -= 1
            for key in old:
                if counts[key] == 1:
                    del counts[key]
                else:
                    counts[key] -= 1
        self.parts[rule_id] = part
        if part is not None:
            self.alive += 1
            for key in part:
                counts[key] = counts.get(key, 0) + 1
        self._outcome = None

    def outcome(self) -> tuple[bool, tuple]:
        if self._outcome is None:
            self._outcome = (self.alive > 0, tuple(sorted(self.counts)))
        return self._outcome


class _Walk:
    """One planning pass: what each rule still waits on, derive chains followed.

    Results are kept in the planner's memory: a derived pattern's :class:`_Together`, which
    the rules that could conclude its fact feed, and a rule's (``("rule", id, flag)``, flag:
    only its 'not' conditions count) in two layers: its core (whether it can fire, what its
    input patterns wait on, the derived patterns whose producers' answers it adds), kept with
    what it read (answers, ``("ok", pattern)``...), and the answers of all of these together.
    A change in what a derived pattern's producers wait on so only redoes the union. When the
    rules conclude each other in a circle, nothing is shared between patterns (see
    :meth:`_RuleIndex._producer_order`): a rule's core then holds all its answers.
    """

    def __init__(self, rules: _RuleIndex, state: _State, memory: _Memory):
        self.rules = rules
        self.answers = state.answers
        self.fired = state.fired
        self.derived = state.derived_by_type
        self.by_type = state.by_type
        self.declared_by = state.declared_by
        self.stable: dict[str, bool] = {} if state.tangled else dict(state.stable)
        self.memory = memory
        self.share = rules.order is not None
        self.present: dict[int, bool] = {}
        self.holds: dict[int, bool] = {}
        self.stack: set[str] = set()
        self.inputs: dict = {}      # per walk: answered fields by input type, routine entries

    def refresh(self, changes: set) -> None:
        """Work out again the results that read something in ``changes``, producers first; a
        result that changed is a change for the results that read it."""
        memory, rank, feeds = self.memory, self.rules.node_rank, self.rules.feeds
        by_id = self.rules.rulebook.by_id
        queue: list[tuple[int, tuple]] = []
        jobs: dict[tuple, bool] = {}        # rule node -> walk it again (True) or redo its union
        fed: dict[int, set[str]] = {}       # derived pattern -> its producers to look at again

        def push(node: tuple, walk: bool) -> None:
            if node not in jobs:
                heapq.heappush(queue, (rank(node), node))
            jobs[node] = walk or jobs.get(node, False)

        def changed(token: tuple) -> None:
            for node in memory.readers.get(token, ()):
                push(node, True)
            if token[0] == "fired" or (token[0] == "rule" and not token[2]):
                for index in feeds.get(token[1], ()):
                    if index in memory.together:
                        fed.setdefault(index, set()).add(token[1])
                        push(("agg", index), False)

        for token in changes:
            changed(token)
        while queue:
            _, node = heapq.heappop(queue)
            if node[0] == "agg":
                together = memory.together[node[1]]
                before = together.outcome()
                for rule_id in fed.pop(node[1]):
                    together.put(rule_id, self._part(by_id[rule_id]))
                after = together.outcome()
                if after[0] != before[0]:
                    changed(("ok", node[1]))
                if after[1] != before[1]:
                    for user in list(memory.users.get(node[1], ())):
                        push(user, False)
                continue
            before = memory.results.pop(node, None)
            if jobs.pop(node):
                memory.forget(node)
            if self.rule(by_id[node[1]], node[2]) != before:
                changed(node)

    def rule(self, rule: Rule, negations_only: bool = False) -> tuple[bool, tuple]:
        """Whether the rule can still fire, and the answers it waits on, in order (only those
        inside its 'not' conditions when ``negations_only``: the rule fired and only they can
        undo it)."""
        memory = self.memory
        node = ("rule", rule.id, negations_only)
        known = memory.results.get(node)
        if known is not None:
            return known
        core = memory.cores.get(node)
        if core is None:
            if rule.id in self.stack:   # a cycle of derivations: assume possible, add nothing
                return True, ()
            core = self._core(rule, negations_only)
            memory.store(node, core, core[3])
        alive, needs, patterns = core[:3]
        if patterns:
            together = memory.together
            needs = tuple(sorted(set(needs).union(*(together[i].outcome()[1] for i in patterns))))
        known = memory.results[node] = (alive, needs)
        return known

    def _core(self, rule: Rule, negations_only: bool) -> tuple:
        """(whether the rule can still fire, what its own input patterns wait on, the derived
        patterns whose producers' answers it waits on too, what it read)."""
        self.stack.add(rule.id)
        reads: set = set()
        alive, needs, patterns = False, set(), set()
        for variant in self.rules.steps[rule.id]:
            ok, more, via = self._variant(rule, variant, negations_only, reads)
            if ok:
                alive = True
                needs |= more
                patterns |= via
        self.stack.discard(rule.id)
        return alive, tuple(sorted(needs)), tuple(sorted(patterns)), reads

    def _variant(self, rule: Rule, variant: tuple, negations_only: bool, reads: set) -> tuple[bool, set, set]:
        needs: set[str] = set()
        patterns: set[int] = set()
        for negated, held, conds in variant:
            if held is not None and self._holds_now(held, reads):
                return False, set(), set()   # what it must not see is already there (a red flag)
            for pattern, index, ftype in conds:
                via = None
                if ftype.derived:
                    ok, more, via = self._derived(rule, pattern, index, negated, reads)
                else:
                    ok, more = self._input(index, ftype, reads)
                if negated or not negations_only:
                    needs.update(more)
                    if via is not None:
                        patterns.add(via)
                if not ok and not negated:
                    return False, set(), set()
        return True, needs, patterns

    def _holds_now(self, index: int, reads: set) -> bool:
        """Whether a one-pattern 'not' without variables already sees a matching fact.

        Answers are only ever added, so such a rule stays blocked; a body that joins patterns
        on variables is left to the engine (never treated as blocked here).
        """
        reads.add(("holds", index))
        known = self.holds.get(index)
        if known is None:
            pattern = self.rules.patterns[index]
            known = self.holds[index] = any(
                match_pattern(pattern, f, {}) is not None and self._stable(f.id)
                for f in self.by_type.get(pattern.type, ()))
        return known

    def _stable(self, fact_id: str) -> bool:
        """Whether no further answer can take this fact away (see :func:`_stability`; worked
        out here, in the walk's order, only when the facts' stability goes round a circle)."""
        if fact_id not in self.stable:
            self.stable[fact_id] = False        # a cycle: not proven stable
            firings = self.declared_by.get(fact_id)
            self.stable[fact_id] = firings is None or any(
                not self.rules.negates[firing.rule] and all(self._stable(f) for f in firing.facts)
                for firing in firings)
        return self.stable[fact_id]

    def _derived(self, rule: Rule, pattern: Pattern, index: int, negated: bool,
                 reads: set) -> tuple[bool, tuple, int | None]:
        """(whether a fact matching the derived pattern is or may come, what that waits on, or
        the pattern whose producers' answers stand for it when they are shared)."""
        reads.add(("present", index))
        present = self.present.get(index)
        if present is None:
            present = self.present[index] = any(
                match_pattern(pattern, f, {}) is not None for f in self.derived.get(pattern.type, ()))
        if present and not negated and not self.rules.varies[rule.id]:
            return True, (), None
        reads.add(("ok", index))
        ok, needs = self._producers(index)
        if self.share:
            return present or ok, (), index
        return present or ok, needs, None

    def _producers(self, index: int) -> tuple[bool, tuple]:
        """Whether an unsettled rule that could conclude a fact matching derived pattern
        ``index`` can still fire, and what those rules wait on."""
        together = self.memory.together.get(index) if self.share else None
        if together is None:
            together = _Together()
            for producer in self.rules.compatible[index]:
                together.put(producer.id, self._part(producer))
            if self.share:
                self.memory.together[index] = together
        return together.outcome()

    def _part(self, producer: Rule) -> tuple | None:
        """What a rule adds to the patterns it could conclude: what it waits on, or None when it
        fired and cannot say anything new, or can no longer fire."""
        if producer.id in self.fired and not self.rules.varies[producer.id]:
            return None
        alive, needs = self.rule(producer)
        return needs if alive else None

    def _answered(self, ftype) -> tuple[dict, dict]:
        """(field -> answer, field -> answer key) of a one-fact input type, worked out once a
        walk (every rule's patterns on the type ask it)."""
        known = self.inputs.get(ftype.name)
        if known is None:
            keys = {fname: _field_key(self.rules.vocab, ftype.name, fname) for fname in ftype.fields}
            fields = {fname: self.answers[key] for fname, key in keys.items() if key in self.answers}
            known = self.inputs[ftype.name] = (fields, keys)
        return known

    def _entries(self, products: tuple) -> list[tuple[str, dict]]:
        """(answer-key prefix, fields answered) of each routine entry, worked out once a walk."""
        known = self.inputs.get(("entries",))
        if known is None:
            known = []
            for index, product in enumerate(products):
                prefix = f"routine[{index}]."
                fields = {"product": product, "entry": index}
                fields.update({k[len(prefix):]: v for k, v in self.answers.items() if k.startswith(prefix)})
                known.append((prefix, fields))
            self.inputs[("entries",)] = known
        return known

    def _input(self, index: int, ftype, reads: set) -> tuple[bool, set]:
        tested, checks, reading, bare = self.rules.checks[index]
        reads.update(reading)
        if ftype.many:
            products = self.answers.get(PRODUCTS_KEY)
            if products is None:            # entries not known yet: the products question decides
                return True, {PRODUCTS_KEY} | {f"routine[*].{f}" for f in tested if f != "product"}
            if not isinstance(products, tuple):
                return False, set()
            ok, needs = False, set()
            for prefix, fields in self._entries(products):
                if _passes(checks, fields):
                    ok = True
                    needs |= {prefix + f for f in tested if f not in fields}
            return ok, needs
        fields, keys = self._answered(ftype)
        if not _passes(checks, fields):
            return False, set()
        needs = {keys[f] for f in tested if f not in fields}
        if bare and not fields:             # needs only that the section exists
            first = next((f for f in ftype.fields if not ftype.fields[f].generated), None)
            if first:
                needs.add(_field_key(self.rules.vocab, ftype.name, first))
        return True, needs


def _passes(checks: list, fields: dict) -> bool:
    """Whether a fact with these (partly answered) fields can still match the pattern whose
    (field, predicate) pairs are ``checks`` (see :meth:`_RuleIndex._checks`)."""
    for fname, predicate in checks:
        if fname in fields and not predicate(fields[fname]):
            return False
    return True

"""One planning pass over the rules, kept between answers: the results with what each read, and
the refresh that works out again only the results whose reads changed (see :mod:`.planner`).

A rule's result (its core) says whether it can still fire and which *items* its answers come
from: an input pattern (the answers that decide whether a fact can match it), a derived
pattern (the answers its producers wait on: a :class:`Together`), or, when nothing is shared,
an answer key. So an answer that only changes what a pattern waits on (the products named: every
routine pattern waits on the real entries instead of "any entry") changes the pattern's result
and the producers' unions, not the rules that test it; only a pattern that can no longer match
(or can again) makes its rules walk again.
"""
from __future__ import annotations

import heapq
from typing import Any

from haircare_expert.consult.interview.rule_index import RuleIndex, field_key
from haircare_expert.consult.interview.state import State
from haircare_expert.knowledge.conditions import Pattern, match_pattern
from haircare_expert.knowledge.questions import PRODUCTS_KEY
from haircare_expert.knowledge.rulebook import Rule


class Memory:
    """The results of the walks so far, what each read, and which results read what."""

    def __init__(self) -> None:
        self.state: State | None = None
        self.cores: dict[tuple, tuple] = {}         # rule node -> (alive, items)
        self.reads: dict[tuple, set] = {}
        self.readers: dict[Any, set] = {}           # what was read -> the rule nodes that read it
        self.inputs: dict[int, tuple] = {}          # input pattern -> (can match, answers it waits on)
        self.together: dict[int, Together] = {}    # derived pattern -> what its producers wait on
        self.touched: set[str] = set()              # rules whose results were stored or forgotten

    def clear(self) -> None:
        self.state = None
        for known in (self.cores, self.reads, self.readers, self.inputs, self.together, self.touched):
            known.clear()

    def store(self, node: tuple, core: tuple, reads: set) -> None:
        self.touched.add(node[1])
        self.cores[node] = core
        self.reads[node] = reads
        for token in reads:
            self.readers.setdefault(token, set()).add(node)

    def forget(self, node: tuple) -> None:
        self.touched.add(node[1])
        for token in self.reads.pop(node, ()):
            self.readers[token].discard(node)
        del self.cores[node]

    def keys(self, item) -> frozenset | tuple:
        """The answers an item stands for (see the module's doc)."""
        if item.__class__ is not int:
            return (item,)
        known = self.inputs.get(item)
        if known is not None:
            return known[1]
        return self.together[item].keys(self)


class Together:
    """What the rules that could conclude a derived pattern's fact wait on together: whether one
    that is unsettled can still fire, and the items their answers come from. Kept as counts, so
    that a change in one rule is applied without going over the others."""

    __slots__ = ("parts", "alive", "counts", "known")

    def __init__(self) -> None:
        self.parts: dict[str, frozenset | None] = {}    # rule id -> its items, None: not counted
        self.alive = 0
        self.counts: dict[Any, int] = {}            # item -> how many counted rules have it
        self.known: frozenset | None = None         # the answers, None: to work out again

    def put(self, rule_id: str, part: frozenset | None) -> None:
        old = self.parts.get(rule_id)
        if rule_id in self.parts and old == part:
            return
        counts = self.counts
        if old is not None:
            self.alive -= 1
            for item in old:
                if counts[item] == 1:
                    del counts[item]
                else:
                    counts[item] -= 1
        self.parts[rule_id] = part
        if part is not None:
            self.alive += 1
            for item in part:
                counts[item] = counts.get(item, 0) + 1
        self.known = None

    def keys(self, memory: Memory) -> frozenset:
        """Every answer a counted rule waits on (worked out when asked for after a change)."""
        if self.known is None:
            keys: set = set()
            for item in self.counts:
                keys.update(memory.keys(item))
            self.known = frozenset(keys)
        return self.known


#: The fields of a routine entry known as soon as the products are named.
_ENTRY_GIVEN = ("product", "entry")


def live(key: str, answers: dict) -> bool:
    """Whether a key a result waits on still counts: a result keeps the answers already given
    among those it waits on (so that giving one changes nothing but the walk's answers); they
    are left out at the end. The products question is an exception: "unknown" leaves every
    routine pattern waiting on it (and on "any entry")."""
    return key not in answers or key == PRODUCTS_KEY


_CYCLE = (True, frozenset())     # a rule met again inside its own derivation: possible, adds nothing


class Walk:
    """One planning pass: what each rule still waits on, derive chains followed.

    Results are kept in the planner's memory (see the module's doc): each input pattern's,
    each derived pattern's :class:`Together`, which the rules that could conclude its fact
    feed, and each rule's (``("rule", id, flag)``, flag: only its 'not' conditions count) core,
    kept with what it read (``("match", pattern)``, ``("ok", pattern)``...). The answers a
    rule waits on in all are those of its items (:meth:`Memory.keys`). When the rules conclude
    each other in a circle, nothing is shared between derived patterns (see
    :meth:`RuleIndex._producer_order`): a rule's items then hold the answers themselves.
    """

    def __init__(self, rules: RuleIndex, state: State, memory: Memory, share: bool | None = None):
        self.rules = rules
        self.answers = state.answers
        self.fired = state.fired
        self.by_type = state.by_type
        self.declared_by = state.declared_by
        self.stable: dict[str, bool] = {} if state.tangled else dict(state.stable)
        self.memory = memory
        self.share = rules.order is not None if share is None else share
        self.present = state.present
        self.holds: dict[int, bool] = {}
        self.stack: set[str] = set()
        self.answered: dict = {}    # per walk: answered fields by input type, routine entries

    # -- after an answer -------------------------------------------------------------------------
    def refresh(self, changes: set) -> None:
        """Work out again the results that read something in ``changes``, patterns, then
        producers before the rules that test their facts; a result that changed is a change for
        the results that read it."""
        memory, rank, feeds = self.memory, self.rules.node_rank, self.rules.feeds
        by_id = self.rules.rulebook.by_id
        queue: list[tuple[int, tuple]] = []
        jobs: set[tuple] = set()
        fed: dict[int, set[str]] = {}       # derived pattern -> its producers to look at again

        def push(node: tuple) -> None:
            if node not in jobs:
                jobs.add(node)
                heapq.heappush(queue, (rank(node), node))

        def changed(token: tuple) -> None:
            for node in memory.readers.get(token, ()):
                push(node)
            if token[0] == "fired" or (token[0] == "rule" and not token[2]):
                for index in feeds.get(token[1], ()):
                    if index in memory.together:
                        fed.setdefault(index, set()).add(token[1])
                        push(("agg", index))

        for index in self._inputs_changed(changes):
            self._refresh_input(index, changed)
        for token in changes:
            changed(token)
        while queue:
            _, node = heapq.heappop(queue)
            jobs.discard(node)
            if node[0] == "agg":
                self._refresh_together(node[1], fed.pop(node[1], ()), changed)
                continue
            before = memory.cores.get(node)
            if before is not None:
                memory.forget(node)
            if self.rule(by_id[node[1]], node[2]) != before:
                changed(node)

    def _inputs_changed(self, changes: set) -> set[int]:
        """The kept input patterns that read something in ``changes``."""
        readers, kept = self.rules.input_readers, self.memory.inputs
        return {index for token in changes for index in readers.get(token, ()) if index in kept}

    def _refresh_input(self, index: int, changed) -> None:
        memory = self.memory
        before = memory.inputs[index]
        after = memory.inputs[index] = self._input_now(index)
        if after[0] != before[0]:
            changed(("match", index))
        if after[1] != before[1]:
            self._below(index)

    def _refresh_together(self, index: int, producers, changed) -> None:
        """Put again the producers of derived pattern ``index`` that changed; tell the rules that
        read whether one can fire when that changed, and the patterns below when its answers may
        have."""
        memory, by_id = self.memory, self.rules.rulebook.by_id
        together = memory.together[index]
        alive, known = together.alive > 0, together.known
        for rule_id in producers:
            together.put(rule_id, self._part(by_id[rule_id]))
        if (together.alive > 0) != alive:
            changed(("ok", index))
        if known is not None and together.known is None:
            self._below(index)

    def _below(self, index: int) -> None:
        """The answers of a pattern may have changed: so may those of the producers' unions that
        could count it, worked out again when asked for."""
        together, down = self.memory.together, self.rules.down
        todo = [index]
        while todo:
            for below in down.get(todo.pop(), ()):
                known = together.get(below)
                if known is not None and known.known is not None:
                    known.known = None
                    todo.append(below)

    # -- a rule's result ---------------------------------------------------------------------------
    def rule(self, rule: Rule, negations_only: bool = False) -> tuple[bool, frozenset]:
        """(whether the rule can still fire, the items its answers come from), counting only its
        'not' conditions when ``negations_only`` (the rule fired and only they can undo it)."""
        node = ("rule", rule.id, negations_only)
        core = self.memory.cores.get(node)
        if core is None:
            if rule.id in self.stack:
                return _CYCLE
            core, reads = self._core(rule, negations_only)
            self.memory.store(node, core, reads)
        return core

    def _core(self, rule: Rule, negations_only: bool) -> tuple[tuple, set]:
        """((whether the rule can still fire, its items), what it read)."""
        self.stack.add(rule.id)
        reads: set = set()
        alive, items = False, set()
        for variant in self.rules.steps[rule.id]:
            more = self._variant(rule, variant, negations_only, reads)
            if more is not None:
                alive = True
                items |= more
        self.stack.discard(rule.id)
        return (alive, frozenset(items)), reads

    def _variant(self, rule: Rule, variant: tuple, negations_only: bool, reads: set) -> set | None:
        """The items of one alternative of the rule, or None when it cannot fire."""
        items: set = set()
        for negated, held, conds in variant:
            if held is not None and self._holds_now(held, reads):
                return None     # what it must not see is already there (a red flag)
            for pattern, index, ftype in conds:
                if ftype.derived:
                    ok, more = self._derived(rule, pattern, index, negated, reads)
                    if negated or not negations_only:
                        items.update(more)
                else:
                    ok = self._input(index, reads)
                    if negated or not negations_only:
                        items.add(index)
                if not ok and not negated:
                    return None
        return items

    # -- derived patterns -------------------------------------------------------------------------
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
        """Whether no further answer can take this fact away (see :func:`stability`; worked
        out here, in the walk's order, only when the facts' stability goes round a circle)."""
        if fact_id not in self.stable:
            self.stable[fact_id] = False        # a cycle: not proven stable
            firings = self.declared_by.get(fact_id)
            self.stable[fact_id] = firings is None or any(
                not self.rules.negates[firing.rule] and all(self._stable(f) for f in firing.facts)
                for firing in firings)
        return self.stable[fact_id]

    def _derived(self, rule: Rule, pattern: Pattern, index: int, negated: bool,
                 reads: set) -> tuple[bool, tuple]:
        """(whether a fact matching the derived pattern is or may come, the items of what that
        waits on: the pattern when its producers are shared, else their answers)."""
        reads.add(("present", index))
        present = index in self.present
        if present and not negated and not self.rules.varies[rule.id]:
            return True, ()
        reads.add(("ok", index))
        together = self._producers(index)
        ok = present or together.alive > 0
        if self.share:
            return ok, (index,)
        return ok, together.keys(self.memory)


    def _producers(self, index: int) -> Together:
        """The unsettled rules that could conclude a fact matching derived pattern ``index``:
        whether one can still fire, and what they wait on."""
        together = self.memory.together.get(index) if self.share else None
        if together is None:
            together = Together()
            for producer in self.rules.compatible[index]:
                together.put(producer.id, self._part(producer))
            if self.share:
                self.memory.together[index] = together
        return together

    def _part(self, producer: Rule) -> frozenset | None:
        """What a rule adds to the patterns it could conclude: its items, or None when it fired
        and cannot say anything new, or can no longer fire."""
        if producer.id in self.fired and not self.rules.varies[producer.id]:
            return None
        alive, items = self.rule(producer)
        return items if alive else None

    # -- input patterns ----------------------------------------------------------------------------
    def _input(self, index: int, reads: set) -> bool:
        """Whether a fact of an input type can still match pattern ``index`` (what it waits on
        is kept with it: the rule's item)."""
        reads.add(("match", index))
        known = self.memory.inputs.get(index)
        if known is None:
            known = self.memory.inputs[index] = self._input_now(index)
        return known[0]

    def _input_now(self, index: int) -> tuple[bool, frozenset]:
        """(whether a fact of an input type can still match pattern ``index``, the answers that
        decide it, those already given among them: see :func:`live`)."""
        tested, checks, _, bare = self.rules.checks[index]
        ftype = self.rules.vocab.types[self.rules.patterns[index].type]
        if ftype.many:
            products = self.answers.get(PRODUCTS_KEY)
            if products is None:            # entries not known yet: the products question decides
                return True, frozenset([PRODUCTS_KEY, *(f"routine[*].{f}" for f in tested if f != "product")])
            if not isinstance(products, tuple):
                return False, frozenset()
            ok, needs = False, set()
            for prefix, fields in self._entries(products):
                if _passes(checks, fields):
                    ok = True
                    needs.update(prefix + f for f in tested if f not in _ENTRY_GIVEN)
            return ok, frozenset(needs)
        fields, keys = self._answered(ftype)
        if not _passes(checks, fields):
            return False, frozenset()
        needs = {keys[f] for f in tested}
        if bare and not fields:             # needs only that the section exists
            first = next((f for f in ftype.fields if not ftype.fields[f].generated), None)
            if first:
                needs.add(field_key(self.rules.vocab, ftype.name, first))
        return True, frozenset(needs)

    def _answered(self, ftype) -> tuple[dict, dict]:
        """(field -> answer, field -> answer key) of a one-fact input type, worked out once a
        walk (every rule's patterns on the type ask it)."""
        known = self.answered.get(ftype.name)
        if known is None:
            keys = {fname: field_key(self.rules.vocab, ftype.name, fname) for fname in ftype.fields}
            fields = {fname: self.answers[key] for fname, key in keys.items() if key in self.answers}
            known = self.answered[ftype.name] = (fields, keys)
        return known

    def _entries(self, products: tuple) -> list[tuple[str, dict]]:
        """(answer-key prefix, fields answered) of each routine entry, worked out once a walk."""
        known = self.answered.get(("entries",))
        if known is None:
            known = []
            for index, product in enumerate(products):
                prefix = f"routine[{index}]."
                fields = {"product": product, "entry": index}
                fields.update({k[len(prefix):]: v for k, v in self.answers.items() if k.startswith(prefix)})
                known.append((prefix, fields))
            self.answered[("entries",)] = known
        return known


def _passes(checks: list, fields: dict) -> bool:
    """Whether a fact with these (partly answered) fields can still match the pattern whose
    (field, predicate) pairs are ``checks`` (see :meth:`RuleIndex._checks`)."""
    for fname, predicate in checks:
        if fname in fields and not predicate(fields[fname]):
            return False
    return True

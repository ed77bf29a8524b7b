"""One planning pass over the rules, kept between answers: the state a walk reads, what changed
since the last one, the results with what each read, and the refresh that works out again only
the results whose reads changed (see :mod:`.planner`)."""
from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haircare_expert.consult.interview.rule_index import RuleIndex, field_key
from haircare_expert.knowledge.analysis import declared_by
from haircare_expert.knowledge.conditions import Pattern, match_pattern
from haircare_expert.knowledge.questions import PRODUCTS_KEY
from haircare_expert.knowledge.rulebook import Rule
from haircare_expert.model import Fact, Firing

_ABSENT = object()


def changes(rules: RuleIndex, old: State | None, new: State) -> set | None:
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
class State:
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
    def of(cls, rules: RuleIndex, answers: dict, facts: Sequence[Fact], trace: Sequence[Firing],
           fired: set) -> State:
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
        stable, tangled = stability(watched, firings, rules.negates)
        shown: Counter = Counter()
        for fact in watched:
            key = fact.key()
            shown[(key, stable[fact.id])] += 1
            examples[key] = fact
        return cls(dict(answers), frozenset(fired), derived, shown, examples, by_type,
                   derived_by_type, firings, stable, tangled)


def stability(facts: list[Fact], firings: dict, negates: dict) -> tuple[dict, bool]:
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
class Memory:
    """The results of the walks so far, what each read, and which results read what."""

    def __init__(self) -> None:
        self.state: State | None = None
        self.cores: dict[tuple, tuple] = {}         # rule node -> (alive, own answers, patterns)
        self.reads: dict[tuple, set] = {}
        self.readers: dict[Any, set] = {}           # what was read -> the rule nodes that read it
        self.users: dict[int, set] = {}             # derived pattern -> rule nodes adding its answers
        self.together: dict[int, Together] = {}    # derived pattern -> what its producers wait on

    def clear(self) -> None:
        self.state = None
        for known in (self.cores, self.reads, self.readers, self.users, self.together):
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


class Together:
    """What the rules that could conclude a derived pattern's fact wait on together: whether one
    that is unsettled can still fire, and what any such rule waits on: its own answers, and
    those the producers of the derived patterns it tests wait on (kept as references to their
    :class:`Together`, so that a change upstream is not copied into every rule below it). Kept
    as counts, so that a change in one rule is applied without going over the others."""

    __slots__ = ("parts", "alive", "counts", "via", "known")

    def __init__(self) -> None:
        self.parts: dict[str, tuple | None] = {}    # rule id -> (own answers, patterns), None: not counted
        self.alive = 0
        self.counts: dict[str, int] = {}            # answer key -> how many counted rules wait on it
        self.via: dict[int, int] = {}               # derived pattern -> how many counted rules test it
        self.known: tuple | None = None             # the answers, as last worked out

    def put(self, rule_id: str, part: tuple | None) -> None:
        old = self.parts.get(rule_id)
        if rule_id in self.parts and old == part:
            return
        if old is not None:
            self.alive -= 1
            _uncount(self.counts, old[0])
            _uncount(self.via, old[1])
        self.parts[rule_id] = part
        if part is not None:
            self.alive += 1
            for counts, items in ((self.counts, part[0]), (self.via, part[1])):
                for item in items:
                    counts[item] = counts.get(item, 0) + 1
        self.known = None

    def keys(self, together: dict) -> tuple:
        """Every answer a counted rule waits on, sorted (``together``: derived pattern -> its
        :class:`Together`, for the patterns the counted rules test)."""
        if self.known is None:
            self.known = self.work_out(together)
        return self.known

    def work_out(self, together: dict) -> tuple:
        keys = set(self.counts)
        for index in self.via:
            keys.update(together[index].keys(together))
        self.known = tuple(sorted(keys))
        return self.known


def _uncount(counts: dict, items: tuple) -> None:
    for item in items:
        if counts[item] == 1:
            del counts[item]
        else:
            counts[item] -= 1


_CYCLE = (True, (), ())     # a rule met again inside its own derivation: possible, adds nothing


class Walk:
    """One planning pass: what each rule still waits on, derive chains followed.

    Results are kept in the planner's memory: a derived pattern's :class:`Together`, which
    the rules that could conclude its fact feed, and a rule's (``("rule", id, flag)``, flag:
    only its 'not' conditions count) core: whether it can fire, what its input patterns wait
    on, the derived patterns whose producers' answers it adds, kept with what it read (answers,
    ``("ok", pattern)``...). The answers a rule waits on in all (:meth:`needs`) are worked out
    from these when asked for. When the rules conclude each other in a circle, nothing is
    shared between patterns (see :meth:`RuleIndex._producer_order`): a rule's core then holds
    all its answers.
    """

    def __init__(self, rules: RuleIndex, state: State, memory: Memory, share: bool | None = None):
        self.rules = rules
        self.answers = state.answers
        self.fired = state.fired
        self.derived = state.derived_by_type
        self.by_type = state.by_type
        self.declared_by = state.declared_by
        self.stable: dict[str, bool] = {} if state.tangled else dict(state.stable)
        self.memory = memory
        self.share = rules.order is not None if share is None else share
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

        for token in changes:
            changed(token)
        while queue:
            _, node = heapq.heappop(queue)
            jobs.discard(node)
            if node[0] == "agg":
                self._refresh_together(node[1], fed.pop(node[1], ()), changed, push)
                continue
            before = memory.cores.get(node)
            if before is not None:
                memory.forget(node)
            if self.rule(by_id[node[1]], node[2]) != before:
                changed(node)

    def _refresh_together(self, index: int, producers, changed, push) -> None:
        """Put again the producers of derived pattern ``index`` that changed; tell the rules that
        read whether one can fire when that changed, and the patterns below when its answers did."""
        memory, by_id = self.memory, self.rules.rulebook.by_id
        together = memory.together[index]
        alive, before = together.alive > 0, together.known
        for rule_id in producers:
            together.put(rule_id, self._part(by_id[rule_id]))
        if (together.alive > 0) != alive:
            changed(("ok", index))
        if together.work_out(memory.together) != before:
            feeds = self.rules.feeds
            for user in memory.users.get(index, ()):
                if not user[2]:
                    for down in feeds.get(user[1], ()):
                        if down in memory.together:
                            push(("agg", down))

    def rule(self, rule: Rule, negations_only: bool = False) -> tuple[bool, tuple, tuple]:
        """(whether the rule can still fire, the answers its own input patterns wait on, the
        derived patterns whose producers' answers it waits on too), counting only its 'not'
        conditions when ``negations_only`` (the rule fired and only they can undo it)."""
        node = ("rule", rule.id, negations_only)
        core = self.memory.cores.get(node)
        if core is None:
            if rule.id in self.stack:
                return _CYCLE
            core, reads = self._core(rule, negations_only)
            self.memory.store(node, core, reads)
        return core

    def needs(self, core: tuple) -> tuple:
        """Every answer a rule with this core waits on, in order."""
        if not core[2]:
            return core[1]
        together = self.memory.together
        return tuple(sorted(set(core[1]).union(*(together[i].keys(together) for i in core[2]))))

    def _core(self, rule: Rule, negations_only: bool) -> tuple[tuple, set]:
        """((whether the rule can still fire, what its own input patterns wait on, the derived
        patterns whose producers' answers it waits on too), what it read)."""
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
        return (alive, tuple(sorted(needs)), tuple(sorted(patterns))), reads

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
        together = self._producers(index)
        ok = together.alive > 0
        if self.share:
            return present or ok, (), index
        return present or ok, together.keys(self.memory.together), None

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

    def _part(self, producer: Rule) -> tuple | None:
        """What a rule adds to the patterns it could conclude: (its own answers, the derived
        patterns whose producers' answers it adds), or None when it fired and cannot say
        anything new, or can no longer fire."""
        if producer.id in self.fired and not self.rules.varies[producer.id]:
            return None
        alive, own, patterns = self.rule(producer)
        return (own, patterns) if alive else None

    def _answered(self, ftype) -> tuple[dict, dict]:
        """(field -> answer, field -> answer key) of a one-fact input type, worked out once a
        walk (every rule's patterns on the type ask it)."""
        known = self.inputs.get(ftype.name)
        if known is None:
            keys = {fname: field_key(self.rules.vocab, ftype.name, fname) for fname in ftype.fields}
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
        """Whether a fact of an input type can still match pattern ``index``, and the answers
        that decide it (worked out once a walk for patterns alike)."""
        tested, checks, reading, bare = self.rules.checks[index]
        reads.update(reading)
        known = self.inputs.get(index)
        if known is None:
            known = self.inputs[index] = self._input_now(ftype, tested, checks, bare)
        return known

    def _input_now(self, ftype, tested: list, checks: list, bare: bool) -> tuple[bool, set]:
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
                needs.add(field_key(self.rules.vocab, ftype.name, first))
        return True, needs


def _passes(checks: list, fields: dict) -> bool:
    """Whether a fact with these (partly answered) fields can still match the pattern whose
    (field, predicate) pairs are ``checks`` (see :meth:`RuleIndex._checks`)."""
    for fname, predicate in checks:
        if fname in fields and not predicate(fields[fname]):
            return False
    return True

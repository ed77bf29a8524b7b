"""Which questions can still change the advice, decided from the rules.

The walk over the rules is kept from one answer to the next (:mod:`.walk`): each result
remembers what it read (answers, fired rules, derived facts, other results), and after an
answer only the results whose reads changed are worked out again, the rules that could conclude
a fact before the rules that test it; a result that comes out the same stops the change there.
A rule's result names where its answers come from (its input patterns, the derived patterns
whose producers it waits on) rather than copying them, and keeps the answers already given, so
that an answer changes the rules it decides, not every rule that waited on it. The plan reads
the rules at the top as counts per item (:mod:`.standing`), and lists the rules behind each
question only when ``why`` shows them. What the walk needs from the rules alone is worked out
once per rulebook (:mod:`.rule_index`). The plan is the one a walk from scratch gives
(``tests/test_interview_planner.py`` drives interviews and compares them at every step).
"""
from __future__ import annotations

from collections.abc import Sequence

from haircare_expert.consult.interview.rule_index import RuleIndex, field_key
from haircare_expert.consult.interview.session import Session
from haircare_expert.consult.interview.standing import Standing, Wanted
from haircare_expert.consult.interview.state import State, changes
from haircare_expert.consult.interview.walk import Memory, Walk, live
from haircare_expert.knowledge.questions import QuestionBook, Slot
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.model import Consultation, Fact, Firing


# -- the planner ---------------------------------------------------------------------------------
class Plan:
    """What to ask next, what is still open, and which rules wait on each open question."""

    def __init__(self, next: Slot | None, pending: list[Slot], waiting, needed_for: dict | None = None,
                 red_flag: set | None = None, per_product: int = 0):
        self.next = next
        self.pending = pending                  #: every question still worth asking, next first
        self._waiting = waiting                 # the dict, or what works it out when asked for
        self.needed_for = needed_for or {}      #: key -> key of the question it unlocks
        self.red_flag = red_flag or set()       #: keys that feed a referral or a red flag
        self.per_product = per_product          #: questions each product may bring (estimate)

    @property
    def waiting(self) -> dict[str, list[str]]:
        """Answer key -> ids of the rules waiting on its answer (worked out when first asked for:
        only ``why`` shows it)."""
        if callable(self._waiting):
            self._waiting = self._waiting()
        return self._waiting


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
        self.rules = RuleIndex.of(rulebook, book.vocabulary)
        self._memory = Memory()
        self._standing = Standing()
        self._every = True          # the next plan reads every rule's result anew

    # -- the plan --------------------------------------------------------------------------------
    def plan(self, session: Session, consultation: Consultation) -> Plan:
        """What to ask next, given the answers and the consultation they give."""
        return self.plan_run(session, consultation.facts, consultation.trace)

    def plan_run(self, session: Session, facts: Sequence[Fact], trace: Sequence[Firing]) -> Plan:
        """What to ask next, given the answers and the facts and firings of the engine's run
        over them (what :meth:`plan` reads of a consultation)."""
        answers = session.answers
        fired = {firing.rule for firing in trace}
        wanted = self._wanted(self._walk(answers, facts, trace, fired), fired)
        keys, red, flags = wanted.keys, wanted.red, self.rules.flags
        for key, rule_id in self._calendar_waits(fired):
            if key not in answers:
                keys[key] = None
                wanted.added.append((key, rule_id))
                if flags[rule_id]:
                    red.add(key)
        # fields some rule wants from routine entries that do not exist yet: only an estimate
        wanted.dropped = [k for k in keys if k.startswith("routine[*].")]
        for key in wanted.dropped:
            del keys[key]
        listed = self.book.slots(answers)
        slots = {s.key: s for s in listed}
        askable, needed_for = self._askable(wanted, slots, answers)
        red = {k for k in askable if k in red}
        for slot in slots.values():       # the client block is always asked, first
            if slot.question.fact_type == "client" and slot.key not in answers:
                askable[slot.key] = slot
        pending = self._in_order(askable, red, listed)
        rank = self.rules.rank
        return Plan(pending[0] if pending else None, pending, lambda: wanted.waiting(rank), needed_for,
                    red, len(wanted.dropped))

    def _walk(self, answers: dict, facts: Sequence[Fact], trace: Sequence[Firing], fired: set) -> Walk:
        """A walk over the rules for this state, the last walk's results kept where what they
        read is unchanged."""
        memory, rules = self._memory, self.rules
        state = State.of(rules, answers, facts, trace, fired)
        changed = changes(rules, memory.state, state)
        if changed is None:
            memory.clear()
            self._standing.clear()
            self._every = True
        else:       # a rule that fired or no longer fires is read at another node
            memory.touched.update(memory.state.fired ^ state.fired)
        walk = Walk(rules, state, memory)
        if changed:
            walk.refresh(changed)
        # a state whose facts' stability goes round in a circle is never built on
        memory.state = None if state.tangled or rules.order is None else state
        return walk

    def _wanted(self, walk: Walk, fired: set) -> Wanted:
        """The answers the rules wait on: each key in the order of the first rule (in rule
        order) waiting on it, a rule's keys sorted; those a red-flag rule waits on."""
        memory, standing, top = walk.memory, self._standing, self.rules.top
        touched, memory.touched = memory.touched, set()
        places = range(len(top)) if self._every else {self.rules.place[r] for r in touched}
        self._every = False
        cores = memory.cores
        for place in places:
            rule, flag, node, settled = top[place]
            # a rule that fired can still be undone by an answer that makes one of its 'not'
            # conditions match; a second firing matters only if it can say something new
            if settled is not None and rule.id in fired:
                node = settled
            core = cores.get(node) or walk.rule(rule, node[2])
            standing.put(place, (rule.id, core[1], flag) if core[0] else None)
        via, first = {}, {}
        inputs, together, smallest = memory.inputs, memory.together, standing.smallest
        for item in standing.places:        # memory.keys and standing.first, inline: ~1,000 items
            if item.__class__ is int:
                known = inputs.get(item)
                keys = via[item] = known[1] if known is not None else together[item].keys(memory)
            else:
                keys = via[item] = (item,)
            if keys:
                place = smallest.get(item)
                if place is None:
                    place = standing.first(item)
                for key in keys:
                    if key not in first or first[key] > place:
                        first[key] = place
        answers = walk.answers
        first = {key: place for key, place in first.items() if live(key, answers)}
        red = set().union(*(via[item] for item in standing.red))
        keys = dict.fromkeys(sorted(first, key=lambda k: (first[k], k)))
        return Wanted(keys, red, dict(standing.rules), via, frozenset(first))

    def _askable(self, wanted: Wanted, slots: dict, answers: dict) -> tuple[dict, dict]:
        """(key -> slot of each question worth asking now, key -> key of the question an
        unanswered one decides whether to ask); an unanswered question that decides one gets
        its rules (``wanted.shared``; a red flag's among them: ``wanted.red``)."""
        keys, red = wanted.keys, wanted.red
        needed_for: dict[str, str] = {}
        askable: dict[str, Slot] = {}
        todo = [k for k in keys if k in slots and k not in answers]
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
                    keys[ref] = None
                    wanted.shared.append((ref, key))
                    if key in red:
                        red.add(ref)
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
                    out.append((field_key(vocab, "habits", fname), rule_id))
        return out

    def applies(self, slot: Slot, answers: dict):
        """True / False, or the keys of the unanswered answers that decide it."""
        missing = []
        for ref_type, test in slot.question.when:
            key = (f"routine[{slot.entry}].{test.field}" if ref_type == "" else
                   field_key(self.book.vocabulary, ref_type, test.field))
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

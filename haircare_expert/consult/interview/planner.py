"""Which questions can still change the advice, decided from the rules."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from haircare_expert.consult.interview.session import Session
from haircare_expert.knowledge.analysis import could_conclude, declared_by, producers
from haircare_expert.knowledge.conditions import Not, Pattern, Var, match_pattern
from haircare_expert.knowledge.questions import PRODUCTS_KEY, QuestionBook, Slot
from haircare_expert.knowledge.rulebook import Rule, Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import ADVICE_KINDS, Consultation


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
    say something different (its text or conclusions use variables). Every other rule is walked: a pattern on an input fact is still possible for a fact whose answered fields
    pass its tests, and its unanswered tested fields are what it waits on; a pattern on a derived
    fact waits on whatever the unsettled rules that could conclude such a fact wait on (the
    derive chain). A rule none of whose alternatives is still possible waits on nothing.
    """

    def __init__(self, rulebook: Rulebook, book: QuestionBook):
        self.rulebook = rulebook
        self.book = book
        self.producers: dict[str, list[tuple[Rule, Any]]] = producers(rulebook.rules)
        self.varies = {r.id: _varies(r) for r in rulebook.rules}
        red_flag = rulebook.vocabulary.red_flag
        self.flags = {r.id: r.kind == "referral" or red_flag in r.concludes() for r in rulebook.rules}
        self.negates = {r.id: bool(r.negated_types()) for r in rulebook.rules}
        self._compatible: dict[int, tuple[Pattern, list[Rule]]] = {}
        self._checks: dict[int, tuple] = {}

    def pattern_checks(self, pattern: Pattern, ftype) -> tuple[list[str], list]:
        """(fields the pattern tests that a client answers, (field, predicate) of its tests but
        variable bindings), worked out once per pattern."""
        known = self._checks.get(id(pattern))
        if known is None or known[0] is not pattern:
            tested = [t.field for t in pattern.tests if not ftype.fields[t.field].generated]
            checks = [(t.field, t.predicate()) for t in pattern.tests if t.op != "bind"]
            known = self._checks[id(pattern)] = (pattern, tested, checks)
        return known[1], known[2]

    def producers_for(self, pattern: Pattern) -> list[Rule]:
        """The rules with a declaration that could match ``pattern``, in rule order (worked out
        once per pattern: it depends on the rules only, and a walk asks it thousands of times)."""
        known = self._compatible.get(id(pattern))
        if known is None or known[0] is not pattern:
            rules = {rule.id: rule for rule, decl in self.producers.get(pattern.type, ()) if could_conclude(decl, pattern)}
            known = self._compatible[id(pattern)] = (pattern, list(rules.values()))
        return known[1]

    def plan(self, session: Session, consultation: Consultation) -> Plan:
        fired = consultation.fired_rules()
        walk = _Walk(self, session, consultation, fired)
        waiting: dict[str, list[str]] = {}
        for rule in self.rulebook.rules:
            # a rule that fired can still be undone by an answer that makes one of its 'not'
            # conditions match; a second firing matters only if it can say something new
            settled = rule.id in fired and not self.varies[rule.id]
            alive, needs = walk.rule(rule, negations_only=settled)
            if alive:
                for key in needs:
                    waiting.setdefault(key, []).append(rule.id)
        answers = session.answers
        # the weekly calendar: a rule that fired and puts something on wash days (or heat days)
        # makes the wash (heat) count worth asking, even when no rule's condition tests it
        for key, rule_id in self._calendar_waits(fired):
            if key not in answers and rule_id not in waiting.setdefault(key, []):
                waiting[key].append(rule_id)
        # fields some rule wants from routine entries that do not exist yet: only an estimate
        per_product = {k for k in waiting if k.startswith("routine[*].")}
        for key in per_product:
            del waiting[key]
        slots = {s.key: s for s in self.book.slots(answers)}
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
        red = {k for k in askable if any(self.flags[r] for r in waiting.get(k, ()))}
        for slot in slots.values():       # the client block is always asked, first
            if slot.question.fact_type == "client" and slot.key not in answers:
                askable[slot.key] = slot
        order = {s.key: i for i, s in enumerate(self.book.slots(answers))}
        products_order = next((q.order for q in self.book.questions if q.creates_entries), 0)

        def rank(slot: Slot) -> tuple:
            q = slot.question
            group = 0 if q.fact_type == "client" else (1 if slot.key in red else 2)
            if q.per_entry:
                return (group, products_order + 0.5, slot.entry, q.order)
            return (group, q.order, -1, order[slot.key])

        pending = sorted(askable.values(), key=rank)
        waiting = {k: sorted(v, key=self._rule_rank) for k, v in waiting.items()}
        return Plan(pending[0] if pending else None, pending, waiting, needed_for, red,
                    len(per_product))

    def _calendar_waits(self, fired: set[str]) -> list[tuple[str, str]]:
        """(answer key, rule id) for each fired rule whose calendar entries need that count."""
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

    def _rule_rank(self, rule_id: str) -> tuple:
        rule = self.rulebook.by_id[rule_id]
        kinds = ADVICE_KINDS + ("derive",)
        return (not self.flags[rule_id], kinds.index(rule.kind) if rule.kind in kinds else 99,
                -rule.salience, rule.id)

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


class _Walk:
    """One planning pass: what each rule still waits on, memoised, derive chains followed."""

    def __init__(self, planner: Planner, session: Session, consultation: Consultation, fired: set):
        self.p = planner
        self.answers = session.answers
        self.fired = fired
        self.derived: dict[str, list] = {}
        self.by_type: dict[str, list] = {}
        for fact in consultation.facts:
            self.by_type.setdefault(fact.type, []).append(fact)
            if not fact.origin.startswith("profile:"):
                self.derived.setdefault(fact.type, []).append(fact)
        self.declared_by = declared_by(consultation.trace)
        self.stable: dict[str, bool] = {}
        self.memo: dict[tuple, tuple[bool, frozenset]] = {}
        self.stack: set[str] = set()
        self.inputs: dict = {}   # per walk: answered fields by input type, routine entries
        self.vocab = planner.book.vocabulary

    def rule(self, rule: Rule, negations_only: bool = False) -> tuple[bool, frozenset]:
        """Whether the rule can still fire, and the answers it waits on (only those inside its
        'not' conditions when ``negations_only``: the rule fired and only they can undo it)."""
        memo_key = (rule.id, negations_only)
        if memo_key in self.memo:
            return self.memo[memo_key]
        if rule.id in self.stack:       # a cycle of derivations: assume possible, add nothing
            return True, frozenset()
        self.stack.add(rule.id)
        alive, needs = False, set()
        for variant in rule.variants():
            ok, more = self._variant(rule, variant, negations_only)
            if ok:
                alive = True
                needs |= more
        self.stack.discard(rule.id)
        result = (alive, frozenset(needs))
        self.memo[memo_key] = result
        return result

    def _variant(self, rule: Rule, variant, negations_only: bool) -> tuple[bool, set]:
        needs: set[str] = set()
        for cond in variant:
            patterns = cond.body if isinstance(cond, Not) else (cond,)
            negated = isinstance(cond, Not)
            if negated and self._holds_now(cond):
                return False, set()     # what it must not see is already there (a red flag)
            for pattern in patterns:
                ftype = self.vocab.types[pattern.type]
                if ftype.derived:
                    ok, more = self._derived(rule, pattern, negated)
                else:
                    ok, more = self._input(pattern)
                if negated or not negations_only:
                    needs |= more
                if not ok and not negated:
                    return False, set()
        return True, needs

    def _holds_now(self, cond: Not) -> bool:
        """Whether a one-pattern 'not' (no shared variables) already sees a matching fact.

        Answers are only ever added, so such a rule stays blocked; a body that joins patterns
        on variables is left to the engine (never treated as blocked here).
        """
        if len(cond.body) != 1 or any(t.op == "bind" for t in cond.body[0].tests):
            return False
        pattern = cond.body[0]
        return any(match_pattern(pattern, f, {}) is not None and self._stable(f.id)
                   for f in self.by_type.get(pattern.type, ()))

    def _stable(self, fact_id: str) -> bool:
        """Whether no further answer can take this fact away: a client answer, or concluded by
        rules without 'not' conditions from stable facts."""
        if fact_id not in self.stable:
            self.stable[fact_id] = False        # a cycle: not proven stable
            firings = self.declared_by.get(fact_id)
            self.stable[fact_id] = firings is None or any(
                not self.p.negates[firing.rule] and all(self._stable(f) for f in firing.facts)
                for firing in firings)
        return self.stable[fact_id]

    def _derived(self, rule: Rule, pattern: Pattern, negated: bool) -> tuple[bool, set]:
        present = any(match_pattern(pattern, f, {}) is not None for f in self.derived.get(pattern.type, ()))
        if present and not negated and not self.p.varies[rule.id]:
            return True, set()
        ok, needs = present, set()
        for producer in self.p.producers_for(pattern):
            if producer.id in self.fired and not self.p.varies[producer.id]:
                continue
            alive, more = self.rule(producer)
            if alive:
                ok = True
                needs |= more
        return ok, needs

    def _answered(self, ftype) -> tuple[dict, dict]:
        """(field -> answer, field -> answer key) of a one-fact input type, worked out once a
        walk (every rule's patterns on the type ask it)."""
        known = self.inputs.get(ftype.name)
        if known is None:
            keys = {fname: _field_key(self.vocab, ftype.name, fname) for fname in ftype.fields}
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

    def _input(self, pattern: Pattern) -> tuple[bool, set]:
        ftype = self.vocab.types[pattern.type]
        tested, checks = self.p.pattern_checks(pattern, ftype)
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
        if not pattern.tests and not fields:   # needs only that the section exists
            first = next((f for f in ftype.fields if not ftype.fields[f].generated), None)
            if first:
                needs.add(_field_key(self.vocab, ftype.name, first))
        return True, needs


def _passes(checks: list, fields: dict) -> bool:
    """Whether a fact with these (partly answered) fields can still match the pattern whose
    (field, predicate) pairs are ``checks`` (see :meth:`Planner.pattern_checks`)."""
    for fname, predicate in checks:
        if fname in fields and not predicate(fields[fname]):
            return False
    return True


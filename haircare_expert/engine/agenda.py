"""Activations and the agenda: rule matches straight onto a sorted agenda, and the engine loop.

experta's conflict-set node collects a rule's new and withdrawn matches as ``Activation``
objects; after every firing the matcher gathers them from the nodes, the strategy computes
each one's key and inserts it into the agenda, a list kept sorted with ``Activation.__lt__``.
Here a conflict-set node (:class:`AgendaNode`) computes the match's key itself and puts it on
the :class:`QuickAgenda` at once; the engine loop (:class:`QuickEngine`) pops the greatest key
and calls the rule's compiled action. The same matches reach the agenda and leave it, and the
agenda is a total order, so the firings and their order are experta's:

* the key is :class:`StableDepthStrategy`'s: (salience, matched fact ids sorted newest first,
  the alternative, the captured facts' ids in pattern order), compared as plain tuples;
* a node's memory holds the keys of its current matches: for one rule's node, two matches
  with the same facts in the same roles have the same context, so the key names the match;
* a match withdrawn (a negation's fact arrived) leaves the agenda if it is still there; two
  nodes of one rule (experta splits ``not (a and b)`` into two) may put the same match on the
  agenda twice, which is counted, as experta's list holds it twice.

:class:`StableDepthStrategy` is also the strategy of experta's stock engine (the reference the
tests compare with): it gives experta's agenda the same total order.
"""
from __future__ import annotations

import bisect
import inspect
import logging
from bisect import insort

# experta is importable: the package __init__ ran _compat first
from experta import KnowledgeEngine, watchers
from experta.agenda import Agenda
from experta.fact import InitialFact
from experta.factlist import FactList
from experta.matchers.rete.nodes import ConflictSetNode
from experta.strategies import DepthStrategy

from haircare_expert.engine.alpha import VALID
from haircare_expert.engine.budget import BudgetExceeded


class QuickAgenda:
    """The agenda: match keys sorted ascending (the last fires next) and, per key, [how many
    times it is on the agenda, its node, its context, its facts]."""

    __slots__ = ("keys", "entries")

    def __init__(self):
        self.keys: list = []
        self.entries: dict = {}

    def add(self, key, node, context, data) -> None:
        entry = self.entries.get(key)
        if entry is None:
            self.entries[key] = [1, node, context, data]
        else:
            entry[0] += 1
        bisect.insort(self.keys, key)

    def remove(self, key) -> None:
        entry = self.entries.get(key)
        if entry is None:       # fired already, or never there
            return
        del self.keys[bisect.bisect_left(self.keys, key)]
        entry[0] -= 1
        if not entry[0]:
            del self.entries[key]

    def pop(self) -> list:
        key = self.keys.pop()
        entry = self.entries[key]
        entry[0] -= 1
        if not entry[0]:
            del self.entries[key]
        return entry

    def clear(self) -> None:
        self.keys.clear()
        self.entries.clear()


class AgendaNode(ConflictSetNode):
    """A conflict-set node putting its rule's matches on the agenda itself (see the module)."""

    _agenda: QuickAgenda
    _keys: list
    _entries: dict
    _budget: list
    _touched: list
    _salience: int
    _variant: int
    _names: tuple | None
    _fire: object

    def setup(self, agenda: QuickAgenda, budget: list, touched: list) -> None:
        self._agenda, self._budget, self._touched = agenda, budget, touched
        self._keys, self._entries = agenda.keys, agenda.entries     # emptied in place only
        rule = self.rule
        self._salience = rule.salience
        self._variant = -getattr(rule._wrapped, "variant", 0)
        self._fire = getattr(rule._wrapped, "fire", None)
        self._names = None
        self.memory = set()

    def activate(self, tag, data, context):
        names = self._names
        if names is None:       # the captured facts' names, sorted as StableDepthStrategy does
            names = self._names = tuple(sorted(name for name in context if name.startswith("_f")))
        size = len(data)
        if size == 1:           # one fact: the one captured, if any is
            ids = (data[0]["__factid__"],)
            key = (self._salience, ids, self._variant, ids if names else ())
        else:
            if size == 2:       # the ids sorted newest first, without repeats
                first, second = data[0]["__factid__"], data[1]["__factid__"]
                ids = (first, second) if first > second else (second, first) if first < second else (first,)
            else:
                ids = tuple(sorted({fact["__factid__"] for fact in data}, reverse=True))
            if len(names) == 2:     # (a comprehension is a call of its own)
                captured = (context[names[0]]["__factid__"], context[names[1]]["__factid__"])
            else:
                captured = tuple([context[name]["__factid__"] for name in names])
            key = (self._salience, ids, self._variant, captured)
        memory = self.memory
        if tag is not VALID:
            memory.remove(key)
            self._agenda.remove(key)
            return
        # (a key tuple hashes anew on every lookup: each set or dict below is asked once)
        held = len(memory)
        memory.add(key)
        if len(memory) == held:     # this match is on the agenda already
            return
        if not held:
            self._touched.append(memory)
        budget = self._budget
        budget[1] -= 1
        if budget[1] < 0:
            raise BudgetExceeded("activations", self)
        entry = self._entries.setdefault(key, [0, self, context, data])    # QuickAgenda.add, inline
        entry[0] += 1
        insort(self._keys, key)

    def get_activations(self):
        return [], []


class StableDepthStrategy(DepthStrategy):
    """experta's depth strategy with a total order, so equal-looking activations never tie.

    experta orders the agenda by (salience, matched fact ids, most recent first). Two
    activations of one rule on the same facts have equal keys when two alternatives (``any``)
    match them, or when a join matches them in swapped roles (two routine entries); their order
    then followed set iteration over hashes built from function ids, which changed between
    engines and between processes. The key here adds the alternative (the first fires first)
    and the fact ids in pattern order, which breaks every such tie; whenever experta's key
    decides, the order is experta's. When a negation retracts an activation, the cheap key is
    compared before experta's full equality test.
    """

    def get_key(self, activation):
        rule = activation.rule
        context = activation.context
        # What the key takes from the rule (salience, alternative, the names of its captured
        # facts in sorted order) is the same for all its activations: work it out once.
        fixed = rule.__dict__.get("_stable_key")
        if fixed is None:
            fixed = rule._stable_key = (
                rule.salience, -getattr(rule._wrapped, "variant", 0),
                tuple(sorted(name for name in context if name.startswith("_f"))))
        salience, variant, names = fixed
        ids = sorted([f["__factid__"] for f in activation.facts], reverse=True)
        return (salience, ids, variant, tuple([context[name]["__factid__"] for name in names]))

    def _update_agenda(self, agenda, added, removed):
        activations = agenda.activations
        for act in removed:
            act.key = key = self.get_key(act)
            idx = bisect.bisect_left(activations, act)
            for offset in (0, 1, -1):
                try:
                    other = activations[idx + offset]
                except IndexError:
                    continue
                # Activation equality includes the key: a different key can never be equal.
                if other.key == key and other == act:
                    del activations[idx + offset]
                    break
        for act in added:
            act.key = self.get_key(act)
            bisect.insort(activations, act)


class QuickEngine(KnowledgeEngine):
    """experta's engine with a leaner ``reset``, ``run`` and fact declaration for the compiled
    rules, on a :class:`~haircare_expert.engine.rete.TrackedReteMatcher`.

    * ``reset()`` works out once which arguments each deffacts takes (experta inspects their
      signatures on every reset) and finds rules and deffacts from a cache (experta walks the
      class with ``inspect.getmembers``);
    * ``run()`` is experta's loop on the matcher's :class:`QuickAgenda`: new facts into the
      network, the greatest key off the agenda, the rule's compiled action called directly
      (``fire``, with the match's context) once per match: a key popped again (experta's
      ``not (a and b)`` puts a match on the agenda twice) fires nothing, as in CLIPS; the firing
      log line is formatted only when logged;
    * :meth:`quick_declare` makes a fact and puts it into the fact list as ``FactList.declare``
      does with duplicates allowed, skipping what cannot fail for the facts the compiler builds
      (plain values, no field constraints, no ``__`` in names, a class without field schemas)
      and the duplicate counter (never read when duplicates are allowed and nothing is
      retracted).
    """

    def get_rules(self):
        rules = self.__dict__.get("_rules_cache")
        if rules is None:
            rules = self._rules_cache = KnowledgeEngine.get_rules(self)
        return rules

    def get_deffacts(self):
        deffacts = self.__dict__.get("_deffacts_cache")
        if deffacts is None:
            deffacts = self._deffacts_cache = []
            for deffact in KnowledgeEngine.get_deffacts(self):
                parameters = inspect.signature(deffact).parameters.values()
                takes_any = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in parameters)
                deffacts.append((deffact, None if takes_any else {p.name for p in parameters}))
        return deffacts

    def __init__(self, *args, **kwargs):
        self._fired: set = set()        # the agenda keys fired in this run
        self._initial_plan: list = [None]   # where the InitialFact goes (see quick_declare)
        self._log_facts = _FACTS_LOG.isEnabledFor(logging.INFO)
        super().__init__(*args, **kwargs)

    def reset(self, **kwargs):
        self._fired.clear()
        self._log_facts = _FACTS_LOG.isEnabledFor(logging.INFO)    # asked once a run
        if self.agenda.activations:     # (experta's agenda: the matcher's is the one used)
            self.agenda = Agenda()
        self.facts = _emptied(self.facts)
        self.matcher.reset()
        deffacts = self.get_deffacts()
        if len(deffacts) == 1 and getattr(deffacts[0][0], "_wrapped", None) is _INITIAL_DEFFACTS:
            # only experta's own deffacts, yielding the InitialFact: declared as experta's
            # __declare does it (id 0, counted, into the network), without copying the fact,
            # validating a fact with no fields or updating the agenda with no activations
            self.facts.reference_counter[_INITIAL_ID] += 1
            self.quick_declare(InitialFact, {}, replay=self._initial_plan)
            self.running = False
            return
        facts = []
        for deffact, names in self.get_deffacts():
            facts.extend(deffact(**kwargs) if names is None
                         else deffact(**{k: v for k, v in kwargs.items() if k in names}))
        self._KnowledgeEngine__declare(*facts)
        self.running = False

    def release(self) -> None:
        """Let go of what a run leaves behind: the tokens in the network's memories, the keys
        fired, the facts in the fact list (each is emptied in place: a run's result never
        holds them). Freed now, by reference counting, they are never scanned by the
        collector, which would otherwise find them young when it resumes after the run."""
        self.matcher.reset()
        self._fired.clear()
        self.facts.clear()
        self.facts.reference_counter.clear()

    def quick_declare(self, cls, fields, update: bool = True, replay: list | None = None):
        """A new fact of the Fact class ``cls`` with the plain values ``fields`` (see the class
        docstring), declared; it is returned. It is made without ``Fact.__init__``, which
        stores the values one by one (``freeze`` returns plain values as they are) and an
        empty dict of defaults that only a class with field schemas reads. ``replay``: for a
        fact whose content is the same every time (a rule's conclusion with every field
        given), a one-item list holding the network's plan for it (see
        :func:`~haircare_expert.engine.alpha.replay`), or None until the first walk makes one."""
        fact = _new_fact(cls)
        _update(fact, fields)
        if replay is not None:
            fact._replay = replay
        facts = self.facts
        index = facts.last_index
        _setitem(fact, "__factid__", index)
        facts[index] = fact
        facts.last_index = index + 1
        facts.added.append(fact)
        if self._log_facts:
            _FACTS_LOG.info(" ==> %s: %r", fact, fact)
        if update and not self.running:
            self.matcher.changes(*self.facts.changes)
        return fact

    def pending(self) -> int:
        """How many activations wait on the agenda, the last firing's conclusions included."""
        facts = self.facts
        if facts.added or facts.removed:
            self.matcher.changes(*facts.changes)
        return len(self.matcher.agenda.keys)

    def run(self, steps=float("inf")):
        self.running = True
        execution = 0
        facts, matcher = self.facts, self.matcher
        agenda = matcher.agenda
        log_rules = _RULES_LOG.isEnabledFor(logging.INFO)
        log_agenda = watchers.worth("AGENDA", "DEBUG")
        root = matcher.root_node
        keys, entries = agenda.keys, agenda.entries     # emptied in place only
        fired = self._fired
        while steps > 0 and self.running:
            if facts.removed:
                matcher.changes(*facts.changes)
            while facts.added:      # the last firing's facts into the network, in order
                added, facts.added = facts.added, []
                for fact in added:
                    root.add(fact)
            if log_agenda:  # pragma: no cover - as experta logs it
                for idx, key in enumerate(agenda.keys):
                    entry = agenda.entries[key]
                    watchers.AGENDA.debug("%d: %r %r", idx, entry[1].rule.__name__,
                                          ", ".join(str(f) for f in entry[3]))
            if not keys:
                break
            key = keys.pop()            # QuickAgenda.pop, inline (the key hashed once)
            entry = entries.pop(key)
            if entry[0] > 1:
                entry[0] -= 1
                entries[key] = entry
            _, node, context, data = entry
            steps -= 1
            execution += 1
            if log_rules:
                _RULES_LOG.info("FIRE %s %s: %s", execution, node.rule.__name__,
                                ", ".join(str(f) for f in data))
            # a key names the match: the rule (its unique salience), the alternative and the
            # captured facts (see the module docstring)
            done = len(fired)
            fired.add(key)
            if len(fired) != done:
                node._fire(context)
        self.running = False


_INITIAL_DEFFACTS = KnowledgeEngine._declare_initial_fact._wrapped    # a DefFacts' function
_INITIAL_ID = FactList._get_fact_id(InitialFact())
_FACTS_LOG = watchers.FACTS
_new_fact, _update, _setitem = dict.__new__, dict.update, dict.__setitem__


def _emptied(facts: FactList) -> FactList:
    """``facts`` emptied as a new ``FactList`` is (``release`` empties its facts after a run):
    the one object kept from run to run."""
    if type(facts) is not FactList:
        return FactList()
    facts.clear()
    facts.last_index = 0
    facts.reference_counter.clear()
    facts.added, facts.removed, facts.duplication = [], [], False
    return facts
_RULES_LOG = watchers.RULES

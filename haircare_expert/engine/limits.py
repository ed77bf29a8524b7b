"""What one rule may ask of the engine: static limits, checked before anything is compiled.

A consultant's rule folder is untrusted input. Two shapes of rule would otherwise exhaust the
machine or crash the engine, whatever the client's profile:

* a join of many patterns over a fact type a profile holds many of (``uses``: one fact per
  routine entry, up to 100): ``k`` such patterns build up to 100^k partial matches (a 4-way
  join on a 100-entry routine ran past 6 GiB). At most :data:`MAX_MULTI_JOIN` per alternative;
  what a 3-way join can still build on a long routine is stopped at run time by the network's
  budget (:class:`~haircare_expert.engine.rete.Budget`, exit 6 naming the rule);
* very long rules: each condition is a node in a chain a fact travels down by calls, and
  hundreds of them hit Python's recursion limit (700 conditions, 5,000 negations). At most
  :data:`MAX_CONDITIONS` conditions (patterns, those inside ``not`` included) and
  :data:`MAX_ALTERNATIVES` alternatives (``any`` expanded) per rule.

The limits are far above what real rules use (the shipped rules: at most 6 conditions, 2
routine patterns and 2 alternatives). :func:`check` gives one ``RuleError`` per rule over a
limit (``Engine`` raises them, exit 4); ``haircare rules lint`` reports them as errors.
"""
from __future__ import annotations

from collections.abc import Sequence

from haircare_expert.errors import RuleError
from haircare_expert.knowledge.conditions import AnyOf, Condition, Not, Pattern
from haircare_expert.knowledge.rulebook import Rule, Rulebook

#: Patterns on a multi-valued fact type (a vocabulary type with ``many: true``) in one
#: alternative of a rule.
MAX_MULTI_JOIN = 3
#: Conditions in one alternative of a rule, the patterns inside ``not`` included.
MAX_CONDITIONS = 64
#: Alternatives of one rule once ``any`` is expanded.
MAX_ALTERNATIVES = 256


def alternatives(when: Sequence[Condition]) -> int:
    """How many alternatives ``when`` expands to, counted without expanding them."""
    count = 1
    for cond in when:
        if isinstance(cond, AnyOf):
            count *= sum(alternatives(alt) for alt in cond.alternatives)
    return count


def problems(rulebook: Rulebook) -> list[tuple[Rule, str]]:
    """(rule, what is wrong) for every rule over a limit, in rule order."""
    many = {name for name, ftype in rulebook.vocabulary.types.items() if ftype.many}
    found = []
    for rule in rulebook.rules:
        what = _rule_problem(rule, many)
        if what:
            found.append((rule, f"rule {rule.id}: {what}"))
    return found


def check(rulebook: Rulebook) -> list[RuleError]:
    """One :class:`RuleError` (at the rule's file:line) per rule over a limit."""
    return [RuleError(rule.at, what, code="engine-limit", rule=rule.id) for rule, what in problems(rulebook)]


def _rule_problem(rule: Rule, many: set[str]) -> str:
    count = alternatives(rule.when)
    if count > MAX_ALTERNATIVES:
        return (f"its 'any' conditions expand to {count:,} alternatives (the engine's limit is "
                f"{MAX_ALTERNATIVES}); split the rule")
    for variant in rule.variants():
        size = sum(len(c.body) if isinstance(c, Not) else 1 for c in variant)
        if size > MAX_CONDITIONS:
            return (f"{size} conditions in one alternative (the engine's limit is {MAX_CONDITIONS}); "
                    f"split the rule into smaller ones chained by a derived fact")
        joined = [c.type for c in variant if isinstance(c, Pattern) and c.type in many]
        if len(joined) > MAX_MULTI_JOIN:
            return (f"it joins {len(joined)} '{joined[0]}' facts (the engine's limit is {MAX_MULTI_JOIN}): "
                    f"on a long routine that is millions of combinations; match fewer entries")
    return ""

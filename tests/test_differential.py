"""Two engines, one meaning: on generated valid profiles, the rules experta fires (and the facts it
derives) are exactly those the direct Python evaluator finds, for the shipped and a synthetic KB."""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haircare_expert.consult.advisor import Advisor
from haircare_expert.engine.evaluator import evaluate
from haircare_expert.knowledge.conditions import Not, Pattern
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary
from haircare_expert.model import UNKNOWN

EXAMPLES = 1000
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def thresholds(rulebook: Rulebook | None) -> dict[str, set[int]]:
    """The numbers the rules compare each field with, and their neighbours (the edges that matter)."""
    found: dict[str, set[int]] = {}
    for rule in rulebook.rules if rulebook else ():
        for variant in rule.variants():
            patterns = [c for c in variant if isinstance(c, Pattern)]
            patterns += [p for c in variant if isinstance(c, Not) for p in c.body]
            for pattern in patterns:
                for test in pattern.tests:
                    if isinstance(test.value, int) and not isinstance(test.value, bool):
                        found.setdefault(test.field, set()).update(
                            {test.value - 1, test.value, test.value + 1})
    return found


def value_strategy(spec, edges: set[int] = frozenset()):
    """Any legal answer for one vocabulary field; ``unknown`` about one time in four."""
    if spec.type == "choice":
        return st.sampled_from(spec.values + (UNKNOWN,))
    if spec.type == "set":
        base = st.lists(st.sampled_from(spec.values), unique=True, max_size=min(4, len(spec.values)))
    elif spec.type == "int":
        points = sorted({spec.min, spec.max} | {e for e in edges if spec.min <= e <= spec.max})
        base = st.one_of(st.integers(spec.min, min(spec.max, 10)), st.sampled_from(points))
    elif spec.type == "bool":
        base = st.booleans()
    elif spec.type == "date":
        base = st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)).map(dt.date.isoformat)
    else:
        return st.text("abc xyz", max_size=8)
    return st.one_of(base, base, base, st.just(UNKNOWN))


def entry_strategy(ftype, edges):
    """One mapping for a profile section: required fields always, the others sometimes."""
    fields = {name: spec for name, spec in ftype.fields.items() if not spec.generated}
    required = {n: value_strategy(s, edges.get(n, set())) for n, s in fields.items() if s.required}
    optional = {n: value_strategy(s, edges.get(n, set())) for n, s in fields.items() if not s.required}
    return st.fixed_dictionaries(required, optional=optional)


def profile_strategy(vocabulary: Vocabulary, rulebook: Rulebook | None = None):
    """Valid client profiles built from the vocabulary, so they follow it as it grows.

    With a rulebook, numbers are drawn more often at the thresholds its rules test.
    """
    edges = thresholds(rulebook)
    sections, always = {}, {}
    for name, ftype in sorted(vocabulary.sections.items()):
        if ftype.list_field:
            sections[name] = value_strategy(ftype.fields[ftype.list_field])
        elif ftype.many:
            entry = entry_strategy(ftype, edges)
            # Several entries, sometimes an exact duplicate (they must stay two facts).
            always[name] = st.one_of(st.lists(entry, max_size=4), entry.map(lambda e: [e, dict(e)]))
        else:
            sections[name] = entry_strategy(ftype, edges)
    return st.fixed_dictionaries(always, optional=sections)


def firings_by_content(consultation):
    by_id = {f.id: f for f in consultation.facts}
    return {(t.rule, tuple(by_id[i].key() for i in t.facts)) for t in consultation.trace}


def check_same(advisor: Advisor, profile: dict) -> set[str]:
    client, facts = advisor.vocabulary.profile_facts(profile)
    consultation = advisor.consult_facts(client, facts)
    direct = evaluate(advisor.rulebook, facts)
    assert firings_by_content(consultation) == {m.key() for m in direct.matches}
    assert {f.key() for f in consultation.facts} == {f.key() for f in direct.facts}
    return consultation.fired_rules()


SHIPPED = Advisor()


@SETTINGS
@given(profile=profile_strategy(SHIPPED.vocabulary, SHIPPED.rulebook))
def test_shipped_rules_fire_the_same_in_both_engines(profile):
    check_same(SHIPPED, profile)


def rule_examples(rulebook: Rulebook) -> list:
    return [pytest.param(profile, id=f"{rule.id}-{kind}{i}")
            for rule in rulebook.rules for kind in ("fires", "silent")
            for i, profile in enumerate(rule.examples.get(kind) or [])]


@pytest.mark.parametrize("profile", rule_examples(SHIPPED.rulebook))
def test_each_rule_example_fires_the_same_in_both_engines(profile):
    """The rules' own example cases reach every rule, whatever the random profiles miss."""
    check_same(SHIPPED, profile)


SYNTHETIC = """
rules:
  - id: d-flaky
    title: symptom to state
    kind: derive
    when: [{fact: scalp, symptoms: {contains_any: [flaking, itching]}}]
    then: {declare: [{scalp-state: flaky}]}
    because: x
    sources: [{own: true, note: t}]
  - id: d-oily
    title: either oily or buildup
    kind: derive
    when:
      - any:
          - {fact: scalp, symptoms: {contains: oiliness}}
          - {fact: habits, washes_per_week: {le: 1}}
          - all: [{fact: uses, product: hair_oil}, {fact: uses, applied_to: {contains: scalp}}]
    then: {declare: [{scalp-state: oily}]}
    because: x
    sources: [{own: true, note: t}]
  - id: d-red-flag
    title: a red flag
    kind: derive
    when: [{fact: scalp, symptoms: {contains_any: [patchy_loss, rash]}}]
    then: {declare: [{red-flag: patchy_loss}]}
    because: x
    sources: [{own: true, note: t}]
  - id: d-need-from-state
    title: any scalp state needs care unless red flag
    kind: derive
    when: [{fact: scalp-state, state: "?s"}, {not: {fact: red-flag}}]
    then: {declare: [{need: scalp_hydration}]}
    because: x
    sources: [{own: true, note: t}]
  - id: d-recommend-used
    title: a product used on scalp and ends (self-join on a variable)
    kind: derive
    when:
      - {fact: uses, product: "?p", applied_to: {contains: scalp}}
      - {fact: uses, product: "?p", entry: "?e", applied_to: {contains_any: [ends, mid_lengths]}}
    then: {declare: [{recommend: "?p"}]}
    because: x
    sources: [{own: true, note: t}]
  - id: d-recommend-serum
    title: need to product
    kind: recommendation
    when: [{fact: need, name: scalp_hydration}, {not: {fact: uses, product: scalp_serum, per_week: {ge: 2}}}]
    then: {advise: Use a scalp serum., declare: [{recommend: scalp_serum}]}
    because: x
    sources: [{own: true, note: t}]
  - id: d-howto
    title: how-to for any recommended product
    kind: how-to
    when: [{fact: recommend, product: "?p"}]
    then: {advise: "How to use {{ p }}."}
    because: x
    sources: [{own: true, note: t}]
  - id: d-nothing
    title: negation over the end of the chain
    kind: note
    when: [{fact: hair}, {not: {fact: recommend}}]
    then: {advise: Nothing to add.}
    because: x
    sources: [{own: true, note: t}]
  - id: d-not-join
    title: not over a join with a bound variable
    kind: warning
    when:
      - {fact: uses, product: "?p", per_week: {ge: 3}}
      - not: {all: [{fact: uses, product: "?p", rinsed_out: true}, {fact: habits, washes_per_week: {ge: 2}}]}
    then: {advise: "Rinse {{ p }}."}
    because: x
    sources: [{own: true, note: t}]
  - id: d-not-any
    title: not over alternatives
    kind: note
    when:
      - {fact: hair, type: {known: true}}
      - not: {any: [{fact: hair-state, state: dry}, {fact: goals, wanted: {contains: shine}}]}
    then: {advise: No shine wanted.}
    because: x
    sources: [{own: true, note: t}]
  - id: d-dry-hair
    title: dry hair from concerns or straight unknown
    kind: derive
    when:
      - any:
          - {fact: hair, concerns: {contains_all: [dryness, frizz]}}
          - {fact: hair, type: unknown, thickness: {ne: fine}}
          - {fact: hair, concerns: {empty: true}, type: {not_in: [curly, coily]}}
    then: {declare: [{hair-state: dry}]}
    because: x
    sources: [{own: true, note: t}]
  - id: d-pair
    title: two routine entries of any kind (same fact may fill both patterns)
    kind: note
    when: [{fact: uses, hair_state: dry}, {fact: uses, minutes_on: {gt: 0}, reactions: {contains_none: [rash]}}]
    then: {advise: Pair.}
    because: x
    sources: [{own: true, note: t}]
  - id: d-always
    title: no conditions
    kind: note
    when: []
    then: {advise: Always.}
    because: x
    sources: [{own: true, note: t}]
  - id: d-only-not
    title: only a negation
    kind: note
    when: [{not: {fact: scalp}}]
    then: {advise: No scalp answers.}
    because: x
    sources: [{own: true, note: t}]
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from conftest import SOURCES
    folder = tmp_path_factory.mktemp("synthetic")
    (folder / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    (folder / "synthetic.yaml").write_text(SYNTHETIC, encoding="utf-8")
    return Advisor(Rulebook.load(shipped=folder))


def test_synthetic_rulebook_is_stratified_as_the_test_assumes(synthetic):
    """The negations in the synthetic rules only make sense if they are in higher strata."""
    strata = {r.id: r.stratum for r in synthetic.rulebook.rules}
    assert strata["d-need-from-state"] > strata["d-red-flag"]
    assert strata["d-nothing"] > strata["d-recommend-serum"] >= strata["d-need-from-state"]
    assert strata["d-not-any"] > strata["d-dry-hair"]


def test_synthetic_rules_fire_the_same_in_both_engines(synthetic):
    """Also guards against a vacuous comparison: the generated profiles fire every synthetic rule."""
    seen: set[str] = set()

    @SETTINGS
    @given(profile=profile_strategy(synthetic.vocabulary, synthetic.rulebook))
    def compare(profile):
        seen.update(check_same(synthetic, profile))

    compare()
    assert seen == {r.id for r in synthetic.rulebook.rules}


def test_a_not_over_two_patterns_fires_once_per_match(synthetic):
    """experta splits NOT(AND(a, b)) into two activations of one match; the engine fires it once."""
    profile = {"habits": {}, "routine": [{"product": "hair_oil", "per_week": 3}]}
    trace = synthetic.consult(profile).trace
    assert [t.rule for t in trace].count("d-not-join") == 1

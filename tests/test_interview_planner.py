"""The planner keeps its walk over the rules from one answer to the next and re-walks only what an
answer changed: the question it picks must be the one a walk from scratch picks, at every step of
any interview (answers, ``unknown``, ``back``, a section answered again)."""
from __future__ import annotations

import functools
import importlib.util
import random

import pytest
from conftest import ROOT

from haircare_expert.consult.advisor import Advisor
from haircare_expert.consult.interview import Interview, Planner, QuestionBook, Session
from haircare_expert.consult.interview.rule_index import RuleIndex
from haircare_expert.knowledge.questions import PRODUCTS_KEY
from haircare_expert.knowledge.rulebook import Rulebook

SECTIONS = ("hair", "scalp", "habits", "goals", "routine")


@functools.cache
def _synthetic_module():
    """benchmarks/synthetic.py, the generator of the benchmark's large rule bases."""
    spec = importlib.util.spec_from_file_location("haircare_synthetic", ROOT / "benchmarks" / "synthetic.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Advisor:
    """300 generated rules: derive chains, negations and joins over routine entries."""
    folder = tmp_path_factory.mktemp("synthetic-rules")
    _synthetic_module().write_rules(folder, 300, seed=11)
    return Advisor(Rulebook.load(shipped=folder))


def typed(rng: random.Random, question) -> str:
    """What a consultant might type at this question: a valid answer, unknown, or back."""
    return _synthetic_module().random_answer(question, rng, unknown=0.06, back=0.06)


def seen(plan) -> tuple:
    """Everything a plan tells the consultant: the question, the queue, why, what it unlocks."""
    return (plan.next.key if plan.next else None, [s.key for s in plan.pending], plan.waiting,
            plan.needed_for, plan.red_flag, plan.per_product)


def compare_every_step(advisor: Advisor, seed: int, interviews: int) -> int:
    """Drive simulated interviews; at every step the interview's own planner (which keeps its
    walk) must plan exactly as a new planner does, and the advice an answer adds or takes back
    (worked out without the whole consultation) must be the consultation's. Return the number
    of steps compared."""
    rng = random.Random(seed)
    book = QuestionBook.load(advisor.vocabulary)
    steps = 0
    for _ in range(interviews):
        talk = Interview(advisor, Session(), book)
        while not talk.finished and steps < 10_000:
            talk.handle(typed(rng, talk.current().question))
            if rng.random() < 0.04:     # a follow-up's review: one section answered again
                talk.change_section(rng.choice(SECTIONS))
            titles = list(talk.advice_titles().items())     # from the engine's run alone
            consultation = talk.consultation()
            assert titles == [((a.rule, a.text), a.title) for a in consultation.advice if a.kind != "note"]
            fresh = Planner(advisor.rulebook, book).plan(talk.session, consultation)
            assert seen(talk.plan()) == seen(fresh), (seed, steps, talk.session.history)
            steps += 1
    return steps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_on_the_shipped_rules_the_kept_walk_plans_as_a_new_one_at_every_step(advisor, seed):
    """The shipped rules: the consultant is asked exactly what a from-scratch plan would ask."""
    assert compare_every_step(advisor, seed, interviews=12) > 100


@pytest.mark.parametrize("seed", [4, 5])
def test_on_a_large_generated_base_the_kept_walk_plans_as_a_new_one_at_every_step(synthetic, seed):
    """Derive chains, negations and joins (where a missed re-walk would show): same questions."""
    assert compare_every_step(synthetic, seed, interviews=6) > 60


def test_a_resumed_interview_and_one_started_over_plan_the_same(advisor):
    """A session saved and resumed mid-way (a new planner) goes on with the same questions."""
    rng = random.Random(9)
    book = QuestionBook.load(advisor.vocabulary)
    talk = Interview(advisor, Session(), book)
    for _ in range(8):
        talk.handle(typed(rng, talk.current().question))
    resumed = Interview(advisor, Session.from_data(talk.session.to_data(), "session", advisor.vocabulary), book)
    while not talk.finished:
        assert seen(talk.plan()) == seen(resumed.plan())
        text = typed(rng, talk.current().question)
        talk.handle(text)
        resumed.handle(text)
    assert resumed.finished


CIRCLE = {
    "circle.yaml": """
        rules:
          - id: dry-lengths
            title: Dry lengths
            kind: derive
            when: [{fact: hair, concerns: {contains: dryness}}]
            then: {declare: [{hair-state: dry}]}
            because: Dryness is what she sees.
            sources: [{own: true, note: test rule}]
          - id: hydration-dries
            title: A hydration need goes with dry lengths
            kind: derive
            when: [{fact: need, name: scalp_hydration}]
            then: {declare: [{hair-state: dry}]}
            because: Test rule closing a circle.
            sources: [{own: true, note: test rule}]
          - id: dry-needs-hydration
            title: Dry lengths and flakes need hydration
            kind: derive
            when: [{fact: hair-state, state: dry}, {fact: scalp, symptoms: {contains: flaking}}]
            then: {declare: [{need: scalp_hydration}]}
            because: Test rule closing a circle.
            sources: [{own: true, note: test rule}]
          - id: hydrate
            title: Hydrate the scalp
            kind: recommendation
            when: [{fact: need, name: scalp_hydration}, {fact: habits, washes_per_week: {ge: 5}}]
            then: {advise: Use a hydrating shampoo.}
            because: Test rule.
            sources: [{own: true, note: test rule}]
    """,
}


def test_rules_that_conclude_each_other_in_a_circle_are_walked_anew_each_time(mini_advisor):
    """Rules concluding each other's facts (allowed without a negation): the planner walks them
    from scratch on each answer, as the order it enters a circle decides what it finds."""
    advisor = mini_advisor(**{name[:-5]: text for name, text in CIRCLE.items()})
    book = QuestionBook.load(advisor.vocabulary)
    assert Planner(advisor.rulebook, book).rules.order is None
    assert compare_every_step(advisor, seed=6, interviews=8) > 20


BARE = {
    "bare.yaml": """
        rules:
          - id: any-habits
            title: Whatever her habits, dry lengths need a word on them
            kind: note
            when: [{fact: habits}, {fact: hair-state, state: dry}]
            then: {advise: Ask how she cares for the lengths.}
            because: Test rule with a pattern that tests no field.
            sources: [{own: true, note: test rule}]
          - id: heat-dries
            title: Heat dries the lengths
            kind: derive
            when: [{fact: habits, heat_styling_per_week: {ge: 3}}]
            then: {declare: [{hair-state: dry}]}
            because: Test rule.
            sources: [{own: true, note: test rule}]
          - id: dry-by-nature
            title: Dry lengths she notices
            kind: derive
            when: [{fact: hair, concerns: {contains: dryness}}]
            then: {declare: [{hair-state: dry}]}
            because: Test rule.
            sources: [{own: true, note: test rule}]
          - id: dry-and-often
            title: Dry lengths washed often
            kind: recommendation
            when: [{fact: hair-state, state: dry}, {fact: habits, washes_per_week: {ge: 5}}]
            then: {advise: Wash less often.}
            because: Test rule.
            sources: [{own: true, note: test rule}]
    """,
}


def test_a_pattern_that_only_needs_the_section_follows_any_answer_in_it(mini_advisor):
    """A rule that needs only that her habits are known stops waiting once any habit is given."""
    advisor = mini_advisor(**{name[:-5]: text for name, text in BARE.items()})
    assert Planner(advisor.rulebook, QuestionBook.load(advisor.vocabulary)).rules.order is not None
    assert compare_every_step(advisor, seed=7, interviews=15) > 30


def _walked_anew(advisor: Advisor, book: QuestionBook) -> Planner:
    """A planner that keeps nothing and shares nothing between derived patterns (as for rules
    that conclude each other in a circle): every rule's answers worked out in full each time."""
    planner = Planner(advisor.rulebook, book)
    planner.rules = RuleIndex(advisor.rulebook, advisor.vocabulary)
    planner.rules.order = None
    return planner


@pytest.mark.parametrize("seed", [12, 13])
def test_shared_producers_and_kept_counts_plan_as_rules_walked_in_full(synthetic, seed):
    """What the kept planner keeps by reference (a derived pattern's producers' answers, each
    rule's place in the order questions come in, red flags) gives the same questions, queue and
    reasons as working every rule's answers out in full."""
    rng = random.Random(seed)
    book = QuestionBook.load(synthetic.vocabulary)
    steps = 0
    for _ in range(4):
        talk = Interview(synthetic, Session(), book)
        while not talk.finished:
            talk.handle(typed(rng, talk.current().question))
            _, facts, trace = talk.run()
            full = _walked_anew(synthetic, book).plan_run(talk.session, facts, trace)
            assert seen(talk.plan()) == seen(full), (seed, steps, talk.session.history)
            steps += 1
    assert steps > 40


def test_no_question_already_answered_is_waited_on(synthetic):
    """The reasons `why` gives never name a question the client has answered (a products
    question answered "unknown" leaves the routine rules waiting on it)."""
    rng = random.Random(14)
    book = QuestionBook.load(synthetic.vocabulary)
    answered_seen = 0
    for _ in range(5):
        talk = Interview(synthetic, Session(), book)
        while not talk.finished:
            talk.handle(typed(rng, talk.current().question))
            answers = talk.session.answers
            answered_seen += len(answers)
            stale = {k for k in talk.plan().waiting if k in answers}
            assert stale <= ({PRODUCTS_KEY} if answers.get(PRODUCTS_KEY, ()) is None else set())
    assert answered_seen > 100


CHAIN = {
    "chain.yaml": """
        rules:
          - id: damaged-from-concerns
            title: Damage she notices makes the scalp count as sensitive
            kind: derive
            when: [{fact: hair, concerns: {contains: damage}}]
            then: {declare: [{scalp-state: sensitive}]}
            because: Test rule.
            sources: [{own: true, note: test rule}]
          - id: dry-from-massage
            title: A daily massage dries the lengths, unless the scalp is sensitive
            kind: derive
            when: [{fact: habits, scalp_massage: {in: [daily]}}, {not: {fact: scalp-state, state: sensitive}}]
            then: {declare: [{hair-state: dry}]}
            because: Test rule.
            sources: [{own: true, note: test rule}]
          - id: dry-from-heat
            title: Heat dries the lengths
            kind: derive
            when: [{fact: habits, heat_styling_per_week: {ge: 3}}]
            then: {declare: [{hair-state: dry}]}
            because: Test rule.
            sources: [{own: true, note: test rule}]
          - id: dry-and-often
            title: Dry lengths washed often need hydration
            kind: derive
            when: [{fact: hair-state, state: dry}, {fact: habits, washes_per_week: {ge: 5}}]
            then: {declare: [{need: scalp_hydration}]}
            because: Test rule.
            sources: [{own: true, note: test rule}]
          - id: hydrate
            title: Hydrate the scalp
            kind: recommendation
            when: [{fact: need, name: scalp_hydration}]
            then: {advise: Use a hydrating shampoo.}
            because: Test rule.
            sources: [{own: true, note: test rule}]
    """,
}


def test_a_change_two_derivations_up_reaches_the_rule_at_the_end_of_the_chain(mini_advisor):
    """Dry lengths come from a daily massage (unless damage makes the scalp sensitive) or from
    heat: once damage is named, the massage is no longer asked, though the rule two derivations down
    (hydration, through the dry lengths) still waits on heat and washes."""
    advisor = mini_advisor(**{name[:-5]: text for name, text in CHAIN.items()})
    book = QuestionBook.load(advisor.vocabulary)
    talk = Interview(advisor, Session(), book)
    assert "habits.scalp_massage" in [s.key for s in talk.plan().pending]
    rng = random.Random(1)
    while talk.current().key != "hair.concerns":     # the client block
        talk.handle(typed(rng, talk.current().question))
    talk.handle("damage")
    fresh = Planner(advisor.rulebook, book).plan(talk.session, talk.consultation())
    assert seen(talk.plan()) == seen(fresh)
    pending = [s.key for s in talk.plan().pending]
    assert "habits.scalp_massage" not in pending
    assert {"habits.heat_styling_per_week", "habits.washes_per_week"} <= set(pending)
    assert compare_every_step(advisor, seed=8, interviews=10) > 20


def test_the_kept_rule_order_per_answer_is_the_order_of_the_rules_waiting_now(synthetic):
    """Which question a shared one is asked for (``needed_for``) goes by the first rule waiting
    on each question: the kept counts behind it (rules that can fire, their smallest place and
    red flags per item) are at every step those a planner counting anew finds."""
    rng = random.Random(15)
    book = QuestionBook.load(synthetic.vocabulary)
    for _ in range(3):
        talk = Interview(synthetic, Session(), book)
        while not talk.finished:
            talk.handle(typed(rng, talk.current().question))
            talk.plan()
            fresh = Planner(synthetic.rulebook, book)
            fresh.plan(talk.session, talk.consultation())
            kept, anew = talk.planner._standing, fresh._standing
            assert kept.rules == anew.rules and kept.places == anew.places and kept.red == anew.red
            assert {item: kept.first(item) for item in kept.places} == \
                {item: min(places) for item, places in anew.places.items()}

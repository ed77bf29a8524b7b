"""What building a consultation reads of the rules is worked out once per rulebook, not once per
client: the advice, plan and week every client gets stay exactly what the rules say, whichever
rulebooks a process has loaded, in whatever order, from however many threads."""
from __future__ import annotations

import pickle
import shutil
from concurrent.futures import ThreadPoolExecutor

from conftest import EXAMPLES, ROOT

from haircare_expert.consult import plan as plan_stage
from haircare_expert.consult.advisor import Advisor, assemble, render_text
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.model import ADVICE_KINDS

CUSTOM = ROOT / "tests" / "fixtures" / "custom_rules"
SERUM = ROOT / "facts" / "examples" / "serum-misuse.yaml"


def test_what_the_plan_reads_of_each_rule_is_what_the_rule_says():
    """Every rule's product, plan action, product tag, reason and kind, as the plan stage keeps
    them for the rulebook, equal the rule's own, for the shipped rules and a salon's folder."""
    for book in (Rulebook.load(), Rulebook.load([CUSTOM])):
        data = book.derived(plan_stage.plan_data)
        assert book.derived(plan_stage.plan_data) is data      # worked out once
        assert set(data.rules) == set(book.by_id)
        for rule in book.rules:
            info = data.rules[rule.id]
            assert info.rule is rule
            assert info.product == plan_stage.rule_product(rule)
            assert info.action == plan_stage.rule_action(rule)
            assert info.tagged == next((t[len("product:"):] for t in rule.tags if t.startswith("product:")), None)
            assert info.because == rule.because.strip()
            assert info.planned == (rule.kind in ADVICE_KINDS or bool(rule.declare))
            assert info.hands_on == bool(rule.steps or rule.schedule)
            assert info.recommends == ("recommend" in rule.concludes())
            assert info.in_week == bool(rule.schedule or rule.wash_day)


def test_advice_text_kept_as_written_is_the_text_a_fill_in_gives():
    """A rule whose advice is used as written (no values to fill in) gives the same text and
    steps as filling it in would, for every rule and every example's bindings."""
    advisor = Advisor()
    fixed = {r.id for r in advisor.rulebook.rules if "{" not in r.advise and not any("{" in s for s in r.steps)}
    checked = 0
    for example in EXAMPLES:
        c = advisor.consult_file(example)
        for firing in c.trace:
            rule = advisor.rulebook.by_id[firing.rule]
            if rule.id in fixed:
                assert render_text(rule, rule.advise, firing.bindings) == rule.advise
                assert [render_text(rule, s, firing.bindings) for s in rule.steps] == list(rule.steps)
                checked += 1
    assert checked > 100


def test_two_rulebooks_in_one_process_each_give_their_own_advice_and_plan(advisor, rule_folder):
    """A salon's rulebook (one shipped rule replaced) and the shipped one, used in turn in one
    process, each give what a rulebook loaded on its own gives: nothing of one leaks into the
    other, and an edited rule file read again gives the edited advice."""
    alone = Advisor(Rulebook.load([CUSTOM])).consult_file(SERUM).to_json()
    salon = Advisor(Rulebook.load([CUSTOM]))
    shipped_before = advisor.consult_file(SERUM).to_json()
    assert salon.consult_file(SERUM).to_json() == alone
    assert advisor.consult_file(SERUM).to_json() == shipped_before
    assert salon.consult_file(SERUM).to_json() == alone
    titles = {a["rule"]: a["title"] for a in alone["advice"]}
    assert titles["hair-serum-not-on-scalp"] == "Serum on the lengths only (salon wording)"
    assert {a["rule"]: a["title"] for a in shipped_before["advice"]}["hair-serum-not-on-scalp"] != titles[
        "hair-serum-not-on-scalp"]

    folder = rule_folder({})
    shutil.copytree(CUSTOM, folder, dirs_exist_ok=True)
    edited = folder / "serum.yaml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("(salon wording)", "(edited)"), encoding="utf-8")
    again = Advisor(Rulebook.load([folder])).consult_file(SERUM).to_json()
    assert {a["rule"]: a["title"] for a in again["advice"]}["hair-serum-not-on-scalp"] == \
        "Serum on the lengths only (edited)"
    assert salon.consult_file(SERUM).to_json() == alone


def test_a_rulebook_pickled_for_the_cache_leaves_its_derived_data_behind(advisor):
    """The rulebook cache stores the rules only (never a later stage's objects), and a rulebook
    read back from it advises exactly as the one it was written from."""
    book = Rulebook.load()
    first = Advisor(book).consult_file(SERUM).to_json()
    assert "_derived" in vars(book)
    copy = pickle.loads(pickle.dumps(book))
    assert "_derived" not in vars(copy)
    assert Advisor(copy).consult_file(SERUM).to_json() == first == advisor.consult_file(SERUM).to_json()


def test_consultations_assembled_in_threads_match_one_at_a_time(advisor):
    """`serve` assembles consultations in threads: on a rulebook no client has used yet, eight
    threads at once give every example client the record one thread gives."""
    runs = []
    for example in EXAMPLES:
        client, facts = advisor.vocabulary.load_profile(example)
        runs.append((client, *advisor.engine.run(facts)))
    expected = [assemble(advisor.rulebook, *run).to_json() for run in runs]
    fresh = Rulebook.load()
    # the same rules, another Rulebook object: it starts with nothing worked out
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda run: assemble(fresh, *run).to_json(), runs * 3))
    for i, record in enumerate(got):
        assert record == expected[i % len(runs)]

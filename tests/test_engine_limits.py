"""The engine's bounds: a rule file cannot exhaust the machine or crash the engine (each limit
is a clear error naming the rule), a big honest rule base runs, and the library configures no
logging."""
import subprocess
import sys
import textwrap

import pytest

from haircare_expert.engine import compiler, limits
from haircare_expert.engine.compiler import Engine, firing_limit_for
from haircare_expert.engine.rete import Budget
from haircare_expert.errors import EngineError, ExitCode, RuleErrors
from haircare_expert.knowledge.lint import lint
from haircare_expert.knowledge.rulebook import Rulebook

RULE = """
  - id: {id}
    title: T
    kind: note
    when:
{when}
    then: {{advise: "fired {id}"}}
    because: x
    sources: [{{own: true, note: test}}]
"""


def rules(*items) -> str:
    return "rules:\n" + "".join(RULE.format(id=rid, when=textwrap.indent(when, "      ")) for rid, when in items)


def join(n: int) -> str:
    return "\n".join(f"- {{fact: uses, product: \"?p{k}\"}}" for k in range(n))


def test_a_four_way_routine_join_is_refused_when_compiled_and_by_lint(rule_folder):
    """A join of 4 routine entries (100^4 combinations on a long routine) is exit 4 with the rule's place, and a lint error."""
    folder = rule_folder({"r.yaml": rules(("ok-join", join(3)), ("big-join", join(4)))})
    rulebook = Rulebook.load(shipped=folder)
    with pytest.raises(RuleErrors) as caught:
        Engine(rulebook)
    assert caught.value.exit_code == ExitCode.RULES
    assert caught.value.where.endswith("r.yaml:14")
    assert "rule big-join: it joins 4 'uses' facts" in caught.value.what
    report = lint(shipped=folder, questions=None)
    assert [(f.code, f.rule) for f in report.errors] == [("engine-limit", "big-join")]


@pytest.mark.parametrize("when", [
    "\n".join(f"- {{fact: habits, washes_per_week: {{ge: {k % 14}}}}}" for k in range(700)),
    "- {fact: hair}\n" + "\n".join(f"- not: {{fact: uses, product: hair_serum, per_week: {k % 14}}}" for k in range(5000)),
], ids=["700 conditions", "5000 negations"])
def test_a_very_long_rule_is_a_clear_load_error_not_a_recursion_error(rule_folder, when):
    """Hundreds of conditions used to crash the engine with RecursionError; now: exit 4 naming the rule and the limit."""
    folder = rule_folder({"r.yaml": rules(("long", when))})
    with pytest.raises(RuleErrors, match=f"rule long: .* conditions in one alternative .*limit is {limits.MAX_CONDITIONS}"):
        Engine(Rulebook.load(shipped=folder))


def test_any_is_counted_before_it_is_expanded():
    """A rule whose 'any' would expand to millions of alternatives is measured without expanding it."""
    from haircare_expert.knowledge.conditions import AnyOf, Pattern
    two = AnyOf(((Pattern("hair", ()),), (Pattern("scalp", ()),)))
    assert limits.alternatives((two,) * 30) == 2 ** 30


def test_the_run_budget_stops_a_join_explosion_naming_the_rule(rule_folder):
    """A 3-way join on a long routine stops with exit 6 naming the rule, and the engine runs the next client normally."""
    folder = rule_folder({"r.yaml": rules(("wide-join", join(3)), ("plain", "- {fact: hair}"))})
    rulebook = Rulebook.load(shipped=folder)
    engine = Engine(rulebook, budget=Budget(partial_matches=2_000, activations=1_000_000))
    routine = rulebook.vocabulary.profile_facts({"hair": {}, "routine": [{"product": "hair_oil"}] * 20})[1]
    with pytest.raises(EngineError) as caught:
        engine.run(routine)
    assert caught.value.exit_code == ExitCode.ENGINE
    assert caught.value.where == "wide-join"
    assert "more than 2,000 combinations of facts" in caught.value.what
    short = rulebook.vocabulary.profile_facts({"hair": {}, "routine": [{"product": "hair_oil"}] * 3})[1]
    assert engine.run(short) == Engine(rulebook).run(short)
    tight = Engine(rulebook, budget=Budget(partial_matches=1_000_000, activations=50))
    with pytest.raises(EngineError, match="more than 50 activations") as caught:
        tight.run(routine)
    assert caught.value.where == "wide-join"


def test_the_firing_limit_grows_with_the_rule_base(rule_folder, monkeypatch):
    """Many independent rules that each fire once are not mistaken for a runaway cycle."""
    monkeypatch.setattr(compiler, "DEFAULT_FIRING_LIMIT", 10)
    folder = rule_folder({"r.yaml": rules(*[(f"r{i}", "- {fact: hair}") for i in range(40)])})
    rulebook = Rulebook.load(shipped=folder)
    assert firing_limit_for(rulebook) == 10 + 2 * 40
    facts = rulebook.vocabulary.profile_facts({"hair": {}})[1]
    assert len(Engine(rulebook).run(facts)[1]) == 40
    with pytest.raises(EngineError, match=r"stopped after 30 rule firings \(r\d+ fired 1 of them\)"):
        Engine(rulebook, firing_limit=30).run(facts)


def test_the_library_adds_no_logging_handler(tmp_path):
    """Importing and using haircare_expert leaves the root logger as the application left it (experta's basicConfig is undone)."""
    script = textwrap.dedent("""
        import logging, sys
        mode = sys.argv[1]
        if mode == "configured":
            logging.basicConfig(stream=sys.stdout)
        before = list(logging.getLogger().handlers)
        from haircare_expert.consult.advisor import Advisor
        advisor = Advisor()
        advisor.consult({"hair": {"type": "curly"}})
        after = logging.getLogger().handlers
        print(len(before), len(after), after == before)
    """)
    for mode, expected in (("bare", "0 0 True"), ("configured", "1 1 True")):
        done = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, check=True,
                              cwd=tmp_path)  # outside the checkout, as an installed user runs it
        assert done.stdout.strip() == expected, (mode, done.stdout, done.stderr)

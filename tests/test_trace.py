"""The audit trace: every firing in order with its rule, the facts it matched (described, with their
origin) and the facts it declared, as text and as JSON."""
from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import ROOT

from haircare_expert.audit import trace
from haircare_expert.cli import main

EXAMPLE = ROOT / "facts" / "examples" / "dry-flaky-scalp.yaml"

CHAIN = """
rules:
  - id: s1-flaky
    title: symptom to state
    kind: derive
    when: [{fact: scalp, symptoms: {contains: flaking}}]
    then: {declare: [{scalp-state: flaky}]}
    because: x
    sources: [{own: true, note: t}]
  - id: s2-note
    title: state to note
    kind: note
    when: [{fact: scalp-state, state: "?s"}]
    then: {advise: "Scalp {{ s }}."}
    because: x
    sources: [{own: true, note: t}]
"""


def test_trace_steps_follow_the_firings_with_described_facts(mini_advisor):
    advisor = mini_advisor(chain=CHAIN)
    c = advisor.consult({"scalp": {"symptoms": ["flaking", "itching"]}})
    steps = trace.trace_steps(c, advisor.rulebook)
    assert [(s.seq, s.rule) for s in steps] == [(1, "s1-flaky"), (2, "s2-note")]
    first, second = steps
    assert [(f.id, f.text, f.origin) for f in first.matched] == [("f-1", "scalp: symptoms=[flaking, itching]", "profile:scalp")]
    assert [(f.id, f.text) for f in first.declared] == [("f-2", "scalp-state: state=flaky")]
    assert second.matched[0].origin == "rule:s1-flaky" and second.bindings == {"s": "flaky"}
    text = trace.render_text(c, advisor.rulebook)
    assert "#1 s1-flaky (derive): symptom to state" in text
    assert "declared f-2   scalp-state: state=flaky" in text
    assert "concluded by rule s1-flaky" in text and "?s = flaky" in text


def test_trace_json_lists_input_facts_and_each_firing(mini_advisor):
    advisor = mini_advisor(chain=CHAIN)
    c = advisor.consult({"scalp": {"symptoms": ["flaking"]}, "habits": {"washes_per_week": 2}})
    data = json.loads(json.dumps(trace.to_json(c, advisor.rulebook)))
    assert data["schema"] == "haircare-trace/1"
    assert [f["origin"] for f in data["input"]] == ["profile:scalp", "profile:habits"]
    assert data["trace"][1] == {"seq": 2, "rule": "s2-note", "title": "state to note", "kind": "note",
                                "matched": [{"id": "f-3", "text": "scalp-state: state=flaky", "origin": "rule:s1-flaky"}],
                                "declared": [], "bindings": {"s": "flaky"}}


def test_trace_command_text_and_json_agree_with_the_advice_report():
    runner = CliRunner()
    report = json.loads(runner.invoke(main, ["advise", str(EXAMPLE), "--format", "json"]).stdout)
    result = runner.invoke(main, ["trace", str(EXAMPLE), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(s["seq"], s["rule"]) for s in data["trace"]] == [(s["seq"], s["rule"]) for s in report["trace"]]
    assert [[m["id"] for m in s["matched"]] for s in data["trace"]] == [s["facts"] for s in report["trace"]]
    text = runner.invoke(main, ["trace", str(EXAMPLE)])
    assert text.exit_code == 0 and text.stdout.startswith("Firing sequence for Ana Example")
    for step in report["trace"]:
        assert f"#{step['seq']} {step['rule']} " in text.stdout

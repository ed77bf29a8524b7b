"""Replay of audit records: an unchanged knowledge base reports no change (exit 0); an edited, added
or blocking rule is detected, named as the cause of each changed advice line, and exits 1."""
from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner
from conftest import ROOT

from haircare_expert.audit.replay import load_record, replay
from haircare_expert.cli import main
from haircare_expert.errors import ExitCode, ProfileError
from haircare_expert.render.formats import to_json

EXAMPLE = ROOT / "facts" / "examples" / "dry-flaky-scalp.yaml"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], prog_name="haircare")


@pytest.fixture
def record(tmp_path):
    path = tmp_path / "record.json"
    result = run("advise", EXAMPLE, "--format", "json", "-o", path)
    assert result.exit_code == 0, result.stderr
    return path


def test_replaying_an_unchanged_record_reports_no_change(record):
    result = run("replay", record)
    assert result.exit_code == ExitCode.OK, result.stderr
    assert "no change in the advice" in result.stdout and "no rule changed" in result.stdout
    data = json.loads(run("replay", record, "--format", "json").stdout)
    assert data["changed"] is False and data["advice"] == [] and data["rules"]["edited"] == []


def test_an_overriding_rule_with_edited_text_is_detected_and_named(record, tmp_path, advisor):
    recorded = json.loads(record.read_text())
    target = recorded["advice"][0]["rule"]
    raw = json.loads(json.dumps(advisor.rulebook.get(target).raw))
    raw["then"]["advise"] = raw["then"]["advise"].rstrip() + " Edited for the test."
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{target}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")

    result = run("replay", record, "--rules", folder)
    assert result.exit_code == ExitCode.CHANGED, result.stderr
    assert f"1 edited ({target})" in result.stdout
    assert f"CHANGED {recorded['advice'][0]['kind']} {target}" in result.stdout
    assert f"caused by: {target} (edited)" in result.stdout
    assert "Edited for the test." in result.stdout

    data = json.loads(run("replay", record, "--rules", folder, "--format", "json").stdout)
    assert data["changed"] is True and data["rules"]["edited"] == [target]
    change, = data["advice"]
    assert change["change"] == "changed" and change["rule"] == target
    assert list(change["fields"]) == ["text"] and change["caused_by"] == [target]


def test_a_malformed_record_is_a_profile_error_with_a_clear_message(tmp_path, record, advisor):
    bad = tmp_path / "bad.json"
    data = json.loads(record.read_text())
    del data["knowledge_base"]["rule_hashes"]
    bad.write_text(json.dumps(data))
    result = run("replay", bad)
    assert result.exit_code == ExitCode.PROFILE
    assert "bad.json" in result.stderr and "rule_hashes" in result.stderr and result.stdout == ""
    bad.write_text('{"schema": "haircare-advice/1", "client": {}, "knowledge_base": {"rule_hashes": {}},'
                   ' "advice": [], "trace": [], "facts": [{"id": "f-1", "type": "hair",'
                   ' "fields": {"type": "frizzy"}, "origin": "profile:hair"}]}')
    with pytest.raises(ProfileError, match=r"facts\[0\] \(f-1\)\.type: 'frizzy' is not allowed"):
        replay(load_record(bad), advisor, where=str(bad))
    bad.write_text("[1, 2]")
    assert run("replay", bad).exit_code == ExitCode.PROFILE


# -- cause attribution on a small knowledge base ----------------------------------------------
BASE = """
rules:
  - id: state
    title: symptom to state
    kind: derive
    when: [{fact: scalp, symptoms: {contains: flaking}}]
    then: {declare: [{scalp-state: flaky}]}
    because: x
    sources: [{own: true, note: t}]
  - id: tell
    title: say the state
    kind: note
    when: [{fact: scalp-state, state: "?s"}, {not: {fact: red-flag}}]
    then: {advise: "Your scalp looks {{ s }}."}
    because: x
    sources: [{own: true, note: t}]
  - id: other
    title: unrelated
    kind: note
    when: [{fact: hair}]
    then: {advise: Hair noted.}
    because: x
    sources: [{own: true, note: t}]
"""
PROFILE = {"client": {"name": "Ana"}, "scalp": {"symptoms": ["flaking"]}, "hair": {"type": "curly"}}


def record_of(advisor) -> dict:
    return json.loads(to_json(advisor.consult(PROFILE)))


def test_an_edited_upstream_rule_is_named_for_the_advice_it_changes(mini_advisor):
    old = record_of(mini_advisor(kb=BASE))
    edited = mini_advisor(kb=BASE.replace("{scalp-state: flaky}", "{scalp-state: dry}")
                          .replace("title: unrelated", "title: unrelated, retitled"))
    result = replay(old, edited)
    assert result.rules_edited == ["other", "state"]
    tell = next(a for a in result.advice if a.rule == "tell")
    assert tell.change == "changed" and tell.fields == ["text"]
    assert (tell.old["text"], tell.new["text"]) == ("Your scalp looks flaky.", "Your scalp looks dry.")
    assert tell.caused_by == ["state"]          # in its derivation; 'other' is not
    assert next(a for a in result.advice if a.rule == "other").caused_by == ["other"]


def test_a_new_rule_that_blocks_advice_is_named_as_the_cause(mini_advisor):
    old = record_of(mini_advisor(kb=BASE))
    blocker = BASE + """
  - id: flag
    title: flaking counts as a red flag now
    kind: derive
    when: [{fact: scalp, symptoms: {contains: flaking}}]
    then: {declare: [{red-flag: persistent_symptoms}]}
    because: x
    sources: [{own: true, note: t}]
"""
    result = replay(old, mini_advisor(kb=blocker))
    assert result.rules_added == ["flag"] and result.changed
    removed, = result.advice
    assert (removed.change, removed.rule, removed.caused_by) == ("removed", "tell", ["flag"])
    assert result.no_longer_fire == ["tell"] and result.now_fire == ["flag"]


def test_an_added_advice_rule_is_reported_as_added_advice(mini_advisor):
    old = record_of(mini_advisor(kb=BASE))
    extra = BASE + """
  - id: extra
    title: new advice
    kind: note
    when: [{fact: scalp-state, state: flaky}]
    then: {advise: Something new.}
    because: x
    sources: [{own: true, note: t}]
"""
    result = replay(old, mini_advisor(kb=extra))
    added, = result.advice
    assert (added.change, added.rule, added.new["text"], added.caused_by) == ("added", "extra", "Something new.", ["extra"])


def test_the_replay_reruns_the_recorded_answers_not_a_profile_file(mini_advisor):
    """The record alone is enough: its input facts and client come back exactly."""
    advisor = mini_advisor(kb=BASE)
    old = record_of(advisor)
    result = replay(old, advisor)
    assert not result.changed
    assert result.consultation.client["name"] == "Ana"
    assert to_json(result.consultation) == to_json(advisor.consult(PROFILE))


@pytest.mark.parametrize("key, value, words", [
    ("schedule", "x", "'schedule' must map each day"),
    ("schedule", {"mon": 5}, "'schedule' must map each day"),
    ("wash_day_order", {"a": 1}, "'wash_day_order' must be a list"),
    ("conflicts", "none", "'conflicts' must be a list"),
])
def test_a_hand_edited_record_is_refused_not_crashed_on(tmp_path, record, key, value, words):
    data = json.loads(record.read_text())
    data[key] = value
    bad = tmp_path / "edited.json"
    bad.write_text(json.dumps(data))
    result = run("replay", bad)
    assert result.exit_code == ExitCode.PROFILE and words in result.stderr

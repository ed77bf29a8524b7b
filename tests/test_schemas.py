"""The published JSON Schemas: the profile schema is exactly what the vocabulary gives, and every
shipped profile, rule file and audit record fits its schema (while broken ones do not), so tools
and editors built on the schemas agree with the program."""
import json
from pathlib import Path

import pytest
from conftest import ROOT

from haircare_expert import yamlio
from haircare_expert.audit.replay import check_record, check_schema, replay
from haircare_expert.errors import ProfileError, RuleError
from haircare_expert.knowledge import schemas
from haircare_expert.knowledge.rulebook import Rulebook
from haircare_expert.knowledge.vocabulary import Vocabulary

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLES = sorted((ROOT / "facts" / "examples").glob("*.yaml"))
RULE_FILES = [p for p in sorted((ROOT / "rules").rglob("*.yaml")) if p.name != "sources.yaml"]
FIXTURE_RULE_FILES = [FIXTURES / "chain" / "chain.yaml", FIXTURES / "custom_rules" / "heat.yaml",
                      FIXTURES / "custom_rules" / "serum.yaml"]


def as_json(data):
    """What a JSON tool sees of a YAML document (dates become text)."""
    return json.loads(json.dumps(data, default=str))


def load(path):
    return as_json(yamlio.load_file(path, RuleError))


def test_the_shipped_profile_schema_is_the_one_the_vocabulary_generates():
    shipped = schemas.load(schemas.PROFILE)
    assert shipped == schemas.profile_schema(Vocabulary.load()), (
        "facts/vocabulary.yaml changed: run haircare_expert.knowledge.schemas.write_profile_schema()")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_profile_fits_the_profile_schema(path):
    assert schemas.problems(load(path), schemas.PROFILE) == []


@pytest.mark.parametrize("profile, where", [
    ({"hair": {"type": "frizzy"}}, "at hair.type"),
    ({"hair": {"colour": "red"}}, "at hair"),
    ({"habits": {"washes_per_week": 15}}, "at habits.washes_per_week"),
    ({"routine": [{"per_week": 2}]}, "at routine[0]"),
    ({"hairstyle": {}}, "at the top level"),
])
def test_a_profile_the_vocabulary_rejects_breaks_the_schema_too(profile, where):
    with pytest.raises(ProfileError):
        Vocabulary.load().profile_facts(profile)
    found = schemas.problems(profile, schemas.PROFILE)
    assert found and found[0].startswith(where), found


@pytest.mark.parametrize("path", RULE_FILES + FIXTURE_RULE_FILES, ids=lambda p: p.name)
def test_every_rule_file_fits_the_rule_file_schema(path):
    assert schemas.problems(load(path), schemas.RULE_FILE) == []


def test_a_misspelt_rule_key_breaks_the_rule_file_schema():
    rule = load(FIXTURES / "custom_rules" / "heat.yaml")
    rule = rule["rules"][0] if "rules" in rule else rule
    assert schemas.problems({**rule, "becuase": "typo"}, schemas.RULE_FILE)
    assert schemas.problems({**rule, "kind": "advice"}, schemas.RULE_FILE)


@pytest.fixture(scope="module")
def records(advisor):
    return {p.name: advisor.consult(yamlio.load_file(p, ProfileError), str(p)).to_json() for p in EXAMPLES}


def test_every_example_s_audit_record_fits_the_advice_record_schema(records):
    for name, record in records.items():
        assert schemas.problems(record, schemas.ADVICE_RECORD) == [], name
        check_record(record, name)
        check_schema(record, name)


@pytest.mark.parametrize("step, says", [
    ({"action": "maybe"}, "at plan[0].action"),
    ({"start_week": 0}, "at plan[0].start_week"),
    ({"new": "yes"}, "at plan[0].new"),
])
def test_replay_rejects_a_record_whose_plan_breaks_the_schema(advisor, records, step, says):
    record = dict(next(iter(records.values())))
    record["plan"] = [{"step": 1, "item": "Scalp serum", "product": "scalp_serum", "action": "add",
                       "new": True, "start_week": 1, "rule": "recommend-scalp-serum", "why": "w", **step}]
    assert schemas.problems({**record, "plan": record["plan"][:0]}, schemas.ADVICE_RECORD) == []
    with pytest.raises(ProfileError, match="not a usable audit record: " + says.replace("[", r"\[").replace("]", r"\]")):
        replay(record, advisor, "record.json")


def test_a_rule_file_can_point_an_editor_at_the_schema():
    """The first-line pointer a YAML language server reads names the shipped schema, and the
    loader takes the file as it is (the line is a comment)."""
    path = FIXTURES / "custom_rules" / "serum.yaml"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    target = (path.parent / first[len(prefix):]).resolve()
    assert target.name == schemas.filename(schemas.RULE_FILE)
    assert json.loads(target.read_text(encoding="utf-8")) == schemas.load(schemas.RULE_FILE)
    assert "hair-serum-not-on-scalp" in Rulebook.load([path.parent]).by_id


def test_the_schemas_list_the_same_words_as_the_program():
    """A kind, a schedule day, a test or a plan action the program accepts is never refused by the
    published schemas (nor the other way round)."""
    from haircare_expert.knowledge.conditions import OPS
    from haircare_expert.knowledge.rulebook import RULE_KEYS, SCHEDULE_DAYS, THEN_KEYS
    from haircare_expert.model import ADVICE_KINDS, PLAN_ACTIONS, RULE_KINDS
    rule, record = schemas.load(schemas.RULE_FILE)["$defs"], schemas.load(schemas.ADVICE_RECORD)["$defs"]
    assert set(rule["rule"]["properties"]) == RULE_KEYS
    assert set(rule["then"]["properties"]) == THEN_KEYS
    assert rule["rule"]["properties"]["kind"]["enum"] == list(RULE_KINDS)
    assert rule["schedule_entry"]["properties"]["days"]["enum"] == list(SCHEDULE_DAYS)
    assert set(rule["field_test"]["anyOf"][1]["properties"]) == set(OPS)
    assert record["advice"]["properties"]["kind"]["enum"] == list(ADVICE_KINDS)
    assert record["plan_step"]["properties"]["action"]["enum"] == list(PLAN_ACTIONS)

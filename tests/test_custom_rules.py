"""A consultant's own rule folder (--rules DIR or $HAIRCARE_RULES) adds rules and sources and replaces shipped rules, and every output says so."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from haircare_expert.cli import main
from haircare_expert.errors import ExitCode

CUSTOM = Path(__file__).resolve().parent / "fixtures" / "custom_rules"
PROFILE = """\
client: {name: Test Client}
habits: {washes_per_week: 3, heat_styling_per_week: 2}
routine:
  - {product: hair_serum, applied_to: [roots, ends], per_week: 2}
"""


def run(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env, prog_name="haircare")


@pytest.fixture
def profile(tmp_path):
    path = tmp_path / "client.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def advice_json(*args, env=None):
    result = run("advise", *args, "--format", "json", env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_custom_folder_adds_a_rule_and_replaces_a_shipped_one(profile):
    shipped = advice_json(profile)
    custom = advice_json(profile, "--rules", CUSTOM)
    assert "custom" not in shipped["knowledge_base"]
    assert custom["knowledge_base"]["custom"] == {
        "folders": [str(CUSTOM)], "overrides": ["hair-serum-not-on-scalp"],
        "added": ["salon-heat-protectant-reminder"]}
    assert custom["knowledge_base"]["fingerprint"] != shipped["knowledge_base"]["fingerprint"]
    assert custom["knowledge_base"]["rules"] == shipped["knowledge_base"]["rules"] + 1
    advice = {a["rule"]: a for a in custom["advice"]}
    added = advice["salon-heat-protectant-reminder"]
    assert added["sources"] == [{"source": "salon-handbook", "section": "Heat styling"}]
    replaced = advice["hair-serum-not-on-scalp"]
    assert replaced["text"].startswith("In our salon") and replaced["title"].endswith("(salon wording)")
    assert {"source": "salon-handbook", "section": "Serums"} in replaced["sources"]
    original = next(a for a in shipped["advice"] if a["rule"] == "hair-serum-not-on-scalp")
    assert not original["text"].startswith("In our salon")


def test_the_environment_variable_works_like_the_option(profile):
    by_option = advice_json(profile, "--rules", CUSTOM)
    by_env = advice_json(profile, env={"HAIRCARE_RULES": str(CUSTOM)})
    assert by_env == by_option


def test_a_later_folder_replaces_an_earlier_one(profile, tmp_path):
    second = tmp_path / "second"
    second.mkdir()
    text = (CUSTOM / "heat.yaml").read_text(encoding="utf-8")
    (second / "heat.yaml").write_text(text.replace("mist a heat protectant", "spray a heat protectant"),
                                      encoding="utf-8")
    data = advice_json(profile, "--rules", CUSTOM, "--rules", second)
    text = next(a["text"] for a in data["advice"] if a["rule"] == "salon-heat-protectant-reminder")
    assert "spray a heat protectant" in text
    assert data["knowledge_base"]["custom"]["folders"] == [str(CUSTOM), str(second)]


def test_rules_tools_see_the_custom_folder():
    listed = json.loads(run("rules", "list", "--format", "json", "--rules", CUSTOM).stdout)["rules"]
    origins = {r["id"]: r["origin"] for r in listed}
    assert origins["salon-heat-protectant-reminder"] == "custom"
    assert origins["hair-serum-not-on-scalp"] == "override"
    tested = run("rules", "test", "--format", "json", "--rules", CUSTOM)
    results = {c["name"]: c["passed"] for c in json.loads(tested.stdout)["results"]}
    assert results["salon-heat-protectant-reminder fires[0]"] and results["salon-heat-protectant-reminder silent[0]"]
    assert results["hair-serum-not-on-scalp fires[0]"]       # the replacement's own example
    linted = json.loads(run("rules", "lint", "--format", "json", "--rules", CUSTOM).stdout)
    assert linted["overrides"] == ["hair-serum-not-on-scalp"]
    assert not [e for e in linted["errors"] if str(CUSTOM) in e["where"]]


def test_a_broken_custom_folder_is_named_in_the_error(profile, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "r.yaml").write_text((CUSTOM / "heat.yaml").read_text(encoding="utf-8")
                                .replace("salon-handbook", "no-such-source"), encoding="utf-8")
    result = run("advise", profile, "--rules", bad)
    assert result.exit_code == ExitCode.RULES
    assert f"{bad / 'r.yaml'}:" in result.stderr and "unknown source 'no-such-source'" in result.stderr
    linted = run("rules", "lint", "--rules", bad)
    assert linted.exit_code == ExitCode.CHANGED and "unknown-source" in linted.stdout

"""Properties of the whole consultation on random valid profiles (built from the vocabulary):
it never crashes, always terminates well inside the firing limit, gives byte-identical JSON on
every repetition (same engine, a fresh engine, after other clients), and reads the same from a
file as from the parsed document."""
from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import profile_strategy

from haircare_expert.consult.advisor import Advisor
from haircare_expert.engine.compiler import DEFAULT_FIRING_LIMIT
from haircare_expert.render.formats import render, to_json

SHARED = Advisor()
VOCABULARY = SHARED.vocabulary
PROFILES = profile_strategy(VOCABULARY, client=True)
SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(profile=PROFILES)
def test_a_valid_profile_never_crashes_and_terminates(profile):
    consultation = SHARED.consult(profile)
    assert len(consultation.trace) < DEFAULT_FIRING_LIMIT
    data = json.loads(to_json(consultation))
    assert data["schema"] == "haircare-advice/1"
    ids = {f["id"] for f in data["facts"]}
    for firing in data["trace"]:
        assert set(firing["facts"]) <= ids and set(firing["declared"]) <= ids


@SETTINGS
@given(profile=PROFILES, other=PROFILES)
def test_the_same_profile_gives_the_same_bytes_before_and_after_another_client(profile, other):
    first = to_json(SHARED.consult(profile))
    SHARED.consult(other)
    assert to_json(SHARED.consult(profile)) == first


@settings(SETTINGS, max_examples=40)
@given(profile=PROFILES)
def test_a_fresh_advisor_gives_the_same_bytes(profile):
    fresh = Advisor(SHARED.rulebook)   # the knowledge base compiled again: a new engine
    assert to_json(fresh.consult(profile)) == to_json(SHARED.consult(profile))


@settings(SETTINGS, max_examples=60)
@given(profile=PROFILES, suffix=st.sampled_from([".yaml", ".json"]))
def test_a_profile_file_reads_the_same_as_the_document(tmp_path_factory, profile, suffix):
    path = tmp_path_factory.mktemp("profile") / f"client{suffix}"
    text = json.dumps(profile) if suffix == ".json" else yaml.safe_dump(profile, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    from_file = SHARED.consult_file(path)
    assert to_json(from_file) == to_json(SHARED.consult(profile, str(path)))


@settings(SETTINGS, max_examples=60)
@given(profile=PROFILES)
def test_every_text_report_renders_for_any_valid_profile(profile):
    consultation = SHARED.consult(profile)
    for fmt in ("txt", "md", "html"):
        assert render(consultation, fmt).strip()

"""A follow-up visit tells the client what changed since the last one, and her plan goes on from where it was."""
from __future__ import annotations

import json

from haircare_expert.consult.followup import follow_up
from haircare_expert.consult.interview import QuestionBook
from haircare_expert.model import PlanStep

LAST = {"client": {"name": "Ana", "consultant": "Sam", "date": "2026-11-22"},
        "hair": {"type": "curly", "concerns": ["frizz"]},
        "scalp": {"symptoms": ["flaking", "itching"]},
        "routine": [{"product": "shampoo"}, {"product": "hair_serum"}]}
NOW = {"client": {"name": "Ana", "consultant": "Sam", "date": "2026-12-20"},
       "hair": {"type": "curly", "concerns": ["frizz", "dryness"]},
       "scalp": {"symptoms": ["itching"]},
       "routine": [{"product": "shampoo"}, {"product": "scalp_serum"}]}


def step(product, action, new, week, item=None):
    return PlanStep(step=1, item=item or product.replace("_", " "), product=product, action=action,
                    new=new, start_week=week, rule="r", why="")


def test_symptoms_gone_and_new_and_products_started_and_stopped_in_the_clients_words(advisor):
    previous = json.loads(json.dumps(advisor.consult(LAST).to_json()))
    now = advisor.consult(NOW)
    result = follow_up(now, previous, QuestionBook.load(advisor.vocabulary), previous_id=4)
    assert now.followup is result and result.previous_date == "2026-11-22" and result.previous_id == 4
    assert result.gone == ["flakes"] and result.new == ["dryness"]
    assert result.started == ["scalp serum"] and result.stopped == ["hair serum"]
    assert not result.empty


def test_a_product_the_last_plan_introduced_is_no_longer_new(advisor):
    previous = json.loads(json.dumps(advisor.consult(LAST).to_json()))
    previous["plan"] = [step("scalp_serum", "add", True, 3).to_json(), step("hair_oil", "keep", False, 1).to_json()]
    now = advisor.consult(NOW)
    now.plan = [step("scalp_serum", "add", True, 3), step("hair_mask", "add", True, 2)]
    result = follow_up(now, previous)
    serum, mask = now.plan
    assert (serum.new, serum.start_week) == (False, 1)          # she has had it since last time
    assert (mask.new, mask.start_week) == (True, 2)             # really new: still staggered
    assert "new in the plan: hair mask" in result.plan_changes
    assert "no longer in the plan: hair oil" in result.plan_changes
    assert not any(line.startswith(("new in the plan: scalp serum", "scalp serum: now"))
                   for line in result.plan_changes)


def test_nothing_changed_is_an_empty_follow_up(advisor):
    previous = json.loads(json.dumps(advisor.consult(LAST).to_json()))
    result = follow_up(advisor.consult(LAST), previous)
    assert result.empty and result.to_json()["gone"] == []

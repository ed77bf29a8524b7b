"""The consultation's JSON and the work done once per knowledge base instead of once per client:
what a batch writes stays exactly what the fields and rules say, whatever is reused."""
from __future__ import annotations

from dataclasses import fields

from conftest import EXAMPLES

from haircare_expert.consult import advisor as consulting
from haircare_expert.model import Advice, Conflict, Firing, JsonFields, PlanStep, json_value


def _by_the_field_metadata(obj: JsonFields) -> dict:
    """The JSON the field metadata describes, read field by field (the definition)."""
    out = {}
    for f in fields(obj):
        if f.metadata.get("json", True) is False:
            continue
        value = getattr(obj, f.name)
        if f.metadata.get("sort"):
            value = dict(sorted(value.items()))
        out[f.metadata.get("key", f.name)] = json_value(value)
    return out


def test_every_record_part_is_written_as_its_fields_say(advisor):
    """The advice, plan, conflicts and trace of the JSON record follow the dataclass fields (order,
    left-out fields, sorted bindings, tuples as lists) for every example client."""
    seen = set()
    for example in EXAMPLES:
        consultation = advisor.consult_file(example)
        for part in [*consultation.advice, *consultation.plan, *consultation.conflicts, *consultation.trace]:
            assert part.to_json() == _by_the_field_metadata(part)
            assert list(part.to_json()) == list(_by_the_field_metadata(part))
            seen.add(type(part))
    assert seen == {Advice, PlanStep, Conflict, Firing}


def test_a_filled_rule_text_depends_on_the_value_and_its_type(advisor):
    """'{{ n }} times' reads '1 times' for 1 and 'True times' for True, although 1 == True: a text
    filled in once and reused is never another value's text."""
    rule = advisor.rulebook.rules[0]
    assert consulting.render_text(rule, "{{ n }} times", {"n": 1}) == "1 times"
    assert consulting.render_text(rule, "{{ n }} times", {"n": True}) == "True times"
    assert consulting.render_text(rule, "{{ n }} times", {"n": 1.0}) == "1.0 times"
    assert consulting.render_text(rule, "{{ n }} times", {"n": 1}) == "1 times"
    assert consulting.render_text(rule, "{{ n }} and {{ m }}", {"n": ("a", "b"), "m": 2}) == "a, b and 2"


def test_each_consultation_has_its_own_knowledge_base_block(advisor):
    """The knowledge-base block is worked out once per rulebook, but changing one client's copy
    changes no other consultation's record."""
    first, second = (advisor.consult_file(e) for e in EXAMPLES[:2])
    assert first.knowledge_base == second.knowledge_base == advisor.rulebook.summary()
    first.knowledge_base["rule_hashes"].clear()
    first.knowledge_base["rules"] = 0
    assert second.knowledge_base == advisor.rulebook.summary()
    assert advisor.consult_file(EXAMPLES[0]).knowledge_base == advisor.rulebook.summary()

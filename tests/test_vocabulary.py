"""Profiles are checked against the vocabulary, and every error names file, field, value and the allowed values."""
import re

import pytest

from haircare_expert.errors import NotFoundError, ProfileError
from haircare_expert.knowledge.vocabulary import Vocabulary


@pytest.fixture(scope="module")
def vocab():
    return Vocabulary.load()


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_contract_profile_becomes_facts_with_origins(vocab, tmp_path):
    path = write(tmp_path, """
client: {name: "Ana", consultant: "Sam", date: 2026-11-22}
hair: {type: curly, thickness: fine, concerns: [frizz, dryness]}
scalp: {symptoms: [flaking]}
goals: [reduce_frizz]
habits: {washes_per_week: 3, heat_styling_per_week: 2, scalp_massage: never}
routine:
  - {product: hair_serum, applied_to: [scalp], hair_state: dry, per_week: 7, rinsed_out: false, minutes_on: 0, reactions: [rash]}
  - {product: hair_serum, applied_to: [scalp], hair_state: dry, per_week: 7, rinsed_out: false, minutes_on: 0, reactions: [rash]}
""")
    client, facts = vocab.load_profile(path)
    assert client == {"name": "Ana", "consultant": "Sam", "date": "2026-11-22"}
    by_origin = {f.origin: f for f in facts}
    assert by_origin["profile:hair"].fields["concerns"] == ("frizz", "dryness")
    assert by_origin["profile:goals"].fields == {"wanted": ("reduce_frizz",)}
    # two identical routine entries stay two facts (experta would merge equal facts)
    assert {"profile:routine[0]", "profile:routine[1]"} <= set(by_origin)
    assert by_origin["profile:routine[0]"].key() != by_origin["profile:routine[1]"].key()


def test_unknown_is_accepted_for_every_kind_of_field(vocab):
    _, facts = vocab.profile_facts({
        "hair": {"type": "unknown", "concerns": "unknown"},
        "habits": {"washes_per_week": "unknown", "scalp_massage": "unknown"},
        "routine": [{"product": "hair_serum", "rinsed_out": "unknown"}]})
    hair = next(f for f in facts if f.type == "hair")
    assert hair.fields == {"type": "unknown", "concerns": "unknown"}


@pytest.mark.parametrize("text, where, words", [
    ("hair: {type: kinky}\n", "p.yaml:1", ["hair.type", "'kinky'", "straight, wavy, curly, coily"]),
    ("hair: {colour: red}\n", "p.yaml:1", ["hair.colour", "unknown field", "thickness"]),
    ("habits:\n  washes_per_week: 40\n", "p.yaml:2", ["habits.washes_per_week", "40", "out of range", "0 to 14"]),
    ("habits: {washes_per_week: three}\n", "p.yaml:1", ["whole number", "'three'"]),
    ("habits: {washes_per_week: true}\n", "p.yaml:1", ["whole number"]),
    ("routine:\n  - product: hair_serum\n    rinsed_out: maybe\n", "p.yaml:3", ["routine[0].rinsed_out", "true, false"]),
    ("routine:\n  - applied_to: [ends]\n", "p.yaml:2", ["routine[0]", "product is required"]),
    ("scalp: {symptoms: flaking}\n", "p.yaml:1", ["expected a list"]),
    ("goals: [fly]\n", "p.yaml:1", ["'fly'", "reduce_frizz"]),
    ("colour: red\n", "p.yaml:1", ["unknown section 'colour'", "routine"]),
    ("client: {age: 3}\n", "p.yaml:1", ["client.age", "unknown field"]),
    ("client: {date: yesterday}\n", "p.yaml:1", ["client.date", "not a date"]),
    ("- a\n- b\n", "p.yaml", ["must be a mapping"]),
    ("", "p.yaml", ["empty"]),
    ("hair: {type: curly\n", "p.yaml:2", ["not valid YAML"]),
    ("hair: {type: curly}\nhair: {type: wavy}\n", "p.yaml:2", ["duplicate key 'hair'"]),
])
def test_bad_profiles_name_file_line_field_and_allowed_values(vocab, tmp_path, text, where, words):
    with pytest.raises(ProfileError) as info:
        vocab.load_profile(write(tmp_path, text))
    message = str(info.value)
    assert info.value.where.endswith(where)
    for word in words:
        assert word in message


def test_json_profiles_are_accepted_and_checked(vocab, tmp_path):
    path = write(tmp_path, '{"hair": {"type": "wavy"}}', "p.json")
    assert vocab.load_profile(path)[1][0].fields == {"type": "wavy"}
    with pytest.raises(ProfileError, match="duplicate key"):
        vocab.load_profile(write(tmp_path, '{"hair": {}, "hair": {}}', "q.json"))


def test_missing_binary_and_non_utf8_files_are_clear_errors(vocab, tmp_path):
    with pytest.raises(NotFoundError):
        vocab.load_profile(tmp_path / "none.yaml")
    (tmp_path / "b.yaml").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ProfileError, match="binary"):
        vocab.load_profile(tmp_path / "b.yaml")
    (tmp_path / "l.yaml").write_bytes("hair: {type: caf\xe9}".encode("latin-1"))
    with pytest.raises(ProfileError, match="not UTF-8"):
        vocab.load_profile(tmp_path / "l.yaml")


def test_yaml_cannot_build_python_objects(vocab, tmp_path):
    path = write(tmp_path, "hair: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ProfileError, match="not valid YAML"):
        vocab.load_profile(path)


def test_billion_laughs_is_refused(vocab, tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    with pytest.raises(ProfileError, match="too large|nested"):
        vocab.load_profile(write(tmp_path, "\n".join(lines) + "\n"))


def test_a_routine_longer_than_the_vocabulary_allows_is_refused(vocab):
    cap = vocab.types["uses"].fields["entry"].max + 1
    assert len(vocab.profile_facts({"routine": [{"product": "shampoo"}] * cap})[1]) == cap
    with pytest.raises(ProfileError, match=f"at most {cap}"):
        vocab.profile_facts({"routine": [{"product": "shampoo"}] * (cap + 1)})


def test_the_domain_words_are_roles_in_the_vocabulary_file(vocab):
    """The program finds the routine, the habits, the wash count and the reported findings by
    role, so renaming them in facts/vocabulary.yaml needs no change in Python."""
    assert vocab.routine.many and vocab.routine.section == "routine"
    assert vocab.habits.fields[vocab.washes_per_week[1]].type == "int"
    assert vocab.washes_per_week[0] == vocab.habits.name
    assert vocab.types[vocab.recommend[0]].derived and vocab.recommend[1] in vocab.types[vocab.recommend[0]].fields
    assert vocab.red_flag in vocab.reported and vocab.need in vocab.reported
    assert all(vocab.types[t].derived for t in vocab.reported)


@pytest.mark.parametrize("roles, says", [
    ({"routine": "usage"}, "roles.routine: 'usage' is not a fact type"),
    ({"washes_per_week": "habits"}, "roles.washes_per_week: 'habits' is not a <fact type>.<field>"),
    ({"washes_per_week": "habits.washes"}, "'habits.washes' is not a <fact type>.<field>"),
    ({"reported": ["red-flag", "flag"]}, "roles.reported: 'flag' is not a fact type"),
    ({"favourite": "hair"}, "unknown role 'favourite'"),
])
def test_a_role_naming_nothing_in_the_vocabulary_is_a_rule_error(roles, says):
    from haircare_expert.errors import RuleError
    data = {"input": {"habits": {"fields": {"washes_per_week": {"type": "int", "min": 0, "max": 14}}}},
            "derived": {"red-flag": {"fields": {"reason": {"type": "choice", "values": ["x"]}}}},
            "roles": roles}
    with pytest.raises(RuleError, match=re.escape(says)):
        Vocabulary.from_data(data, "v.yaml")


def test_a_value_read_on_the_quick_path_is_what_the_full_check_gives(vocab):
    """Plainly legal answers skip working out where they are written: for every field of every
    fact type (and the client block), every kind of answer is read exactly as the full check
    reads it (same value, same type), and anything else still goes through the full check."""
    from haircare_expert.knowledge.vocabulary import _CLIENT_SPECS, CHECK

    specs = [s for t in vocab.types.values() for s in t.fields.values()] + list(_CLIENT_SPECS.values())
    quick = 0
    for spec in specs:
        listed = list(spec.values[:3])
        for value in [*spec.values, *([listed, listed + listed[:1], []] if listed else []), "unknown",
                      " Unknown ", "UNKNOWN", "nonsense", ["nonsense"], [1], [{"a": 1}], ["unknown"], 0, 1,
                      -1, 7, 10**6, 2.0, True, False, None, {"a": 1}, "2026-11-22", "x" * 200, "x" * 201]:
            plain = spec.plain(value)
            try:
                full = spec.normalise(value, "p.yaml", "field")
            except ProfileError:
                assert plain is CHECK, (spec.name, value)
                continue
            if plain is not CHECK:
                quick += 1
                assert plain == full and type(plain) is type(full), (spec.name, value, plain, full)
    assert quick > 100

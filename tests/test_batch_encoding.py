"""A batch line is written by orjson when it can be, by the stdlib otherwise: either way the
bytes are exactly ``json.dumps(consultation.to_json(), ensure_ascii=False, separators=(",", ":"))``
in UTF-8, for every client, every hostile text and every odd value a record can hold."""
from __future__ import annotations

import dataclasses
import enum
import importlib.util
import json
import uuid

import pytest
from conftest import EXAMPLES, ROOT, advise_json_in_fresh_process

from haircare_expert.consult import batch
from haircare_expert.model import Advice, Consultation, Fact, Firing, PlanStep

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def stdlib(consultation) -> bytes:
    """The definition of a batch line."""
    return _dumps(consultation.to_json()).encode("utf-8")


def generated_profiles(count: int, seed: int) -> list[dict]:
    """benchmarks/profiles.py: the benchmark's reproducible profiles, every field and value."""
    spec = importlib.util.spec_from_file_location("haircare_bench_profiles", ROOT / "benchmarks" / "profiles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(count, seed=seed)


@pytest.fixture
def encode():
    return batch.Encoder()


@pytest.fixture
def record(advisor):
    """A fresh consultation with advice, plan, trace and derived facts, to be changed by a test."""
    return advisor.consult_file(next(e for e in EXAMPLES if "curls" in e.name))


def test_every_example_is_written_by_orjson_as_the_stdlib_writes_it(advisor, encode):
    """Each shipped example's batch line is the stdlib's bytes, and orjson wrote every one (a
    batch never silently takes the slow path for an ordinary client)."""
    for example in EXAMPLES:
        consultation = advisor.consult_file(example)
        assert encode(consultation) == stdlib(consultation), example.name
    assert (encode.fast, encode.slow) == (len(EXAMPLES), 0)


def test_thousands_of_generated_clients_are_written_as_the_stdlib_writes_them(advisor, encode):
    """2,000 generated profiles (every field, unknown answers, 0-4 products, the benchmark's
    seeds) give the stdlib's bytes, all written by orjson."""
    profiles = generated_profiles(1000, seed=3) + generated_profiles(1000, seed=11)
    for number, profile in enumerate(profiles):
        consultation = advisor.consult(profile, f"generated:{number}")
        assert encode(consultation) == stdlib(consultation), number
    assert (encode.fast, encode.slow) == (2000, 0)


#: Client text a batch line must carry exactly: control characters (JSON escapes, some short
#: and some as \u00XX), DEL, line and paragraph separators, bidi controls, a byte-order mark,
#: non-characters, astral characters written raw and as a surrogate pair, quotes, backslashes.
HOSTILE = [
    "".join(map(chr, range(0x20))),
    "\x7f\x80\x9f\xa0\xad",
    "line\u2028para\u2029end",
    "\u202eevil\u202c \u2066iso\u2069 \u200e\u200f\u061c",
    "\ufeffbom \ufffe \uffff \U0010ffff \U000e0001",
    "\U0001f600 \U0001d11e astral",
    '"quoted" \\back\\slash\\ /slash/ </script>',
    "\\u0041 not an escape \\n",
    "\b\f\n\r\t\v\x00",
    "é\u0301 combining \u0345 \u3000 ideographic space",
    " " * 5 + "x" * 180,
]


def test_hostile_client_text_goes_through_the_batch_as_the_stdlib_writes_it(tmp_path, advisor):
    """Client names and consultants full of control, separator, bidi and astral characters
    (the free text a profile carries into the record), given raw and as JSON escapes, come out
    of `haircare batch` byte for byte as the stdlib writes them."""
    lines = []
    for text in HOSTILE:
        profile = {"client": {"name": text, "consultant": text[::-1], "date": "2026-11-29"},
                   "hair": {"type": "curly"}, "goals": ["define_curls"]}
        lines.append(json.dumps(profile, ensure_ascii=False))
        lines.append(json.dumps(profile, ensure_ascii=True))    # \ud83d\ude00 pairs, \u2028
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batch.run(source, tmp_path / "out.jsonl", advisor=advisor)
    out = (tmp_path / "out.jsonl").read_bytes().split(b"\n")
    assert out[-1] == b"" and len(out) == len(lines) + 1
    for line, raw in zip(out, lines):
        consultation = advisor.consult(json.loads(raw))
        assert line == stdlib(consultation)
        assert json.loads(line)["client"]["name"] == json.loads(raw)["client"]["name"]


def test_every_character_is_written_as_the_stdlib_writes_it(record, encode):
    """Every Unicode character but the surrogates, in a text of the record, is written as the
    stdlib writes it (escaped or not), and by orjson: an orjson release that escaped one
    differently would fail here."""
    text = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    record.client["name"] = text
    record.facts[0] = dataclasses.replace(record.facts[0], fields={text: text})
    assert encode(record) == stdlib(record)
    assert encode.fast == 1


def test_whole_numbers_up_to_64_bits_by_orjson_and_beyond_by_the_stdlib(record, encode):
    """A fired count or fact value of any size is written as the stdlib writes it: orjson takes
    the 64-bit ones, the stdlib the rest (which orjson refuses)."""
    for value, fast in [(0, True), (-1, True), (2**63 - 1, True), (2**63, True), (2**64 - 1, True),
                        (-(2**63), True), (2**64, False), (-(2**63) - 1, False), (10**40, False)]:
        record.advice[0].fired = value
        before = encode.fast
        assert encode(record) == stdlib(record), value
        assert (encode.fast > before) == fast, value


FLOATS = [1e-05, 1.5e-07, 0.00001234, 1e16, 1.5, -0.0, 0.0, 1e300, 5e-324,
          float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("place", ["client", "fact field", "fact set", "binding", "advice step",
                                   "advice source", "fired", "plan week", "schedule", "wash order"])
def test_a_float_anywhere_is_written_by_the_stdlib(record, encode, place):
    """orjson writes 1e-05 as 0.00001 and NaN as null; a float at any depth of the record sends
    the line to the stdlib, so the bytes stay the stdlib's (NaN, Infinity, 1e-05, -0.0)."""
    for value in FLOATS:
        if place == "client":
            record.client["name"] = value
        elif place == "fact field":
            record.facts[0] = dataclasses.replace(record.facts[0], fields={"per_week": value})
        elif place == "fact set":
            record.facts[0] = dataclasses.replace(record.facts[0], fields={"set": ("a", ("b", value))})
        elif place == "binding":
            record.trace[0] = dataclasses.replace(record.trace[0], bindings={"z": 1, "n": value})
        elif place == "advice step":
            record.advice[0].steps = ["one", value]
        elif place == "advice source":
            record.advice[0].sources = [{"source": "x", "section": value}]
        elif place == "fired":
            record.advice[-1].fired = value
        elif place == "plan week":
            record.plan[-1].start_week = value
        elif place == "schedule":
            record.schedule["sun"] = ["x", value]
        else:
            record.wash_day_order = ("x", value)
        assert encode(record) == stdlib(record), (place, value)
    assert (encode.fast, encode.slow) == (0, len(FLOATS))


class Colour(enum.Enum):
    RED = "red"


class Count(int):
    pass


class Name(str):
    pass


@pytest.mark.parametrize("value", [Count(3), Name("text"), [Name("in a list")], {"k": (1, Count(2))},
                                   {Name("key"): 1}, {1: "a whole-number key"}, {None: 1}, {(1, 2): 1},
                                   "lone \ud800 half"])
def test_values_orjson_writes_otherwise_or_refuses_go_to_the_stdlib(record, encode, value):
    """Subclasses of str and int, keys that are not text, a lone surrogate: whatever orjson would
    write differently or refuse, the stdlib writes (or refuses) exactly as before."""
    record.facts[-1] = dataclasses.replace(record.facts[-1], fields={"value": value})
    try:
        expected = stdlib(record)
    except (TypeError, UnicodeEncodeError) as exc:
        with pytest.raises(type(exc)):
            encode(record)
    else:
        assert encode(record) == expected
    assert (encode.fast, encode.slow) == (0, 1)


def test_deeply_nested_plain_data_is_still_written_by_orjson(record, encode):
    """Nesting alone (lists in tuples in mappings, forty deep) is no reason for the slow path."""
    value: object = "leaf"
    for depth in range(40):
        value = [value] if depth % 3 == 0 else (value, 1) if depth % 3 == 1 else {"k": value}
    record.facts[-1] = dataclasses.replace(record.facts[-1], fields={"value": value})
    assert encode(record) == stdlib(record)
    assert (encode.fast, encode.slow) == (1, 0)


def test_a_record_that_holds_itself_fails_as_it_always_did(record, encode):
    """A list that contains itself is no line: the stdlib's RecursionError, not a loop."""
    loop: list = []
    loop.append(loop)
    record.advice[0].steps = loop
    with pytest.raises(RecursionError):
        encode(record)


@pytest.mark.parametrize("value", [Colour.RED, uuid.UUID(int=1), (x for x in "ab"), {1, 2}])
def test_values_json_cannot_write_fail_as_they_always_did(record, encode, value):
    """An Enum or a UUID, which orjson would write but the stdlib refuses, still stops the line
    with the stdlib's TypeError: the batch writes nothing the stdlib would not."""
    record.trace[-1] = dataclasses.replace(record.trace[-1], bindings={"value": value})
    with pytest.raises(TypeError):
        encode(record)
    assert encode.fast == 0


def test_a_to_json_of_ones_own_is_what_is_written(record, encode):
    """A subclass that writes its advice or its whole record its own way gets its own JSON, not
    the fields' (the view is used only where this module wrote to_json)."""
    @dataclasses.dataclass
    class Shouting(Advice):
        def to_json(self):
            return {**super().to_json(), "title": self.title.upper()}

    record.advice[0] = Shouting(**{f.name: getattr(record.advice[0], f.name)
                                   for f in dataclasses.fields(Advice)})
    assert encode(record) == stdlib(record)
    assert b'"title":"' + record.advice[0].title.upper().encode() in encode(record)

    class Tagged(Consultation):
        def to_json(self):
            return {**super().to_json(), "tag": 1}

    tagged = Tagged(**{f.name: getattr(record, f.name) for f in dataclasses.fields(Consultation)})
    assert encode(tagged).endswith(b',"tag":1}') and encode(tagged) == stdlib(tagged)
    assert encode.fast == 0


def test_subclasses_that_keep_to_json_are_written_from_their_fields(record, encode):
    """A subclass with one more field (and to_json left alone) writes that field too, in order."""
    @dataclasses.dataclass
    class Noted(PlanStep):
        note: str = "extra"

    record.plan[0] = Noted(**dataclasses.asdict(record.plan[0]))
    assert encode(record) == stdlib(record)
    assert b'"note":"extra"' in encode(record) and encode.fast == 2


def test_a_record_edited_between_two_lines_is_written_as_it_now_is(record, encode):
    """Encoding the same record again after changing it (order of bindings, a text, a list)
    writes it as it is now: nothing is remembered from one line to the next."""
    first = encode(record)
    assert first == stdlib(record)
    record.trace[0] = dataclasses.replace(record.trace[0], bindings={"b": "2", "a": "1", "c": ("x",)})
    record.knowledge_base = dict(reversed(record.knowledge_base.items()))
    record.advice[0].text = "Changed."
    record.facts.append(Fact("note", {"b": 1, "a": True}, "rule:x", "f-99"))
    record.trace.append(Firing(99, "x", ("f-1",), {"only": None}, ()))
    second = encode(record)
    assert second != first and second == stdlib(record)
    assert b'"bindings":{"a":"1","b":"2","c":["x"]}' in second


def test_a_cold_json_advice_does_not_load_the_batch_encoder(tmp_path):
    """`haircare advise --format json` starts without orjson or the batch module: the batch's
    encoder costs a single advice nothing at start-up."""
    stdout, loaded = advise_json_in_fresh_process(EXAMPLES[0], tmp_path)
    assert json.loads(stdout)["schema"] == "haircare-advice/1"
    assert {"orjson", "haircare_expert.consult.batch"} & loaded == set()

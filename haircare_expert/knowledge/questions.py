"""The interview's questions as data: ``facts/questions.yaml`` read into a :class:`QuestionBook`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import RuleError
from haircare_expert.knowledge.conditions import LIST_OPS, OPS, Test
from haircare_expert.knowledge.vocabulary import CLIENT_FIELDS, FieldSpec, Vocabulary

#: The ``schema:`` of a session file, so a profile is never mistaken for a session.
SESSION_SCHEMA = "haircare-interview/1"
#: The profile path of the "which products" question; it creates the routine entries.
PRODUCTS_KEY = "routine"
#: What the consultant may type at any question instead of an answer.
COMMANDS = {"?": "why", "why": "why", "back": "back", "quit": "quit", "unknown": "unknown"}
#: The order of the sections in a profile the interview writes (others follow, by name).
SECTION_ORDER = ("hair", "scalp", "goals", "habits")
#: Typed for a multi-select question to answer "none of these".
NONE_WORDS = ("none", "nothing")
_YES = ("y", "yes", "true")
_NO = ("n", "no", "false")
_KEY_RE = re.compile(r"^(client\.[a-z_]+|[a-z_]+(\.[a-z_]+)?|routine\[(\d+)\]\.[a-z_]+)$")
_PLACEHOLDER_RE = re.compile(r"\{\{.*?\}\}")


def words(value: Any) -> str:
    """A stored value in plain words (``split_ends`` -> ``split ends``; lists joined)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ", ".join(words(v) for v in value) if value else "none"
    if value == "" or value is None:
        return "(left out)"
    return str(value).replace("_", " ")


# -- the questions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    """One question of the interview, for one vocabulary field (``uses.*``: per routine entry)."""

    ask: str                 #: ``<fact type>.<field>`` (``client.name`` for the client block)
    fact_type: str           #: vocabulary fact type; ``client`` for the client block
    field: str
    section: str             #: the profile section it fills
    kind: str                #: choice | set | int | bool | text | date
    text: str
    label: str
    help: str = ""
    choices: tuple[tuple[str, str], ...] = ()   #: (value, words shown)
    min: int | None = None
    max: int | None = None
    when: tuple[tuple[str, Test], ...] = ()     #: (fact type or "" for the same entry, test)
    per_entry: bool = False
    order: int = 0
    whole_section: bool = False                 #: the section is a plain list (goals)
    generated_text: bool = False                #: no wording in questions.yaml (a fallback)
    unlisted: tuple[str, ...] = ()              #: vocabulary values the file does not list
    line: int = 0                               #: where the question is written (0: a fallback)

    @property
    def creates_entries(self) -> bool:
        return self.fact_type == "uses" and self.field == "product"

    def values(self) -> tuple[str, ...]:
        return tuple(v for v, _ in self.choices)


@dataclass(frozen=True)
class Slot:
    """A question as it is asked: for one routine entry (``entry``) or once."""

    question: Question
    key: str                 #: the profile path the answer goes to
    entry: int | None = None
    product: str = ""

    def text(self, book: QuestionBook) -> str:
        return self.question.text.replace("{product}", book.product_words(self.product))


class QuestionBook:
    """The interview questions, checked against the vocabulary."""

    def __init__(self, questions: list[Question], vocabulary: Vocabulary, where: str = ""):
        self.questions = questions
        self.vocabulary = vocabulary
        self.where = where
        self.by_ask = {q.ask: q for q in questions}

    @classmethod
    def load(cls, vocabulary: Vocabulary, path: str | Path | None = None) -> QuestionBook:
        """Read the shipped ``facts/questions.yaml`` (or ``path``); raise RuleError with file:line."""
        if path is None:
            where = "facts/questions.yaml"
            text = (yamlio.package_files("facts") / "questions.yaml").read_text(encoding="utf-8")
            data = yamlio.loads(text, where, RuleError)
        else:
            where = str(path)
            data = yamlio.load_file(path, RuleError)
        return cls.from_data(data, vocabulary, where)

    @classmethod
    def from_data(cls, data: Any, vocabulary: Vocabulary, where: str) -> QuestionBook:
        if not isinstance(data, dict):
            raise RuleError(where, "the questions file must be a mapping with 'client' and 'questions'")
        questions: list[Question] = []
        order = 0
        for group in ("client", "questions"):
            entries = data.get(group) or []
            if not isinstance(entries, list):
                raise RuleError(f"{where}:{_line(data, group)}", f"'{group}' must be a list of questions")
            for raw in entries:
                order += 1
                questions.append(_parse_question(raw, vocabulary, where, order, group == "client"))
        seen: dict[str, Question] = {}
        for q in questions:
            if q.ask in seen:
                raise RuleError(where, f"two questions ask {q.ask}")
            seen[q.ask] = q
        # A field the file does not cover still gets a plain question, so a vocabulary change
        # never breaks a running interview; QuestionBook.check (and its test) reports the gap.
        for name in CLIENT_FIELDS:
            if f"client.{name}" not in seen:
                order += 1
                questions.append(_fallback(vocabulary, "client", name, order))
        for ftype in vocabulary.types.values():
            if ftype.derived:
                continue
            for fname, spec in ftype.fields.items():
                if not spec.generated and f"{ftype.name}.{fname}" not in seen:
                    order += 1
                    questions.append(_fallback(vocabulary, ftype.name, fname, order))
        questions.sort(key=lambda q: (q.fact_type != "client", q.order))
        return cls(questions, vocabulary, where)

    def check(self) -> list[str]:
        """Gaps between the questions and the vocabulary, in words (empty when they agree)."""
        problems = []
        for q in self.questions:
            if q.generated_text:
                problems.append(f"{q.ask}: no question in {self.where or 'the questions file'}")
            elif q.unlisted:
                problems.append(f"{q.ask}: the vocabulary allows {', '.join(q.unlisted)}, "
                                "which the question does not list")
        return problems

    def product_words(self, product: str) -> str:
        """A product in plain words, as the questions name it (``hair_serum`` -> ``hair serum``)."""
        return words(product)

    # -- slots ---------------------------------------------------------------------------------
    def slots(self, answers: dict) -> list[Slot]:
        """Every question that can be asked given the routine entries answered so far."""
        out = []
        products = answers.get(PRODUCTS_KEY)
        for q in self.questions:
            if not q.per_entry:
                out.append(Slot(q, key_of(q)))
            elif isinstance(products, tuple):
                for index, product in enumerate(products):
                    out.append(Slot(q, key_of(q, index), index, product))
        return out


def _line(node: Any, key: Any) -> int:
    return node.line_of(key) if hasattr(node, "line_of") else getattr(node, "line", 0)


def key_of(q: Question, entry: int | None = None) -> str:
    """The profile path a question's answer is stored under."""
    if q.fact_type == "client":
        return f"client.{q.field}"
    if q.creates_entries:
        return PRODUCTS_KEY
    if q.per_entry:
        return f"routine[{entry}].{q.field}"
    return q.section if q.whole_section else f"{q.section}.{q.field}"


def _parse_question(raw: Any, vocab: Vocabulary, where: str, order: int, client: bool) -> Question:
    line = f"{where}:{getattr(raw, 'line', 0)}"
    if not isinstance(raw, dict) or not isinstance(raw.get("ask"), str):
        raise RuleError(line, "each question needs 'ask: <fact type>.<field>'")
    allowed = {"ask", "text", "label", "help", "choices", "when", "min"}
    for key in raw:
        if key not in allowed:
            raise RuleError(f"{where}:{_line(raw, key)}", f"unknown key {key!r}; allowed: {', '.join(sorted(allowed))}")
    ask = raw["ask"]
    type_name, _, fname = ask.partition(".")
    if client:
        if type_name != "client" or fname not in CLIENT_FIELDS:
            raise RuleError(line, f"{ask}: client questions ask one of client.{', client.'.join(CLIENT_FIELDS)}")
        spec = FieldSpec(fname, "date" if fname == "date" else "text")
        section = "client"
    else:
        ftype = vocab.types.get(type_name)
        if ftype is None or ftype.derived or fname not in ftype.fields or ftype.fields[fname].generated:
            raise RuleError(line, f"{ask}: not an input field of the vocabulary")
        spec = ftype.fields[fname]
        section = ftype.section
    for key in ("text", "label"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RuleError(line, f"{ask}: needs '{key}' (text)")
    choices: tuple = ()
    unlisted: tuple = ()
    if spec.type in ("choice", "set"):
        given = raw.get("choices")
        if not isinstance(given, dict):
            raise RuleError(line, f"{ask}: needs 'choices', a mapping of value: words")
        for value in given:
            if value not in spec.values:
                raise RuleError(f"{where}:{_line(given, value)}",
                                f"{ask}: {value!r} is not a value of {ask}; allowed: {', '.join(spec.values)}")
        # The vocabulary is the authority on what is allowed: a value it has and the file lacks
        # is still offered (in plain words) until the file catches up.
        choices = tuple((v, str(given[v] if given[v] is not None else "")) for v in given)
        unlisted = tuple(v for v in spec.values if v not in given)
        choices += tuple((v, words(v)) for v in unlisted)
    elif spec.type == "bool":
        choices = (("yes", "yes"), ("no", "no"))
    elif raw.get("choices") is not None:
        raise RuleError(f"{where}:{_line(raw, 'choices')}", f"{ask}: a {spec.type} field takes no choices")
    # `min` narrows a number's range for the interview (a product she listed as in use is used
    # at least once a week; a profile may still say 0, "owned, not in use")
    low = raw.get("min", spec.min)
    if raw.get("min") is not None and (spec.type != "int" or not isinstance(low, int) or isinstance(low, bool)
                                       or not spec.min <= low <= spec.max):
        raise RuleError(f"{where}:{_line(raw, 'min')}", f"{ask}: min must be a whole number within the field's range")
    per_entry = not client and vocab.types[type_name].many and fname != "product"
    when = _parse_when(raw.get("when"), raw, vocab, type_name, per_entry, where, ask)
    creates_entries = not client and vocab.types[type_name].many and fname == "product"
    return Question(
        ask=ask, fact_type=type_name, field=fname,
        whole_section=not client and vocab.types[type_name].list_field == fname,
        section=section, kind="set" if creates_entries else spec.type, text=" ".join(raw["text"].split()),
        label=raw["label"].strip(), help=" ".join(str(raw.get("help") or "").split()),
        choices=choices, min=low, max=spec.max, when=when, per_entry=per_entry, order=order,
        unlisted=unlisted, line=getattr(raw, "line", 0))


def _parse_when(node, raw, vocab, type_name, per_entry, where, ask) -> tuple:
    if node is None:
        return ()
    line = f"{where}:{_line(raw, 'when')}"
    if not isinstance(node, dict):
        raise RuleError(line, f"{ask}: 'when' is a mapping of field: test")
    out = []
    for ref, spec in node.items():
        ref_type, _, ref_field = ref.rpartition(".")
        ref_type = ref_type or (type_name if per_entry else "")
        ftype = vocab.types.get(ref_type)
        if ftype is None or ftype.derived or ref_field not in ftype.fields:
            raise RuleError(line, f"{ask}: 'when' names {ref!r}, not an input field "
                            "(write <fact type>.<field>, or a bare field of the same routine entry)")
        tests = spec.items() if isinstance(spec, dict) else [("eq", spec)]
        for op, value in tests:
            if op not in OPS or op == "bind":
                raise RuleError(line, f"{ask}: unknown test {op!r} in 'when'")
            if op in LIST_OPS:
                value = tuple(value) if isinstance(value, list) else (value,)
            out.append(("" if per_entry and ref_type == type_name else ref_type, Test(ref_field, op, value)))
    return tuple(out)


def _fallback(vocab: Vocabulary, type_name: str, fname: str, order: int) -> Question:
    """A plain question for a field ``questions.yaml`` does not cover (reported by check())."""
    if type_name == "client":
        return Question(ask=f"client.{fname}", fact_type="client", field=fname, section="client",
                        kind="date" if fname == "date" else "text", text=f"The client's {words(fname)}?",
                        label=words(fname).capitalize(), order=order, generated_text=True)
    ftype = vocab.types[type_name]
    spec = ftype.fields[fname]
    creates_entries = ftype.many and fname == "product"
    per_entry = ftype.many and not creates_entries
    text = (f"For the {{product}}: {words(fname)}?" if per_entry
            else f"{ftype.describe or words(type_name)}: {words(fname)}?".capitalize())
    choices = (("yes", "yes"), ("no", "no")) if spec.type == "bool" else tuple((v, words(v)) for v in spec.values)
    return Question(ask=f"{type_name}.{fname}", fact_type=type_name, field=fname, section=ftype.section,
                    kind="set" if creates_entries else spec.type, text=text,
                    label=words(fname).capitalize(), choices=choices, min=spec.min, max=spec.max,
                    per_entry=per_entry, order=order, whole_section=ftype.list_field == fname,
                    generated_text=True)

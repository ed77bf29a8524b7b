"""The adaptive interview: questions as data, a planner that asks only what can still change the
advice, and the session state that is saved after every answer.

* :class:`QuestionBook` reads ``facts/questions.yaml``: one :class:`Question` per input field of
  the vocabulary, in the order of conversation.
* :class:`Session` holds the answers (keyed by profile path: ``hair.type``, ``goals``,
  ``routine``, ``routine[1].per_week``) and the order they were given; it turns them into a
  profile document and into the text of a session file, and back.
* :class:`Planner` decides, from the rules, which questions can still change the advice.
* :class:`Interview` ties them to an :class:`~haircare_expert.consultation.Advisor`: it
  recomputes the advice from the answers at each step and interprets what the consultant types
  (an answer, ``?``/``why``, ``back``, ``unknown``, ``quit``).

Pure library: nothing here prompts, prints or writes a file; the ``interview`` command does.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import yamlio
from .conditions import LIST_OPS, OPS, Not, Pattern, Test, Var, match_pattern
from .errors import ProfileError, RuleError
from .model import ADVICE_KINDS, UNKNOWN, Consultation, plain
from .rulebook import Rule, Rulebook
from .vocabulary import CLIENT_FIELDS, FieldSpec, Vocabulary

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

    def text(self, book: "QuestionBook") -> str:
        return self.question.text.replace("{product}", book.product_words(self.product))


class QuestionBook:
    """The interview questions, checked against the vocabulary."""

    def __init__(self, questions: list[Question], vocabulary: Vocabulary, where: str = ""):
        self.questions = questions
        self.vocabulary = vocabulary
        self.where = where
        self.by_ask = {q.ask: q for q in questions}

    @classmethod
    def load(cls, vocabulary: Vocabulary, path: str | Path | None = None) -> "QuestionBook":
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
    def from_data(cls, data: Any, vocabulary: Vocabulary, where: str) -> "QuestionBook":
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
    allowed = {"ask", "text", "label", "help", "choices", "when"}
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
    per_entry = not client and vocab.types[type_name].many and fname != "product"
    when = _parse_when(raw.get("when"), raw, vocab, type_name, per_entry, where, ask)
    creates_entries = not client and vocab.types[type_name].many and fname == "product"
    return Question(
        ask=ask, fact_type=type_name, field=fname,
        whole_section=not client and vocab.types[type_name].list_field == fname,
        section=section, kind="set" if creates_entries else spec.type, text=" ".join(raw["text"].split()),
        label=raw["label"].strip(), help=" ".join(str(raw.get("help") or "").split()),
        choices=choices, min=spec.min, max=spec.max, when=when, per_entry=per_entry, order=order,
        unlisted=unlisted)


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


# -- answers -------------------------------------------------------------------------------------
def command_of(text: str) -> str | None:
    """The command typed instead of an answer (``why``, ``back``, ``quit``, ``unknown``), if any."""
    return COMMANDS.get(text.strip().lower())


def parse_answer(q: Question, text: str, key: str = "") -> Any:
    """The stored value for what was typed; ProfileError (allowed values in words) if it is bad."""
    raw = text.strip()
    lowered = raw.lower()
    where = key or q.ask
    if q.kind in ("text", "date"):
        if lowered in ("", UNKNOWN):
            return ""
        if q.kind == "date":
            try:
                return _dt.date.fromisoformat(raw).isoformat()
            except ValueError:
                raise ProfileError(where, f"{raw!r} is not a date; type it as YYYY-MM-DD (2026-11-22), "
                                   "or press Enter to leave it out") from None
        if len(raw) > 200:
            raise ProfileError(where, "at most 200 characters, please")
        return raw
    if lowered == UNKNOWN:
        return UNKNOWN
    if not raw:
        raise ProfileError(where, f"please answer: {allowed_words(q)}")
    if q.kind == "int":
        if re.fullmatch(r"[+-]?\d+", raw):
            number = int(raw)
            if q.min <= number <= q.max:
                return number
            raise ProfileError(where, f"{number} is out of range; {allowed_words(q)}")
        raise ProfileError(where, f"{raw!r} is not a whole number; {allowed_words(q)}")
    if q.kind == "bool":
        if lowered in _YES or lowered == "1":
            return True
        if lowered in _NO or lowered == "2":
            return False
        raise ProfileError(where, f"{raw!r} is not yes or no; {allowed_words(q)}")
    if q.kind == "choice":
        value = _choice(q, raw)
        if value is None:
            raise ProfileError(where, f"{raw!r} is not one of the choices; {allowed_words(q)}")
        return value
    # a multi-select: numbers or names, separated by commas or spaces; "none" for an empty list
    if lowered in NONE_WORDS:
        return ()
    whole = _choice(q, raw)
    if whole is not None:
        return (whole,)
    parts = [p for p in re.split(r"[,;]" if re.search(r"[,;]", raw) else r"\s+", raw) if p.strip()]
    picked, bad = set(), []
    for part in parts:
        value = _choice(q, part)
        if value is None:
            bad.append(part.strip())
        else:
            picked.add(value)
    if bad:
        raise ProfileError(where, f"not a choice: {', '.join(repr(b) for b in bad)}; {allowed_words(q)}")
    return tuple(v for v in q.values() if v in picked)


def _choice(q: Question, text: str) -> str | None:
    token = text.strip().lower()
    if re.fullmatch(r"\d+", token):
        index = int(token)
        return q.choices[index - 1][0] if 1 <= index <= len(q.choices) else None
    name = re.sub(r"[\s\-]+", "_", token)
    for value, label in q.choices:
        if name == value or token == label.lower():
            return value
    return None


def allowed_words(q: Question) -> str:
    """What a question accepts, in words (shown again after a bad answer)."""
    if q.kind == "int":
        return f"type a whole number from {q.min} to {q.max}, or unknown"
    if q.kind == "bool":
        return "type yes or no (or 1 / 2), or unknown"
    if q.kind == "date":
        return "type the date as YYYY-MM-DD, or press Enter to leave it out"
    if q.kind == "text":
        return "type it, or press Enter to leave it out"
    names = ", ".join(v for v, _ in q.choices)
    if q.kind == "set":
        return (f"type the numbers 1 to {len(q.choices)} or the names of all that apply "
                f"(e.g. 1,3), none, or unknown; names: {names}")
    return f"type a number from 1 to {len(q.choices)} or a name ({names}), or unknown"


def hint(q: Question) -> str:
    """The short reminder printed after a question of this kind."""
    return {"set": "pick any: numbers or names, e.g. 1,3; none if nothing applies",
            "choice": "pick one: number or name",
            "int": f"a whole number, {q.min} to {q.max}",
            "bool": "yes or no",
            "date": "YYYY-MM-DD, or Enter to leave it out",
            "text": "Enter to leave it out"}[q.kind]


# -- the session -------------------------------------------------------------------------------
@dataclass
class Session:
    """The answers so far (by profile path) and the order they were given in."""

    answers: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    finished: bool = False

    def answer(self, key: str, value: Any) -> None:
        if key in self.answers:
            self.history.remove(key)
        self.answers[key] = value
        self.history.append(key)

    def undo(self) -> str | None:
        """Forget the last answer (and, for the products, the routine entries); return its key."""
        if not self.history:
            return None
        key = self.history.pop()
        self.answers.pop(key, None)
        if key == PRODUCTS_KEY:
            for other in [k for k in self.answers if k.startswith("routine[")]:
                self.answers.pop(other)
                if other in self.history:
                    self.history.remove(other)
        self.finished = False
        return key

    def profile(self) -> dict:
        """The answers as a profile document (the format ``haircare advise`` reads)."""
        profile: dict = {}
        client = {f: self.answers[f"client.{f}"] for f in CLIENT_FIELDS
                  if self.answers.get(f"client.{f}") not in (None, "")}
        if client:
            profile["client"] = client
        sections: dict[str, Any] = {}
        for key, value in self.answers.items():
            if key.startswith("client.") or key == PRODUCTS_KEY or key.startswith("routine["):
                continue
            if "." in key:
                section, _, fname = key.partition(".")
                sections.setdefault(section, {})[fname] = plain(value)
            else:                              # a section that is a plain list (goals)
                sections[key] = plain(value)
        for name in sorted(sections, key=lambda n: (SECTION_ORDER.index(n) if n in SECTION_ORDER else 99, n)):
            profile[name] = sections[name]
        products = self.answers.get(PRODUCTS_KEY)
        if isinstance(products, tuple):
            routine = []
            for index, product in enumerate(products):
                entry = {"product": product}
                prefix = f"routine[{index}]."
                for key, value in self.answers.items():
                    if key.startswith(prefix):
                        entry[key[len(prefix):]] = plain(value)
                routine.append(entry)
            profile["routine"] = routine
        return profile

    def dump(self) -> str:
        """The session file's text: the profile so far and the interview position."""
        head = ("# A haircare interview session: the answers so far (a client profile) and the order\n"
                "# they were given in. Continue it with: haircare interview --resume FILE\n")
        body = {"schema": SESSION_SCHEMA}
        text = head + yaml.safe_dump(body, sort_keys=False)
        text += "profile:\n" + _indent(dump_profile(self.profile(), header=False))
        text += "interview:\n" + _indent(yaml.safe_dump(
            {"finished": self.finished, "asked": list(self.history)},
            sort_keys=False, default_flow_style=False, allow_unicode=True))
        return text

    @classmethod
    def parse(cls, text: str, where: str, vocabulary: Vocabulary) -> "Session":
        """Read a session file's text; a malformed one is a ProfileError with file:line."""
        try:
            data = yamlio.loads(text, where, ProfileError)
        except ValueError as exc:      # PyYAML's own error for an impossible date (2026-13-45)
            raise ProfileError(where, f"not valid YAML: {exc}") from None
        if not isinstance(data, dict) or data.get("schema") != SESSION_SCHEMA:
            line = data.line_of("schema") if isinstance(data, yamlio.LineDict) else 1
            raise ProfileError(f"{where}:{line}", f"not an interview session (expected 'schema: {SESSION_SCHEMA}')")
        for key in data:
            if key not in ("schema", "profile", "interview"):
                raise ProfileError(f"{where}:{data.line_of(key)}", f"unknown key {key!r}; allowed: schema, profile, interview")
        profile = data.get("profile") or yamlio.LineDict()
        client, facts = vocabulary.profile_facts(profile, where)
        session = cls()
        for name, value in client.items():
            session.answers[f"client.{name}"] = value
        for fact in facts:
            ftype = vocabulary.types[fact.type]
            if ftype.list_field:
                session.answers[ftype.section] = fact.fields[ftype.list_field]
            elif ftype.many:
                prefix = f"{ftype.section}[{fact.fields['entry']}]."
                for name, value in fact.fields.items():
                    if name not in ("entry", "product"):
                        session.answers[prefix + name] = value
            else:
                for name, value in fact.fields.items():
                    session.answers[f"{ftype.section}.{name}"] = value
        if isinstance(profile, dict) and isinstance(profile.get("routine"), list):
            entries = sorted((f for f in facts if f.type == "uses"), key=lambda f: f.fields["entry"])
            session.answers[PRODUCTS_KEY] = tuple(f.fields.get("product") for f in entries)

        state = data.get("interview") or yamlio.LineDict()
        if not isinstance(state, dict):
            raise ProfileError(f"{where}:{data.line_of('interview')}", "interview: expected a mapping with 'asked' and 'finished'")
        asked = state.get("asked") or []
        at = f"{where}:{state.line_of('asked')}" if isinstance(state, yamlio.LineDict) else where
        if not isinstance(asked, list) or not all(isinstance(k, str) for k in asked):
            raise ProfileError(at, "interview.asked: expected a list of question keys")
        finished = state.get("finished", False)
        if not isinstance(finished, bool):
            raise ProfileError(f"{where}:{state.line_of('finished')}", "interview.finished: expected true or false")
        history: list[str] = []
        for index, key in enumerate(asked):
            line = f"{at.rsplit(':', 1)[0]}:{int(at.rsplit(':', 1)[1]) + 1 + index}" if at != where else where
            if not _KEY_RE.match(key) or key in history:
                raise ProfileError(line, f"interview.asked: {key!r} is not a question key or is listed twice")
            if key not in session.answers:
                if key.startswith("client."):
                    session.answers[key] = ""
                elif key == PRODUCTS_KEY:
                    session.answers[key] = UNKNOWN
                else:
                    raise ProfileError(line, f"interview.asked: {key} was answered but the profile has no answer for it")
            if key.startswith("routine[") and PRODUCTS_KEY not in history:
                raise ProfileError(line, f"interview.asked: {key} comes before the products were asked")
            history.append(key)
        # answers in the profile that the history does not list (a profile edited by hand, or a
        # plain profile) count as given before the interview started
        given = [k for k in sorted(session.answers, key=_key_order) if k not in history]
        session.history = given + history
        session.finished = finished
        return session


def _key_order(key: str) -> tuple:
    return (not key.startswith("client."), key.startswith("routine"), key != PRODUCTS_KEY, key)


def _indent(text: str) -> str:
    return "".join(("  " + line if line else line) + "\n" for line in text.splitlines())


def dump_profile(profile: dict, header: bool = True) -> str:
    """A profile document as YAML text (the format ``haircare advise`` reads)."""
    text = yaml.safe_dump(profile, sort_keys=False, default_flow_style=None, allow_unicode=True,
                          width=88) if profile else ""
    if header:
        text = "# Client profile written by haircare interview (load it with: haircare advise FILE)\n" + (text or "{}\n")
    return text


# -- the planner ---------------------------------------------------------------------------------
@dataclass
class Plan:
    """What to ask next, what is still open, and which rules wait on each open question."""

    next: Slot | None
    pending: list[Slot]                         #: every question still worth asking, next first
    waiting: dict[str, list[str]]               #: key -> ids of the rules waiting on its answer
    needed_for: dict[str, str] = field(default_factory=dict)  #: key -> key of the question it unlocks
    red_flag: set = field(default_factory=set)  #: keys that feed a referral or a red flag
    per_product: int = 0                        #: questions each product may bring (estimate)


class Planner:
    """Decides from the rules which questions can still change the advice.

    Unasked fields are absent from the facts. A rule that fired waits only on the answers that
    could make one of its ``not`` conditions match (and so undo it), unless a new firing could
    say something different (its text or conclusions use variables). Every other rule is walked: a pattern on an input fact is still possible for a fact whose answered fields
    pass its tests, and its unanswered tested fields are what it waits on; a pattern on a derived
    fact waits on whatever the unsettled rules that could conclude such a fact wait on (the
    derive chain). A rule none of whose alternatives is still possible waits on nothing.
    """

    def __init__(self, rulebook: Rulebook, book: QuestionBook):
        self.rulebook = rulebook
        self.book = book
        self.producers: dict[str, list[tuple[Rule, Any]]] = {}
        for rule in rulebook.rules:
            for decl in rule.declare:
                self.producers.setdefault(decl.type, []).append((rule, decl))
        self.varies = {r.id: _varies(r) for r in rulebook.rules}
        self.flags = {r.id: r.kind == "referral" or "red-flag" in r.concludes() for r in rulebook.rules}
        self.negates = {r.id: bool(r.negated_types()) for r in rulebook.rules}

    def plan(self, session: Session, consultation: Consultation) -> Plan:
        fired = consultation.fired_rules()
        walk = _Walk(self, session, consultation, fired)
        waiting: dict[str, list[str]] = {}
        for rule in self.rulebook.rules:
            # a rule that fired can still be undone by an answer that makes one of its 'not'
            # conditions match; a second firing matters only if it can say something new
            settled = rule.id in fired and not self.varies[rule.id]
            alive, needs = walk.rule(rule, negations_only=settled)
            if alive:
                for key in needs:
                    waiting.setdefault(key, []).append(rule.id)
        answers = session.answers
        # fields some rule wants from routine entries that do not exist yet: only an estimate
        per_product = {k for k in waiting if k.startswith("routine[*].")}
        for key in per_product:
            del waiting[key]
        slots = {s.key: s for s in self.book.slots(answers)}
        needed_for: dict[str, str] = {}
        askable: dict[str, Slot] = {}
        todo = [k for k in waiting if k in slots and k not in answers]
        while todo:
            key = todo.pop(0)
            slot = slots[key]
            state = self.applies(slot, answers)
            if state is False:
                continue
            if state is True:
                askable[key] = slot
                continue
            for ref in state:             # unanswered answers this question depends on
                if ref in slots and ref not in answers and ref not in askable and ref not in needed_for:
                    needed_for[ref] = key
                    waiting.setdefault(ref, [])
                    for rid in waiting[key]:
                        if rid not in waiting[ref]:
                            waiting[ref].append(rid)
                    todo.append(ref)
        red = {k for k in askable if any(self.flags[r] for r in waiting.get(k, ()))}
        for slot in slots.values():       # the client block is always asked, first
            if slot.question.fact_type == "client" and slot.key not in answers:
                askable[slot.key] = slot
        order = {s.key: i for i, s in enumerate(self.book.slots(answers))}
        products_order = next((q.order for q in self.book.questions if q.creates_entries), 0)

        def rank(slot: Slot) -> tuple:
            q = slot.question
            group = 0 if q.fact_type == "client" else (1 if slot.key in red else 2)
            if q.per_entry:
                return (group, products_order + 0.5, slot.entry, q.order)
            return (group, q.order, -1, order[slot.key])

        pending = sorted(askable.values(), key=rank)
        waiting = {k: sorted(v, key=self._rule_rank) for k, v in waiting.items()}
        return Plan(pending[0] if pending else None, pending, waiting, needed_for, red,
                    len(per_product))

    def _rule_rank(self, rule_id: str) -> tuple:
        rule = self.rulebook.by_id[rule_id]
        kinds = ADVICE_KINDS + ("derive",)
        return (not self.flags[rule_id], kinds.index(rule.kind) if rule.kind in kinds else 99,
                -rule.salience, rule.id)

    def applies(self, slot: Slot, answers: dict):
        """True / False, or the keys of the unanswered answers that decide it."""
        missing = []
        for ref_type, test in slot.question.when:
            key = (f"routine[{slot.entry}].{test.field}" if ref_type == "" else
                   _field_key(self.book.vocabulary, ref_type, test.field))
            if test.field == "product" and ref_type == "":
                value = slot.product
            elif key not in answers:
                missing.append(key)
                continue
            else:
                value = answers[key]
            if not test.predicate()(value):
                return False
        return missing or True


def _field_key(vocab: Vocabulary, type_name: str, fname: str) -> str:
    ftype = vocab.types[type_name]
    if ftype.list_field == fname:
        return ftype.section
    if ftype.many and fname == "product":
        return PRODUCTS_KEY
    return f"{ftype.section}.{fname}"


def _varies(rule: Rule) -> bool:
    """Whether a second firing of the rule can say or conclude something new."""
    if any(isinstance(v, Var) for d in rule.declare for _, v in d.fields):
        return True
    return any("{{" in text for text in (rule.advise, *rule.steps))


def _compatible(pattern: Pattern, decl) -> bool:
    """Whether a fact the declaration concludes could match the pattern."""
    fields = dict(decl.fields)
    for test in pattern.tests:
        if test.field not in fields:
            return False
        value = fields[test.field]
        if isinstance(value, Var) or test.op == "bind":
            continue
        if not test.predicate()(value):
            return False
    return True


class _Walk:
    """One planning pass: what each rule still waits on, memoised, derive chains followed."""

    def __init__(self, planner: Planner, session: Session, consultation: Consultation, fired: set):
        self.p = planner
        self.answers = session.answers
        self.fired = fired
        self.derived: dict[str, list] = {}
        self.by_type: dict[str, list] = {}
        for fact in consultation.facts:
            self.by_type.setdefault(fact.type, []).append(fact)
            if not fact.origin.startswith("profile:"):
                self.derived.setdefault(fact.type, []).append(fact)
        self.declared_by: dict[str, list] = {}
        for firing in consultation.trace:
            for fid in firing.declared:
                self.declared_by.setdefault(fid, []).append(firing)
        self.stable: dict[str, bool] = {}
        self.memo: dict[tuple, tuple[bool, frozenset]] = {}
        self.stack: set[str] = set()
        self.vocab = planner.book.vocabulary

    def rule(self, rule: Rule, negations_only: bool = False) -> tuple[bool, frozenset]:
        """Whether the rule can still fire, and the answers it waits on (only those inside its
        'not' conditions when ``negations_only``: the rule fired and only they can undo it)."""
        memo_key = (rule.id, negations_only)
        if memo_key in self.memo:
            return self.memo[memo_key]
        if rule.id in self.stack:       # a cycle of derivations: assume possible, add nothing
            return True, frozenset()
        self.stack.add(rule.id)
        alive, needs = False, set()
        for variant in rule.variants():
            ok, more = self._variant(rule, variant, negations_only)
            if ok:
                alive = True
                needs |= more
        self.stack.discard(rule.id)
        result = (alive, frozenset(needs))
        self.memo[memo_key] = result
        return result

    def _variant(self, rule: Rule, variant, negations_only: bool) -> tuple[bool, set]:
        needs: set[str] = set()
        for cond in variant:
            patterns = cond.body if isinstance(cond, Not) else (cond,)
            negated = isinstance(cond, Not)
            if negated and self._holds_now(cond):
                return False, set()     # what it must not see is already there (a red flag)
            for pattern in patterns:
                ftype = self.vocab.types[pattern.type]
                if ftype.derived:
                    ok, more = self._derived(rule, pattern, negated)
                else:
                    ok, more = self._input(pattern)
                if negated or not negations_only:
                    needs |= more
                if not ok and not negated:
                    return False, set()
        return True, needs

    def _holds_now(self, cond: Not) -> bool:
        """Whether a one-pattern 'not' (no shared variables) already sees a matching fact.

        Answers are only ever added, so such a rule stays blocked; a body that joins patterns
        on variables is left to the engine (never treated as blocked here).
        """
        if len(cond.body) != 1 or any(t.op == "bind" for t in cond.body[0].tests):
            return False
        pattern = cond.body[0]
        return any(match_pattern(pattern, f, {}) is not None and self._stable(f.id)
                   for f in self.by_type.get(pattern.type, ()))

    def _stable(self, fact_id: str) -> bool:
        """Whether no further answer can take this fact away: a client answer, or concluded by
        rules without 'not' conditions from stable facts."""
        if fact_id not in self.stable:
            self.stable[fact_id] = False        # a cycle: not proven stable
            firings = self.declared_by.get(fact_id)
            self.stable[fact_id] = firings is None or any(
                not self.p.negates[firing.rule] and all(self._stable(f) for f in firing.facts)
                for firing in firings)
        return self.stable[fact_id]

    def _derived(self, rule: Rule, pattern: Pattern, negated: bool) -> tuple[bool, set]:
        present = any(match_pattern(pattern, f, {}) is not None for f in self.derived.get(pattern.type, ()))
        if present and not negated and not self.p.varies[rule.id]:
            return True, set()
        ok, needs = present, set()
        for producer, decl in self.p.producers.get(pattern.type, ()):
            if not _compatible(pattern, decl):
                continue
            if producer.id in self.fired and not self.p.varies[producer.id]:
                continue
            alive, more = self.rule(producer)
            if alive:
                ok = True
                needs |= more
        return ok, needs

    def _input(self, pattern: Pattern) -> tuple[bool, set]:
        ftype = self.vocab.types[pattern.type]
        tested = [t.field for t in pattern.tests if not ftype.fields[t.field].generated]
        if ftype.many:
            products = self.answers.get(PRODUCTS_KEY)
            if products is None:            # entries not known yet: the products question decides
                return True, {PRODUCTS_KEY} | {f"routine[*].{f}" for f in tested if f != "product"}
            if not isinstance(products, tuple):
                return False, set()
            ok, needs = False, set()
            for index, product in enumerate(products):
                prefix = f"routine[{index}]."
                fields = {"product": product, "entry": index}
                fields.update({k[len(prefix):]: v for k, v in self.answers.items() if k.startswith(prefix)})
                if _possible(pattern, fields):
                    ok = True
                    needs |= {prefix + f for f in tested if f not in fields}
            return ok, needs
        fields = {}
        for fname in ftype.fields:
            key = _field_key(self.vocab, ftype.name, fname)
            if key in self.answers:
                fields[fname] = self.answers[key]
        if not _possible(pattern, fields):
            return False, set()
        needs = {_field_key(self.vocab, ftype.name, f) for f in tested if f not in fields}
        if not pattern.tests and not fields:   # needs only that the section exists
            first = next((f for f in ftype.fields if not ftype.fields[f].generated), None)
            if first:
                needs.add(_field_key(self.vocab, ftype.name, first))
        return True, needs


def _possible(pattern: Pattern, fields: dict) -> bool:
    """Whether a fact with these (partly answered) fields can still match the pattern."""
    for test in pattern.tests:
        if test.field in fields and test.op != "bind" and not test.predicate()(fields[test.field]):
            return False
    return True


# -- the interview ---------------------------------------------------------------------------------
@dataclass
class Reply:
    """What the interview says back to one line typed by the consultant."""

    kind: str                                   #: answered | why | back | quit | bad | finished
    lines: list[str] = field(default_factory=list)
    changed: bool = False                       #: the answers changed: save the session now
    new_advice: list[str] = field(default_factory=list)


class Interview:
    """A consultation in progress: the answers, the advice they give, and what to ask next."""

    def __init__(self, advisor, session: Session | None = None, questions: QuestionBook | None = None):
        self.advisor = advisor
        self.book = questions or QuestionBook.load(advisor.vocabulary)
        self.planner = Planner(advisor.rulebook, self.book)
        self.session = session or Session()
        self._consultation: Consultation | None = None
        self._plan: Plan | None = None
        self._revise: str | None = None     # the key `back` took away: asked again next

    # -- state -----------------------------------------------------------------------------------
    def consultation(self) -> Consultation:
        """The advice for the answers so far, recomputed from them (never patched)."""
        if self._consultation is None:
            self._consultation = self.advisor.consult(self.session.profile(), "interview answers")
        return self._consultation

    def plan(self) -> Plan:
        if self._plan is None:
            self._plan = self.planner.plan(self.session, self.consultation())
        return self._plan

    def current(self) -> Slot | None:
        """The question to ask now (None when nothing left can change the advice)."""
        if self._revise and self._revise not in self.session.answers:
            for slot in self.book.slots(self.session.answers):
                if slot.key == self._revise:
                    return slot
        return self.plan().next

    @property
    def finished(self) -> bool:
        return self.current() is None

    def preset(self, key: str, value: Any) -> None:
        """Record an answer given on the command line (``--date``) if it is not answered yet."""
        if key not in self.session.answers:
            self.session.answer(key, value)
            self._changed()

    def _changed(self) -> None:
        self._consultation = None
        self._plan = None

    # -- talking -----------------------------------------------------------------------------------
    def progress(self) -> str:
        plan = self.plan()
        number = len(self.session.history) + 1
        # the open questions, the ones they may unlock, and a guess for products not yet named
        left = len(plan.pending) - 1 + plan.per_product + len(set(plan.needed_for.values()))
        if left <= 0:
            return f"Question {number}, probably the last"
        return f"Question {number}, about {left} left"

    def question_lines(self) -> list[str]:
        """The current question as printed: progress, the question, its choices, a hint."""
        slot = self.current()
        if slot is None:
            return []
        q = slot.question
        heading = self.progress()
        if slot.entry is not None:
            count = len(self.session.answers.get(PRODUCTS_KEY) or ())
            heading += f" - product {slot.entry + 1} of {count}: {self.book.product_words(slot.product)}"
        if q.kind not in ("choice", "set"):
            return [heading, f"{slot.text(self.book)}  ({hint(q)})"]
        lines = [heading, slot.text(self.book)]
        width = len(str(len(q.choices)))
        for index, (_, label) in enumerate(q.choices, 1):
            lines.append(f"  {index:>{width}}. {label}")
        lines.append(f"  ({hint(q)})")
        return lines

    def handle(self, text: str) -> Reply:
        """Interpret one line typed at the current question."""
        slot = self.current()
        if slot is None:
            return Reply("finished", ["The interview is complete."])
        command = command_of(text)
        if command == "quit":
            return Reply("quit")
        if command == "why":
            return Reply("why", self.why(slot))
        if command == "back":
            return self.back()
        try:
            value = parse_answer(slot.question, text, slot.key)
        except ProfileError as exc:
            return Reply("bad", [f"Sorry, {exc.what}."])
        before = {(a.rule, a.text) for a in self.consultation().advice}
        self.session.answer(slot.key, value)
        self._revise = None
        self._changed()
        self.session.finished = self.finished
        new = [a.title for a in self.consultation().advice
               if (a.rule, a.text) not in before and a.kind != "note"]
        return Reply("answered", changed=True, new_advice=new)

    def back(self) -> Reply:
        key = self.session.undo()
        if key is None:
            return Reply("bad", ["Nothing to go back to: this is the first question."])
        self._revise = key
        self._changed()
        slot = self.current()
        label = key
        if slot is not None and slot.key == key:
            label = slot.question.label + (f" ({self.book.product_words(slot.product)})" if slot.product else "")
        return Reply("back", [f"Going back to revise: {label}."], changed=True)

    def why(self, slot: Slot | None = None) -> list[str]:
        """Why a question is asked, in words: its help, and the rules waiting on its answer."""
        slot = slot or self.current()
        if slot is None:
            return []
        plan = self.plan()
        lines = []
        if slot.question.help:
            lines.append(slot.question.help)
        if slot.question.fact_type == "client":
            lines.append("The client's details only go on the report; they do not change the advice.")
            return lines
        via = plan.needed_for.get(slot.key)
        if via:
            other = next((s for s in self.book.slots(self.session.answers) if s.key == via), None)
            if other is not None:
                lines.append(f"The answer decides whether to ask: {other.text(self.book)}")
        rules = plan.waiting.get(slot.key, [])
        if not rules:
            lines.append("No rule waits on this answer any more.")
            return lines
        lines.append("The answer can still change the advice. Rules waiting on it:")
        shown = rules[:6]
        for rid in shown:
            lines.append("  - " + describe_rule(self.advisor.rulebook.by_id[rid]))
        if len(rules) > len(shown):
            lines.append(f"  ... and {len(rules) - len(shown)} more")
        return lines

    def summary_lines(self) -> list[str]:
        """The answers given, in question order, for the end of the interview."""
        answers = self.session.answers
        lines = ["Answers:"]
        width = max(len(q.label) for q in self.book.questions if not q.per_entry) + 1
        skipped = []
        for slot in self.book.slots(answers):
            q = slot.question
            if q.per_entry:
                continue
            if slot.key in answers:
                lines.append(f"  {q.label + ':':<{width}} {words(answers[slot.key])}")
                if q.creates_entries and isinstance(answers[slot.key], tuple):
                    for index, product in enumerate(answers[slot.key]):
                        parts = [f"{s.question.label}: {words(answers[s.key])}"
                                 for s in self.book.slots(answers)
                                 if s.entry == index and s.key in answers]
                        lines.append(f"    {self.book.product_words(product)}: "
                                     + ("; ".join(parts) if parts else "no further questions needed"))
            elif q.fact_type != "client":
                skipped.append(q.label)
        if skipped:
            lines.append("  Not asked (no rule needed them for this client): " + ", ".join(skipped))
        return lines


def describe_rule(rule: Rule) -> str:
    """A rule in one line for ``why``: title, kind, and what it would advise or conclude."""
    kind = {"derive": "finding"}.get(rule.kind, rule.kind)
    if rule.advise:
        text = _PLACEHOLDER_RE.sub("...", rule.advise)
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
        what = f'would advise: "{first}"'
    elif rule.declare:
        parts = []
        for decl in rule.declare:
            values = " ".join("..." if isinstance(v, Var) else words(v) for _, v in decl.fields)
            parts.append(f"{words(decl.type)}: {values}")
        what = "would conclude " + "; ".join(parts)
    else:
        what = "would add to the plan"
    return f"{rule.title} ({kind}) - {what}"

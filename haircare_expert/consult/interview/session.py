"""The answers so far, in order: a session file and a profile document, and back."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from haircare_expert import yamlio
from haircare_expert.errors import ProfileError
from haircare_expert.knowledge.questions import (
    _KEY_RE,
    PRODUCTS_KEY,
    SECTION_ORDER,
    SESSION_SCHEMA,
)
from haircare_expert.knowledge.vocabulary import CLIENT_FIELDS, Vocabulary
from haircare_expert.model import UNKNOWN, plain


# -- the session -------------------------------------------------------------------------------
@dataclass
class Session:
    """The answers so far (by profile path) and the order they were given in."""

    answers: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    finished: bool = False
    #: answers given on the command line (``--date``), not asked: questions are not counted for them
    preset: list[str] = field(default_factory=list)

    def answer(self, key: str, value: Any) -> None:
        if key in self.answers:
            self.history.remove(key)
        if key in self.preset:
            self.preset.remove(key)
        self.answers[key] = value
        self.history.append(key)

    def undo(self) -> str | None:
        """Forget the last answer (and, for the products, the routine entries); return its key."""
        if not self.history:
            return None
        key = self.history.pop()
        self.answers.pop(key, None)
        if key in self.preset:
            self.preset.remove(key)
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
            if key.startswith(("client.", "routine[")) or key == PRODUCTS_KEY:
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
            {"finished": self.finished, "asked": list(self.history),
             **({"preset": list(self.preset)} if self.preset else {})},
            sort_keys=False, default_flow_style=False, allow_unicode=True))
        return text

    def to_data(self) -> dict:
        """The session as plain data (JSON-safe): the same content as the session file."""
        return {"schema": SESSION_SCHEMA, "profile": self.profile(),
                "interview": {"finished": self.finished, "asked": list(self.history),
                              "preset": list(self.preset)}}

    @classmethod
    def parse(cls, text: str, where: str, vocabulary: Vocabulary) -> Session:
        """Read a session file's text; a malformed one is a ProfileError with file:line."""
        try:
            data = yamlio.loads(text, where, ProfileError)
        except ValueError as exc:      # PyYAML's own error for an impossible date (2026-13-45)
            raise ProfileError(where, f"not valid YAML: {exc}") from None
        return cls.from_data(data, where, vocabulary)

    @classmethod
    def from_data(cls, data: Any, where: str, vocabulary: Vocabulary) -> Session:
        """A session from :meth:`to_data`'s data (or a parsed session file), checked against the
        vocabulary; a malformed one is a ProfileError naming ``where`` (with the line in a file)."""
        _check_top(data, where)
        session = cls()
        session.answers = _profile_answers(data.get("profile") or yamlio.LineDict(), where, vocabulary)
        state = data.get("interview") or yamlio.LineDict()
        if not isinstance(state, dict):
            raise ProfileError(_at(where, data, "interview"),
                               "interview: expected a mapping with 'asked' and 'finished'")
        history = _asked(state, where, session.answers)
        finished = state.get("finished", False)
        if not isinstance(finished, bool):
            raise ProfileError(_at(where, state, "finished"), "interview.finished: expected true or false")
        # answers in the profile that the history does not list (a profile edited by hand, or a
        # plain profile) count as given before the interview started
        given = [k for k in sorted(session.answers, key=_key_order) if k not in history]
        session.history = given + history
        session.finished = finished
        preset = state.get("preset") or []
        if not isinstance(preset, list) or not all(isinstance(k, str) and k in session.history for k in preset):
            raise ProfileError(_at(where, state, "preset"), "interview.preset: expected a list of answered question keys")
        session.preset = list(dict.fromkeys(preset))
        return session


def _at(where: str, mapping: Any, key: str) -> str:
    """``where:line`` of ``key`` in a mapping read from a file; plain data names no line."""
    return f"{where}:{mapping.line_of(key)}" if isinstance(mapping, yamlio.LineDict) else where


def _check_top(data: Any, where: str) -> None:
    """A session's top: a mapping with this ``schema`` and only the keys a session has."""
    if not isinstance(data, dict) or data.get("schema") != SESSION_SCHEMA:
        if isinstance(data, yamlio.LineDict):
            line = _at(where, data, "schema")
        else:           # plain data names no line; a file whose top is not a mapping: line 1
            line = where if isinstance(data, dict) else f"{where}:1"
        raise ProfileError(line, f"not an interview session (expected 'schema: {SESSION_SCHEMA}')")
    for key in data:
        if key not in ("schema", "profile", "interview"):
            raise ProfileError(_at(where, data, key), f"unknown key {key!r}; allowed: schema, profile, interview")


def _profile_answers(profile: Any, where: str, vocabulary: Vocabulary) -> dict[str, Any]:
    """The session's profile, checked by the vocabulary, as answers keyed by profile path."""
    client, facts = vocabulary.profile_facts(profile, where)
    answers: dict[str, Any] = {f"client.{name}": value for name, value in client.items()}
    for fact in facts:
        ftype = vocabulary.types[fact.type]
        if ftype.list_field:
            answers[ftype.section] = fact.fields[ftype.list_field]
        elif ftype.many:
            prefix = f"{ftype.section}[{fact.fields['entry']}]."
            for name, value in fact.fields.items():
                if name not in ("entry", "product"):
                    answers[prefix + name] = value
        else:
            for name, value in fact.fields.items():
                answers[f"{ftype.section}.{name}"] = value
    if isinstance(profile, dict) and isinstance(profile.get("routine"), list):
        entries = sorted((f for f in facts if f.type == "uses"), key=lambda f: f.fields["entry"])
        answers[PRODUCTS_KEY] = tuple(f.fields.get("product") for f in entries)
    return answers


def _asked(state: dict, where: str, answers: dict[str, Any]) -> list[str]:
    """``interview.asked``: the question keys in the order they were answered, each checked
    against the answers (a client field or the products asked but left empty is filled in)."""
    asked = state.get("asked") or []
    at_asked = _at(where, state, "asked")
    if not isinstance(asked, list) or not all(isinstance(k, str) for k in asked):
        raise ProfileError(at_asked, "interview.asked: expected a list of question keys")
    history: list[str] = []
    for index, key in enumerate(asked):
        line = (f"{at_asked.rsplit(':', 1)[0]}:{int(at_asked.rsplit(':', 1)[1]) + 1 + index}"
                if at_asked != where else where)
        if not _KEY_RE.match(key) or key in history:
            raise ProfileError(line, f"interview.asked: {key!r} is not a question key or is listed twice")
        if key not in answers:
            if key.startswith("client."):
                answers[key] = ""
            elif key == PRODUCTS_KEY:
                answers[key] = UNKNOWN
            else:
                raise ProfileError(line, f"interview.asked: {key} was answered but the profile has no answer for it")
        if key.startswith("routine[") and PRODUCTS_KEY not in history:
            raise ProfileError(line, f"interview.asked: {key} comes before the products were asked")
        history.append(key)
    return history


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

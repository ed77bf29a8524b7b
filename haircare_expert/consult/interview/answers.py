"""What the consultant types: commands, and answers parsed and checked against a question."""
from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from haircare_expert.errors import ProfileError
from haircare_expert.knowledge.questions import (
    _NO,
    _YES,
    COMMANDS,
    NONE_WORDS,
    Question,
)
from haircare_expert.model import UNKNOWN


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
    # words of the label as shown ("oily" for "gets oily quickly"), when only one choice has them
    if len(token) < 3 or token in _FILLER:
        return None
    pattern = re.compile(r"\b" + re.escape(" ".join(token.split())) + r"\b")
    hits = [value for value, label in q.choices if pattern.search(" ".join(label.lower().split()))]
    return hits[0] if len(hits) == 1 else None


#: Words too common in the choices' labels to pick one of them.
_FILLER = frozenset({"and", "the", "for", "with", "than", "more", "much", "usual", "very"})


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

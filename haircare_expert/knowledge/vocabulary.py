"""The fact vocabulary (``facts/vocabulary.yaml``) and client profiles checked against it.

A profile is turned into input facts, each with an origin such as ``profile:routine[1]``.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from haircare_expert import yamlio
from haircare_expert.errors import ProfileError, RuleError
from haircare_expert.model import UNKNOWN, Fact

FIELD_TYPES = ("choice", "set", "int", "bool", "text", "date")
CLIENT_FIELDS = ("name", "consultant", "date")
#: The longest text a profile field may hold.
MAX_TEXT = 200
#: What :meth:`FieldSpec.plain` returns for a value that needs :meth:`FieldSpec.normalise`.
CHECK = object()


@dataclass(frozen=True)
class FieldSpec:
    """One field of a fact type: its type, allowed values or range."""

    name: str
    type: str
    values: tuple = ()
    min: int | None = None
    max: int | None = None
    required: bool = False
    generated: bool = False

    def allowed(self) -> str:
        """The allowed values, in words, for an error message."""
        if self.type in ("choice", "set"):
            return ", ".join(self.values + (UNKNOWN,))
        if self.type == "int":
            return f"a whole number from {self.min} to {self.max}, or {UNKNOWN}"
        if self.type == "bool":
            return f"true, false or {UNKNOWN}"
        if self.type == "date":
            return f"a date (YYYY-MM-DD) or {UNKNOWN}"
        return "text"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (already normalised) is a legal value for this field."""
        if value == UNKNOWN and self.type != "text":
            return True
        if self.type == "choice":
            return value in self.values
        if self.type == "set":
            return isinstance(value, tuple) and all(v in self.values for v in value)
        if self.type == "int":
            return (isinstance(value, int) and not isinstance(value, bool)
                    and self.min <= value <= self.max)
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "date":
            return isinstance(value, str)
        return isinstance(value, str)

    def plain(self, value: Any) -> Any:
        """What :meth:`normalise` returns for ``value`` when it is plainly legal as it stands (a
        listed choice or a list of them, a whole number in range, true or false, short text,
        ``unknown``), without working out where it is; :data:`CHECK` for anything else."""
        kind, vtype = self.type, type(value)
        if vtype is str:
            if kind == "choice" and value in self._listed or kind == "text" and len(value) <= MAX_TEXT:
                return value
            if value == UNKNOWN and kind != "text":
                return UNKNOWN
        elif vtype is list and kind == "set":
            try:
                if self._listed.issuperset(value):
                    return tuple(dict.fromkeys(value))
            except TypeError:       # an item that cannot be in a set (a mapping): normalise says so
                pass
        elif vtype is int:
            if kind == "int" and self.min is not None and self.max is not None and self.min <= value <= self.max:
                return value
        elif vtype is bool and kind == "bool":
            return value
        return CHECK

    @cached_property
    def _listed(self) -> frozenset:
        # the allowed values (text only), less any spelled like "unknown" (normalise reads those
        # as unknown)
        return frozenset(v for v in self.values if isinstance(v, str) and v.strip().lower() != UNKNOWN)

    def normalise(self, value: Any, where: str, path: str) -> Any:
        """Check a raw profile value and return it frozen (sets become tuples)."""
        def bad(what: str):
            return ProfileError(where, f"{path}: {what}; allowed: {self.allowed()}")

        if isinstance(value, str) and value.strip().lower() == UNKNOWN and self.type != "text":
            return UNKNOWN
        if self.type == "choice":
            if not isinstance(value, str) or value not in self.values:
                raise bad(f"{value!r} is not allowed")
            return value
        if self.type == "set":
            if not isinstance(value, list):
                raise bad(f"expected a list, got {_kind(value)} {value!r}")
            seen: list = []
            for item in value:
                if not isinstance(item, str) or item not in self.values:
                    raise bad(f"{item!r} is not allowed")
                if item not in seen:
                    seen.append(item)
            return tuple(seen)
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(f"expected a whole number, got {_kind(value)} {value!r}")
            if not self.min <= value <= self.max:
                raise bad(f"{value} is out of range")
            return value
        if self.type == "bool":
            if not isinstance(value, bool):
                raise bad(f"expected true or false, got {_kind(value)} {value!r}")
            return value
        if self.type == "date":
            if isinstance(value, _dt.datetime):
                return value.date().isoformat()
            if isinstance(value, _dt.date):
                return value.isoformat()
            if isinstance(value, str):
                try:
                    return _dt.date.fromisoformat(value).isoformat()
                except ValueError:
                    pass
            raise bad(f"{value!r} is not a date")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise bad(f"expected text, got {_kind(value)}")
        text = str(value)
        if len(text) > MAX_TEXT:
            raise ProfileError(where, f"{path}: text longer than {MAX_TEXT} characters")
        return text


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    for kind, words in ((bool, "true/false"), (dict, "a mapping"), (list, "a list"), (str, "text"),
                        ((int, float), "a number")):
        if isinstance(value, kind):
            return words
    return type(value).__name__


@dataclass(frozen=True)
class FactType:
    """A fact type of the vocabulary: input (read from a profile section) or derived."""

    name: str
    fields: dict[str, FieldSpec]
    derived: bool
    describe: str = ""
    section: str = ""
    many: bool = False
    list_field: str = ""

    @cached_property
    def required(self) -> tuple[str, ...]:
        """The fields a profile must give."""
        return tuple(name for name, spec in self.fields.items() if spec.required)


class _Role:
    """A role accessor of :class:`Vocabulary`: what the vocabulary file's ``roles`` names under the
    accessor's own name (``kind``: a fact type, a type name, a (type, field) pair or type names)."""

    def __init__(self, kind: str):
        self.kind = kind

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        owner.ROLES = {**getattr(owner, "ROLES", {}), name: self.kind}

    def __get__(self, vocab, owner=None):
        if vocab is None:
            return self
        value = vocab.roles.get(self.name)
        if self.kind == "type":
            return vocab.types.get(value) if value else None
        if self.kind == "type names":
            return tuple(value or ())
        return value


class Vocabulary:
    """The fact types, fields and values the rules and the profiles may use.

    The domain words the program needs (which type is the routine, which field sets the wash
    days...) are *roles* in ``facts/vocabulary.yaml``; code reads them through these accessors
    and never spells the words itself:

    ``routine`` (:class:`FactType`, one fact per product the client uses; its ``section`` is
    the profile's routine list), ``habits`` (:class:`FactType`), ``washes_per_week`` and
    ``recommend`` (``(type, field)`` pairs), ``red_flag`` and ``need`` (fact type names),
    ``reported`` (the derived types a report lists as findings). Each is ``None`` (``()`` for
    ``reported``) when the vocabulary file names no such role.
    """

    def __init__(self, types: dict[str, FactType], version: Any = 1, source: str = "",
                 labels: dict | None = None, roles: dict[str, Any] | None = None):
        self.types = types
        self.version = version
        self.source = source
        self.sections = {t.section: t for t in types.values() if t.section}
        self.roles = dict(roles or {})
        labels = labels or {}
        self._field_labels: dict[str, dict] = {k: dict(v or {}) for k, v in (labels.get("fields") or {}).items()}
        self._type_labels: dict[str, dict[str, dict]] = {
            t: {f: dict(v or {}) for f, v in (fields or {}).items()}
            for t, fields in (labels.get("by_type") or {}).items()}
        self._bool_labels = {bool(k): str(v) for k, v in (labels.get("booleans") or {}).items()}
        self._unknown_label = str(labels.get("unknown") or "not known")
        self._tables: dict[str, list[dict]] = {}
        self._labelled: dict[tuple[str, str], str] = {}

    # -- roles (the domain words; see the class docstring). Each accessor reads the role named
    # like itself, so the words live in the vocabulary file only.
    routine = _Role("type")            #: FactType | None
    habits = _Role("type")             #: FactType | None
    washes_per_week = _Role("field")   #: (type, field) | None
    recommend = _Role("field")         #: (type, field) | None
    red_flag = _Role("type name")      #: str | None
    need = _Role("type name")          #: str | None
    reported = _Role("type names")     #: tuple[str, ...]

    # -- client words -------------------------------------------------------------------------
    def label(self, field_or_type: str, value: Any) -> str:
        """A value in the client's words: ``label("product", "hair_serum")`` -> ``hair serum``.

        ``field_or_type`` is a field name (``product``, ``symptoms``), a fact type whose values
        live in one field (``red-flag``, ``scalp-state``), or ``type.field``. A list of values
        is joined with commas; a value with no label falls back to its words (``_`` -> space).
        """
        if type(value) is str:
            # the same few products and symptoms are labelled for every client: once each
            key = (field_or_type, value)
            text = self._labelled.get(key)
            if text is None:
                text = self._label_text(field_or_type, value)
                if len(self._labelled) < 4096:
                    self._labelled[key] = text
            return text
        return self._label_text(field_or_type, value)

    def _label_text(self, field_or_type: str, value: Any) -> str:
        if isinstance(value, (tuple, list)):
            return ", ".join(self.label(field_or_type, v) for v in value)
        if isinstance(value, bool):
            return self._bool_labels.get(value, "yes" if value else "no")
        if value == UNKNOWN:
            return self._unknown_label
        if not isinstance(value, str):
            return str(value)
        for table in self._label_tables(field_or_type):
            if value in table:
                return str(table[value])
        return value.replace("_", " ")

    def _label_tables(self, key: str) -> list[dict]:
        # the same few keys ("product", "symptoms") come back for every client: look each up
        # once (the labels do not change once loaded; a key is one of the vocabulary's names)
        tables = self._tables.get(key)
        if tables is None:
            tables = self._find_label_tables(key)
            if len(self._tables) < 1024:
                self._tables[key] = tables
        return tables

    def _find_label_tables(self, key: str) -> list[dict]:
        type_name, _, fname = key.partition(".")
        if not fname and type_name in self.types:
            ftype = self.types[type_name]
            fname = next((n for n, f in ftype.fields.items() if f.type in ("choice", "set")), "")
        elif not fname:
            return [self._field_labels.get(key, {})]
        return [self._type_labels.get(type_name, {}).get(fname, {}), self._field_labels.get(fname, {})]

    def unlabelled(self) -> list[str]:
        """``type.field=value`` for every allowed value that has no label (should be none)."""
        missing = []
        for ftype in self.types.values():
            for fname, spec in ftype.fields.items():
                for value in spec.values:
                    if not any(value in t for t in self._label_tables(f"{ftype.name}.{fname}")):
                        missing.append(f"{ftype.name}.{fname}={value}")
        return missing

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path | None = None) -> Vocabulary:
        """Load the vocabulary shipped with the package, or the one at ``path``."""
        if path is None:
            ref = yamlio.package_files("facts") / "vocabulary.yaml"
            where = "facts/vocabulary.yaml"
            data = yamlio.loads(ref.read_text(encoding="utf-8"), where, RuleError)
        else:
            where = str(path)
            data = yamlio.load_file(path, RuleError)
        return cls.from_data(data, where)

    @classmethod
    def from_data(cls, data: Any, where: str) -> Vocabulary:
        if not isinstance(data, dict):
            raise RuleError(where, "the vocabulary must be a mapping")
        types: dict[str, FactType] = {}
        for group, derived in (("input", False), ("derived", True)):
            for name, spec in (data.get(group) or {}).items():
                line = f"{where}:{(data.get(group)).line_of(name)}" if hasattr(data.get(group), "line_of") else where
                if name in types:
                    raise RuleError(line, f"fact type {name!r} is defined twice")
                if not isinstance(spec, dict) or not isinstance(spec.get("fields"), dict):
                    raise RuleError(line, f"fact type {name!r} needs a 'fields' mapping")
                fields = {}
                for fname, fspec in spec["fields"].items():
                    ftype = (fspec or {}).get("type")
                    if ftype not in FIELD_TYPES:
                        raise RuleError(line, f"{name}.{fname}: type must be one of {', '.join(FIELD_TYPES)}")
                    fields[fname] = FieldSpec(
                        name=fname, type=ftype, values=tuple(fspec.get("values") or ()),
                        min=fspec.get("min"), max=fspec.get("max"),
                        required=bool(fspec.get("required", False)),
                        generated=bool(fspec.get("generated", False)))
                types[name] = FactType(
                    name=name, fields=fields, derived=derived, describe=spec.get("describe", ""),
                    section="" if derived else spec.get("section", name),
                    many=bool(spec.get("many", False)), list_field=spec.get("list_field", ""))
        labels = data.get("labels") or {}
        if not isinstance(labels, dict):
            raise RuleError(where, "'labels' must be a mapping")
        return cls(types, data.get("version", 1), where, labels,
                   _roles(data.get("roles"), types, where))

    # -- profiles ---------------------------------------------------------------------------
    def load_profile(self, path: str | Path) -> tuple[dict, list[Fact]]:
        """Read a profile file and return ``(client, input facts)``; raise ProfileError."""
        data = yamlio.load_file(path, ProfileError)
        return self.profile_facts(data, str(path))

    def profile_facts(self, data: Any, where: str = "profile") -> tuple[dict, list[Fact]]:
        """Validate a profile document and turn it into ``(client, input facts)``."""
        if data is None:
            raise ProfileError(where, "the profile is empty")
        if not isinstance(data, dict):
            raise ProfileError(where, f"a profile must be a mapping of sections, got {_kind(data)}")
        client: dict = {}
        facts: list[Fact] = []
        for key, value in data.items():
            at = _at(where, data, key)
            if key == "client":
                client = self._client(value, at, where)
            elif key in self.sections:
                facts.extend(self._section(self.sections[key], value, at, where))
            else:
                allowed = ("client",) + tuple(self.sections)
                raise ProfileError(at, f"unknown section {key!r}; allowed: {', '.join(allowed)}")
        return client, facts

    def _client(self, value: Any, at: str, where: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ProfileError(at, f"client: expected a mapping, got {_kind(value)}")
        client = {}
        for key, raw in value.items():
            spec = _CLIENT_SPECS.get(key)
            if spec is None:
                raise ProfileError(_at(where, value, key),
                                   f"client.{key}: unknown field; allowed: {', '.join(CLIENT_FIELDS)}")
            if raw is None:
                continue
            plain = spec.plain(raw)
            client[key] = plain if plain is not CHECK else spec.normalise(raw, _at(where, value, key), f"client.{key}")
        return client

    def _section(self, ftype: FactType, value: Any, at: str, where: str) -> Iterable[Fact]:
        section = ftype.section
        if value is None:
            return []
        if ftype.list_field:
            spec = ftype.fields[ftype.list_field]
            return [Fact(ftype.name, {ftype.list_field: spec.normalise(value, at, section)},
                         f"profile:{section}")]
        if ftype.many:
            if not isinstance(value, list):
                raise ProfileError(at, f"{section}: expected a list of entries, got {_kind(value)}")
            cap = ftype.fields["entry"].max + 1 if "entry" in ftype.fields else None
            if cap is not None and len(value) > cap:
                raise ProfileError(at, f"{section}: {len(value)} entries; at most {cap} are accepted")
            facts = []
            for index, entry in enumerate(value):
                entry_at = f"{where}:{entry.line}" if hasattr(entry, "line") else at
                fields = self._fields(ftype, entry, entry_at, where, f"{section}[{index}]")
                if fields.get("per_week") == 0:
                    # "0 times a week": she owns it but does not use it, so it is not part of
                    # her routine (never "keep using it", never corrected); the entry still
                    # counts for the numbering of the others
                    continue
                fields["entry"] = index
                facts.append(Fact(ftype.name, fields, f"profile:{section}[{index}]"))
            return facts
        return [Fact(ftype.name, self._fields(ftype, value, at, where, section), f"profile:{section}")]

    def _fields(self, ftype: FactType, value: Any, at: str, where: str, path: str) -> dict:
        if not isinstance(value, dict):
            raise ProfileError(at, f"{path}: expected a mapping, got {_kind(value)}")
        fields: dict = {}
        specs = ftype.fields
        for key, raw in value.items():
            spec = specs.get(key)
            if spec is None or spec.generated:
                names = [n for n, s in specs.items() if not s.generated]
                raise ProfileError(_at(where, value, key), f"{path}.{key}: unknown field; allowed: {', '.join(names)}")
            if raw is None:
                continue
            # where the value is written is worked out only when it needs checking
            plain = spec.plain(raw)
            fields[key] = plain if plain is not CHECK else spec.normalise(raw, _at(where, value, key), f"{path}.{key}")
        for name in ftype.required:
            if name not in fields:
                raise ProfileError(at, f"{path}: {name} is required")
        return fields


#: The client block's fields, checked as text (the date as a date).
_CLIENT_SPECS = {key: FieldSpec(key, "date" if key == "date" else "text") for key in CLIENT_FIELDS}


def _roles(node: Any, types: dict[str, FactType], where: str) -> dict[str, Any]:
    """The ``roles`` block, checked: every name must be a fact type (or field) defined above."""
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise RuleError(where, "'roles' must be a mapping of role: fact type")
    roles: dict[str, Any] = {}
    for role, value in node.items():
        at = _at(where, node, role)
        kind = Vocabulary.ROLES.get(role)
        if kind is None:
            raise RuleError(at, f"roles: unknown role {role!r}; roles: {', '.join(Vocabulary.ROLES)}")
        names = value if kind == "type names" and isinstance(value, list) else [value]
        for name in names:
            type_name, _, fname = str(name).partition(".")
            if (type_name not in types or (kind == "field") != bool(fname)
                    or (fname and fname not in types[type_name].fields)):
                what = "a <fact type>.<field>" if kind == "field" else "a fact type"
                raise RuleError(at, f"roles.{role}: {name!r} is not {what} of this vocabulary")
        if kind == "field":
            roles[role] = tuple(str(value).split(".", 1))
        elif kind == "type names":
            roles[role] = tuple(names)
        else:
            roles[role] = value
    return roles


def _at(where: str, mapping: Any, key: Any) -> str:
    line = mapping.line_of(key) if hasattr(mapping, "line_of") else 0
    return f"{where}:{line}" if line else where

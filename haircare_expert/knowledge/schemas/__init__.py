"""The published JSON Schemas (package data in this folder), and the one that is generated.

* ``advice-record.schema.json``: the audit record ``haircare-advice/1`` that
  ``haircare advise --format json`` writes and ``haircare replay`` reads;
* ``profile.schema.json``: a client profile. It is generated from the vocabulary by
  :func:`profile_schema` (:func:`write_profile_schema` rewrites the file; a test checks that
  the shipped file is what the vocabulary gives);
* ``rule-file.schema.json``: a rule file of ``rules/``. An editor with a YAML language server
  checks a rule file against it when the file's first line is
  ``# yaml-language-server: $schema=<path or URL of rule-file.schema.json>``.

The loaders stay the authority (they check what a schema cannot: sources, sections, variables,
values against the vocabulary); the schemas describe the shapes for other tools and editors.
"""
from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from haircare_expert.knowledge.vocabulary import CLIENT_FIELDS, FactType, FieldSpec, Vocabulary
from haircare_expert.model import UNKNOWN

ADVICE_RECORD = "advice-record"
PROFILE = "profile"
RULE_FILE = "rule-file"
NAMES = (ADVICE_RECORD, PROFILE, RULE_FILE)
DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://haircare-expert.invalid/schemas/"


def filename(name: str) -> str:
    return f"{name}.schema.json"


@functools.cache
def _text(name: str) -> str:
    return resources.files(__name__).joinpath(filename(name)).read_text(encoding="utf-8")


def load(name: str) -> dict:
    """The shipped schema ``name`` (one of :data:`NAMES`), parsed (a fresh copy each call)."""
    return json.loads(_text(name))


#: What a reader (``haircare replay``) needs of an advice record: the written record always has
#: every part, but a record may leave out the parts replay can do without. What it does hold must
#: still fit the schema. (JSON-pointer-ish path of the object -> its required keys.)
READ_REQUIRED = {
    "": ["schema", "client", "knowledge_base", "advice", "facts", "trace"],
    "properties/knowledge_base": ["rule_hashes"],
    "$defs/advice": ["rule", "text"],
    "$defs/firing": ["rule", "facts", "declared"],
}


@functools.cache
def _validator(name: str, reading: bool):
    import jsonschema
    schema = load(name)
    if reading and name == ADVICE_RECORD:
        for path, required in READ_REQUIRED.items():
            node = schema
            for part in filter(None, path.split("/")):
                node = node[part]
            node["required"] = required
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def problems(data: Any, name: str, reading: bool = False) -> list[str]:
    """Every way ``data`` breaks schema ``name``, one line each (``at <path>: <what>``), in order.

    ``reading``: check an advice record as replay reads it (see :data:`READ_REQUIRED`).
    """
    from jsonschema.exceptions import best_match
    errors = [best_match([e]) for e in _validator(name, reading).iter_errors(data)]   # the most telling
    errors.sort(key=lambda e: [str(p) for p in e.absolute_path])                     # branch of an anyOf
    return [f"at {_path(e.absolute_path)}: {e.message}" for e in errors]


def _path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the top level"


# -- the profile schema, generated from the vocabulary ---------------------------------------------
def profile_schema(vocabulary: Vocabulary) -> dict:
    """The JSON Schema of a client profile under ``vocabulary`` (what ``profile_facts`` accepts).

    ``unknown`` is accepted for every field but text; ``null`` for any field or section means
    "not answered" (the field is left out).
    """
    sections: dict[str, Any] = {"client": _client_schema()}
    for ftype in vocabulary.types.values():
        if not ftype.derived:
            sections[ftype.section] = _section_schema(ftype)
    return {
        "$schema": DRAFT,
        "$id": BASE_ID + filename(PROFILE),
        "title": "A client profile",
        "description": ("Generated from facts/vocabulary.yaml (version "
                        f"{vocabulary.version}) by haircare_expert.knowledge.schemas.profile_schema; "
                        "do not edit by hand."),
        "type": "object",
        "additionalProperties": False,
        "properties": sections,
    }


def _client_schema() -> dict:
    props = {}
    for name in CLIENT_FIELDS:
        props[name] = _nullable(_field_schema(FieldSpec(name, "date" if name == "date" else "text")))
    return {"type": ["object", "null"], "additionalProperties": False, "properties": props}


def _section_schema(ftype: FactType) -> dict:
    description = ftype.describe
    if ftype.list_field:
        schema = _field_schema(ftype.fields[ftype.list_field])
        return _nullable({**schema, "description": description} if description else schema)
    entry = {"type": "object", "additionalProperties": False,
             "properties": {name: _nullable(_field_schema(spec)) for name, spec in ftype.fields.items()
                            if not spec.generated}}
    required = [name for name, spec in ftype.fields.items() if spec.required]
    if required:
        entry["required"] = required
    if not ftype.many:
        return _nullable({**entry, "description": description} if description else entry)
    many: dict[str, Any] = {"type": "array", "items": entry}
    if "entry" in ftype.fields and ftype.fields["entry"].max is not None:
        many["maxItems"] = ftype.fields["entry"].max + 1
    if description:
        many["description"] = description
    return _nullable(many)


def _field_schema(spec: FieldSpec) -> dict:
    unknown = {"const": UNKNOWN}
    if spec.type == "choice":
        return {"enum": list(spec.values) + [UNKNOWN]}
    if spec.type == "set":
        return {"anyOf": [{"type": "array", "items": {"enum": list(spec.values)}}, unknown]}
    if spec.type == "int":
        number: dict[str, Any] = {"type": "integer"}
        if spec.min is not None:
            number["minimum"] = spec.min
        if spec.max is not None:
            number["maximum"] = spec.max
        return {"anyOf": [number, unknown]}
    if spec.type == "bool":
        return {"anyOf": [{"type": "boolean"}, unknown]}
    if spec.type == "date":
        return {"anyOf": [{"type": "string", "format": "date"}, unknown]}
    return {"type": ["string", "number"], "maxLength": 200}


def _nullable(schema: dict) -> dict:
    """``schema`` that also accepts null (not answered), written as flat as it goes."""
    if "enum" in schema:
        return {**schema, "enum": schema["enum"] + [None]}
    if "anyOf" in schema:
        return {**schema, "anyOf": schema["anyOf"] + [{"type": "null"}]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": kinds + ["null"]}


def render_profile_schema(vocabulary: Vocabulary) -> str:
    """The profile schema as the shipped file holds it."""
    return json.dumps(profile_schema(vocabulary), indent=2, ensure_ascii=False) + "\n"


def write_profile_schema(vocabulary: Vocabulary | None = None):
    """Rewrite the shipped ``profile.schema.json`` from the vocabulary; return its path.

    Run after changing ``facts/vocabulary.yaml``::

        python -c "from haircare_expert.knowledge.schemas import write_profile_schema as w; w()"
    """
    from pathlib import Path
    target = Path(__file__).with_name(filename(PROFILE))
    target.write_text(render_profile_schema(vocabulary or Vocabulary.load()), encoding="utf-8")
    _text.cache_clear()
    _validator.cache_clear()
    return target

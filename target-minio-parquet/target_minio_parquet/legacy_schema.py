"""Older JSON-Schema forms (draft 3 and 4) rewritten into their current equivalents.

Taps from the pipelinewise and singer-io families still describe a `numeric(12, 2)` as
`{"type": "number", "maximum": 1e10, "exclusiveMaximum": true, "multipleOf": 0.01}`. The
SDK checks every SCHEMA against the 2020-12 meta-schema, where `exclusiveMaximum` must be
a number, so such a tap stopped the target at its first SCHEMA. Each rewrite below keeps
the meaning exactly; nothing is guessed, and a form that is already current is left as it
is. The function is pure: it returns a new schema and a note for every change.

| legacy form                                   | current form                              |
|-----------------------------------------------|-------------------------------------------|
| `maximum: M, exclusiveMaximum: true`          | `exclusiveMaximum: M`                     |
| `minimum: M, exclusiveMinimum: true`          | `exclusiveMinimum: M`                     |
| `exclusiveMaximum/-Minimum: false`            | (dropped: the bound is inclusive)         |
| `divisibleBy: D` (draft 3)                    | `multipleOf: D`                           |
| `required: true/false` on a property (draft 3)| the name in the parent's `required` list  |
| `type: "any"` (draft 3)                       | (no `type`: anything)                     |
| `items: [A, B]`, `additionalItems: C` (tuple) | `prefixItems: [A, B]`, `items: C`         |
"""

from __future__ import annotations

from typing import Any

# Keywords whose value is one subschema, a list of them, or a name -> subschema map.
_ONE = ("additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_NAMED = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")


def normalize_legacy_schema(schema: Any, path: str = "") -> tuple[Any, list[str]]:
    """`schema` with every legacy form rewritten, and one note per rewrite (with where)."""
    if not isinstance(schema, dict):
        return schema, []
    notes: list[str] = []
    result = dict(schema)
    where = path or "schema"

    for bound, exclusive in (("maximum", "exclusiveMaximum"), ("minimum", "exclusiveMinimum")):
        flag = result.get(exclusive)
        if isinstance(flag, bool):
            if flag and bound in result:
                result[exclusive] = result.pop(bound)
                notes.append(f"{where}: {exclusive}: true with {bound} -> {exclusive}: <{bound}>")
            else:
                del result[exclusive]
                notes.append(f"{where}: {exclusive}: {str(flag).lower()} dropped")
    if "divisibleBy" in result:
        divisor = result.pop("divisibleBy")
        result.setdefault("multipleOf", divisor)
        notes.append(f"{where}: divisibleBy -> multipleOf")
    declared = result.get("type")
    if declared == "any" or (isinstance(declared, list) and "any" in declared):
        del result["type"]
        notes.append(f"{where}: type any -> no type")
    if isinstance(result.get("items"), list):
        result["prefixItems"] = result.pop("items")
        if "additionalItems" in result:
            result["items"] = result.pop("additionalItems")
        notes.append(f"{where}: tuple items -> prefixItems")

    for keyword in _ONE:
        if isinstance(result.get(keyword), dict):
            result[keyword], found = normalize_legacy_schema(result[keyword], f"{where}.{keyword}")
            notes += found
    if isinstance(result.get("items"), dict):
        result["items"], found = normalize_legacy_schema(result["items"], f"{where}.items")
        notes += found
    for keyword in _MANY:
        if isinstance(result.get(keyword), list):
            converted = [
                normalize_legacy_schema(sub, f"{where}.{keyword}[{i}]")
                for i, sub in enumerate(result[keyword])
            ]
            result[keyword] = [sub for sub, _ in converted]
            notes += [note for _, found in converted for note in found]
    for keyword in _NAMED:
        if isinstance(result.get(keyword), dict):
            result[keyword], found = _named(result[keyword], f"{where}.{keyword}")
            notes += found

    properties = result.get("properties")
    if isinstance(properties, dict):
        required = [name for name, sub in properties.items() if _flag(sub, "required")]
        if any(
            isinstance(sub, dict) and isinstance(sub.get("required"), bool)
            for sub in properties.values()
        ):
            result["properties"] = {
                name: {k: v for k, v in sub.items() if k != "required" or not isinstance(v, bool)}
                if isinstance(sub, dict)
                else sub
                for name, sub in properties.items()
            }
            existing = result.get("required") if isinstance(result.get("required"), list) else []
            result["required"] = [*existing, *(n for n in required if n not in existing)]
            notes.append(f"{where}: boolean required on properties -> required list")
    return result, notes


def _named(subschemas: dict[str, Any], path: str) -> tuple[dict[str, Any], list[str]]:
    notes: list[str] = []
    converted = {}
    for name, sub in subschemas.items():
        converted[name], found = normalize_legacy_schema(sub, f"{path}.{name}")
        notes += found
    return converted, notes


def _flag(schema: Any, keyword: str) -> bool:
    return isinstance(schema, dict) and schema.get(keyword) is True

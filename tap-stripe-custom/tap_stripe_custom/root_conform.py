"""The SDK's root-level type conformance, planned once per stream instead of per value.

Streams declare `TypeConformanceLevel.ROOT_ONLY`: top-level properties the schema does
not know are dropped (with one warning per distinct set), exclusively boolean properties
become `value != 0`, NaN and infinite floats become null, and nested objects and lists
pass as they are. The SDK decides each of those per value from the property's schema
(a dozen isinstance checks and schema lookups for every field of every record: a quarter
of the tap's CPU at ~360,000 records). `RootConformer` reads the schema once, and the
streams run it in `_record` with the SDK's own pass switched off (level NONE).

Values JSON cannot carry (datetimes, bytes, ...) never come out of Stripe's decoded
JSON; should one appear it goes through the SDK's own conversion, so the result is the
SDK's in every case (tests/tap_stripe_custom/test_root_conform.py compares them).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from singer_sdk.helpers import _typing as sdk_typing

# values the SDK passes through unchanged at the root of a property that is not boolean
# only: strings, integers (bool is one), null, and every list or object (a uniform list
# or an object schema keeps it whole, any other schema returns it as it is)
UNCHANGED = (str, int, type(None), list, dict)


def sdk_conform_value(value: Any, property_schema: dict) -> Any:
    """The SDK's conversion of one top-level value (its only private name used here)."""
    return sdk_typing._conform_primitive_property(value, property_schema)


def _exclusive_boolean(property_schema: Mapping[str, Any]) -> bool:
    kind = property_schema.get("type")
    return (
        kind == "boolean"
        or kind == ["boolean"]
        or (isinstance(kind, list) and set(kind) == {"boolean", "null"})
    )


class RootConformer:
    """Conform one stream's records at the root, as the SDK's ROOT_ONLY level does."""

    def __init__(self, stream_name: str, schema: Mapping[str, Any], logger: logging.Logger):
        self.stream_name = stream_name
        self.logger = logger
        self.properties: dict[str, dict] = dict(schema.get("properties", {}))
        self.keep_unknown = bool(schema.get("additionalProperties"))
        self.booleans = {n for n, s in self.properties.items() if _exclusive_boolean(s)}
        self._warned: set[tuple[str, ...]] = set()

    def __call__(self, record: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        unknown: list[str] = []
        properties, booleans = self.properties, self.booleans
        for name, value in record.items():
            if name not in properties:
                if self.keep_unknown:
                    out[name] = value
                else:
                    unknown.append(name)
            elif name in booleans:
                out[name] = self._boolean(name, value)
            elif isinstance(value, UNCHANGED):
                out[name] = value
            elif isinstance(value, float):
                out[name] = None if math.isnan(value) or math.isinf(value) else value
            else:
                out[name] = sdk_conform_value(value, properties[name])
        if unknown:
            self._warn(tuple(unknown))
        return out

    def _boolean(self, name: str, value: Any) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int | str | list | dict):
            return value != 0  # the SDK's rule (a float keeps its value: below)
        return sdk_conform_value(value, self.properties[name])

    def _warn(self, names: tuple[str, ...]) -> None:
        """Once per distinct set of names, in the SDK's words."""
        if names not in self._warned:
            self._warned.add(names)
            self.logger.warning(
                "Properties %s were present in the '%s' stream but "
                "not found in catalog schema. Ignoring.",
                names,
                self.stream_name,
            )

"""How buffered RECORD lines are parsed by Arrow's JSON reader, with no Python per record.

The lake schema (arrow_schema.py) is what a file holds; the *wire* schema is what the
JSON text holds: decimals, timestamps, dates and times travel as strings and are cast
afterwards by conform_table (Arrow's casts reject a value that would lose digits, so a
decimal is never rounded). Arrow's reader is strict where it matters: a number in a
string column, a fraction in an integer column, a key given twice or a malformed line is
an error, never a coercion. Any such error makes `parse_record_lines` return None and the
sink decodes the same lines with msgspec instead, which handles the odd value or names
the bad one.

Columns stored as JSON text (objects without declared properties) are left out of the
wire schema, since Arrow cannot hand back a value's JSON text: `JsonTextReader` reads
just those fields of the same lines with msgspec, and the two are put side by side.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.json as pj

from target_minio_parquet.arrow_schema import (
    COMMIT_COLUMNS,
    EXTRA,
    EXTRACTED_AT,
    JSON_TEXT_KEY,
    TABLE_VERSION,
)
from target_minio_parquet.columns import json_text, json_type_problem, json_types

# Columns taken from the message envelope rather than from the record.
MESSAGE_COLUMNS = {EXTRACTED_AT: "time_extracted", TABLE_VERSION: "version"}
# Columns never read from a record's own field of that name.
NOT_ON_THE_WIRE = frozenset({*MESSAGE_COLUMNS, *COMMIT_COLUMNS, EXTRA})
BLOCK_BYTES = 1 << 20


def _native(data_type: pa.DataType) -> bool:
    """Types Arrow's JSON reader produces exactly as the lake stores them."""
    if pa.types.is_struct(data_type):
        return all(_native(field.type) and not field.metadata for field in data_type)
    if pa.types.is_list(data_type):
        return _native(data_type.value_type)
    return data_type in (pa.int64(), pa.float64(), pa.bool_(), pa.string())


def is_json_text(field: pa.Field) -> bool:
    return bool(field.metadata and field.metadata.get(JSON_TEXT_KEY))


def json_text_fields(payload: pa.Schema) -> list[str]:
    """The record fields the lake stores as JSON text."""
    return [f.name for f in payload if is_json_text(f) and f.name not in NOT_ON_THE_WIRE]


def json_text_types(payload: pa.Schema) -> dict[str, frozenset[str] | None]:
    """The JSON types each JSON-text field's SCHEMA allows (None: any)."""
    return {name: json_types(payload.field(name)) for name in json_text_fields(payload)}


class JsonTextReader:
    """Reads only the JSON-text fields of RECORD lines: msgspec decodes each line into a
    struct holding just those fields (the record's other declared fields are skipped as
    raw bytes in C), with JSON numbers as Decimals, and each value is re-encoded compactly
    as the lake's JSON text. A record key the SCHEMA does not declare makes the decode
    fail, so the buffer takes the msgspec path, which keeps it in `_sdc_extra`."""

    def __init__(
        self,
        names: list[str],
        declared: frozenset[str] = frozenset(),
        allowed: dict[str, frozenset[str] | None] | None = None,
    ) -> None:
        self.names = names
        # the JSON types each field's SCHEMA allows: another type sends the buffer to
        # msgspec, which names the record
        self._allowed = [(allowed or {}).get(name) for name in names]
        self._attributes = [f"field_{i}" for i in range(len(names))]
        others = sorted(declared - set(names))
        skipped = [f"skip_{i}" for i in range(len(others))]
        fields = [(attribute, Any, None) for attribute in self._attributes]
        fields += [(attribute, msgspec.Raw, msgspec.Raw(b"null")) for attribute in skipped]
        record = msgspec.defstruct(
            "JsonTextFields",
            fields,
            rename=dict(zip([*self._attributes, *skipped], [*names, *others], strict=True)),
            forbid_unknown_fields=bool(declared),
        )
        message = msgspec.defstruct("JsonTextMessage", [("record", record)])
        self._decoder = msgspec.json.Decoder(list[message], float_hook=Decimal)

    def columns(self, runs: list[bytes]) -> dict[str, pa.Array] | None:
        """The JSON-text columns of `runs`; None when a line does not decode or has an
        undeclared field (the caller's msgspec path then names it or keeps it)."""
        text = b"".join(runs).rstrip(b"\n").replace(b"\n", b",")
        try:
            messages = self._decoder.decode(b"[" + text + b"]")
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        columns = {}
        for name, attribute, allowed in zip(
            self.names, self._attributes, self._allowed, strict=True
        ):
            values = [getattr(m.record, attribute) for m in messages]
            if json_type_problem(values, allowed) is not None:
                return None
            columns[name] = pa.array([json_text(v) for v in values], type=pa.string())
        return columns


def wire_type(field: pa.Field) -> pa.DataType | None:
    """The type a lake field has in the JSON text; None when Arrow cannot parse it."""
    data_type = field.type
    if field.metadata and field.metadata.get(JSON_TEXT_KEY):
        return None
    if (
        pa.types.is_decimal(data_type)
        or pa.types.is_timestamp(data_type)
        or pa.types.is_date32(data_type)
        or pa.types.is_time64(data_type)
    ):
        return pa.string()
    return data_type if _native(data_type) else None


def wire_schema(payload: pa.Schema) -> pa.Schema | None:
    """The schema of a whole RECORD message line; None when a column rules Arrow out."""
    record_fields = []
    for field in payload:
        if field.name in NOT_ON_THE_WIRE:
            continue
        if is_json_text(field):
            continue  # read by JsonTextReader
        data_type = wire_type(field)
        if data_type is None:
            return None
        record_fields.append(pa.field(field.name, data_type))
    if not record_fields:
        return None
    return pa.schema(
        [
            pa.field("record", pa.struct(record_fields)),
            pa.field("time_extracted", pa.string()),
            pa.field("version", pa.int64()),
        ]
    )


def parse_record_lines(
    runs: list[bytes], schema: pa.Schema, declared: frozenset[str] | None = None
) -> pa.Table | None:
    """The records of `runs` (complete RECORD lines) as wire-typed columns plus the
    envelope's columns (named as in the lake); None when Arrow cannot parse every line
    exactly. With `declared` (the record keys the lake has columns for), Arrow also
    reads keys outside the wire schema, and a record key outside `declared` returns None:
    the msgspec path then keeps it in `_sdc_extra`. Without it (streams whose JSON-text
    columns `JsonTextReader` checks instead) such keys are skipped."""
    text = b"".join(runs)
    unexpected = "ignore" if declared is None else "infer"
    parsed = _read(text, schema, BLOCK_BYTES, unexpected)
    if parsed is None and len(text) > BLOCK_BYTES:
        parsed = _read(text, schema, len(text) + 1, unexpected)  # a line longer than a block
    if parsed is None or parsed.num_rows != text.count(b"\n"):
        return None
    try:  # inferred (undeclared) fields whose shape varies can defeat Arrow here too
        record = parsed.column("record").combine_chunks()
    except pa.ArrowException:
        return None
    if record.null_count or not pa.types.is_struct(record.type):
        return None  # a record that is null, not an object: msgspec reports it
    if declared is not None and not declared.issuperset(record.type.names):
        return None
    wired = set(schema.field("record").type.names)  # inferred extras are left out
    columns = {
        name: column
        for name, column in zip(record.type.names, record.flatten(), strict=True)
        if name in wired
    }
    for lake_name, message_key in MESSAGE_COLUMNS.items():
        columns[lake_name] = parsed.column(message_key)
    return pa.table(columns)


def _read(text: bytes, schema: pa.Schema, block_bytes: int, unexpected: str) -> pa.Table | None:
    """Blocks of `block_bytes` are parsed on all cores; a line must fit in one."""
    try:
        return pj.read_json(
            pa.BufferReader(text),
            read_options=pj.ReadOptions(block_size=block_bytes),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior=unexpected
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None

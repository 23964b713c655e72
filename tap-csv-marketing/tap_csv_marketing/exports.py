"""The two export layouts: their columns, types, keys, and how a row becomes a record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tap_csv_marketing.fields import (
    BadCell,
    Currency,
    parse_count,
    parse_date,
    parse_money,
    parse_object,
    parse_text,
)
from tap_csv_marketing.headers import Header

DECIMAL_SCHEMA = {  # the suite's convention: an exact decimal string, never a float
    "type": ["string", "null"],
    "format": "x-singer.decimal",
    "precision": 18,
    "scale": 2,
    "x-sql-datatype-properties": {"precision": 18, "scale": 2},
}
DATE_SCHEMA = {"type": ["string"], "format": "date"}
LINEAGE_SCHEMA = {
    "_sdc_source_file": {"type": ["string"]},
    "_sdc_source_lineno": {"type": ["integer"]},
}
SUMMARY_WORDS = ("total", "grand total", "sum", "subtotal")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # date | text | decimal | count | object


@dataclass(frozen=True)
class ExportLayout:
    stream: str
    default_pattern: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...]
    records_path: str = ""  # JSON documents: a pointer to the records array ("" = top level)

    def schema(self) -> dict[str, Any]:
        kinds = {
            "date": DATE_SCHEMA,
            "text": {"type": ["string"]},
            "decimal": DECIMAL_SCHEMA,
            "count": {"type": ["integer"], "minimum": 0},
            "object": {"type": ["object"]},  # kept as JSON (the lake: a JSON text column)
        }
        properties = {c.name: kinds[c.kind] for c in self.columns}
        # additionalProperties: a JSON record's undeclared keys pass the SDK (which drops
        # them otherwise) and the target keeps them in _sdc_extra; CSV rows have none.
        return {
            "type": "object",
            "properties": {**properties, **LINEAGE_SCHEMA},
            "additionalProperties": True,
        }


LAYOUTS = {
    "marketing_spend": ExportLayout(
        "marketing_spend",
        "marketing_spend*.csv",
        (
            Column("date", "date"),
            Column("channel", "text"),
            Column("campaign_name", "text"),
            Column("spend", "decimal"),
            Column("impressions", "count"),
            Column("clicks", "count"),
        ),
        ("date", "channel", "campaign_name"),
    ),
    "campaign_performance": ExportLayout(
        "campaign_performance",
        "campaign_performance*.csv",
        (
            Column("date", "date"),
            Column("campaign_id", "text"),
            Column("campaign_name", "text"),
            Column("channel", "text"),
            Column("conversions", "count"),
            Column("revenue_attributed", "decimal"),
        ),
        ("date", "campaign_id"),
    ),
    # The ad platform's daily campaign events, exported as NDJSON (`attributes`: the
    # platform's free-form targeting and placement details, kept as JSON).
    "ad_events": ExportLayout(
        "ad_events",
        "ad_events*.*json*",
        (
            Column("event_id", "text"),
            Column("date", "date"),
            Column("platform", "text"),
            Column("campaign_id", "text"),
            Column("impressions", "count"),
            Column("clicks", "count"),
            Column("cost", "decimal"),
            Column("attributes", "object"),
        ),
        ("event_id",),
    ),
    # The daily budget plan per channel: one JSON document, the days under "/days".
    "budget_plan": ExportLayout(
        "budget_plan",
        "budget_plan*.json*",
        (
            Column("date", "date"),
            Column("channel", "text"),
            Column("planned_budget", "decimal"),
        ),
        ("date", "channel"),
        records_path="/days",
    ),
}


def cell_parser(
    kind: str, day_first: bool, decimal_comma: bool, currency: Currency
) -> Callable[[str], Any]:
    """The grammar function for one column kind, bound to the file's settings."""
    if kind == "date":
        return lambda text: parse_date(text, day_first).isoformat()
    if kind == "decimal":
        scale = DECIMAL_SCHEMA["scale"]
        return lambda text: str(parse_money(text, currency, scale, decimal_comma))
    if kind == "count":
        return parse_count
    if kind == "object":
        return parse_object
    return parse_text


def type_row(
    layout: ExportLayout,
    header: Header,
    cells: list[str],
    parsers: dict[str, Callable[[str], Any]],
) -> dict[str, Any]:
    """The typed record for one data row; raises BadCell with the reason otherwise.

    Columns the layout does not know are ignored when the header names them (`notes`);
    a value under a column the header leaves unnamed (a trailing `,` in the header) has
    no meaning anyone declared, so its row is quarantined rather than the value dropped.
    """
    if any("\x00" in cell for cell in cells):
        raise BadCell("nul_byte", "the row contains a NUL byte")
    if cells and cells[0].strip().lower() in SUMMARY_WORDS:
        raise BadCell("summary_line", "a totals line, not a data row")
    if len(cells) != header.width:
        raise BadCell("wrong_column_count", f"expected {header.width} columns, got {len(cells)}")
    for index in header.unnamed:
        if cells[index].strip():
            raise BadCell(
                "unnamed_column",
                f"column {index + 1} has no name in the header but holds {cells[index]!r}",
            )
    record = {}
    for column in layout.columns:
        text = cells[header.positions[column.name]]
        try:
            record[column.name] = parsers[column.name](text)
        except BadCell as error:
            raise BadCell(error.reason, f"column {column.name}: {error}") from None
    return record

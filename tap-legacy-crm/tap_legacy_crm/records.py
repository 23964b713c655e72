"""Legacy CRM records made safe: every field optional, unknown fields kept in `_extra`,
values normalised only where the type is certain. Pure functions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from singer_sdk import typing as th

KNOWN_FIELDS = (
    "id", "email", "full_name", "phone", "status", "segment", "signup_date",
    "lifetime_value", "num_orders", "updated_at",
)  # fmt: skip
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d-%b-%Y")

SCHEMA = th.PropertiesList(
    th.Property("id", th.IntegerType, required=True, description="CRM customer id."),
    th.Property("email", th.StringType, description="As the CRM holds it (casing, spaces)."),
    th.Property("full_name", th.StringType),
    th.Property("phone", th.StringType),
    th.Property("status", th.StringType, description="Raw; casing varies."),
    th.Property("segment", th.StringType),
    th.Property("signup_date", th.DateType, description="Parsed when in a known format."),
    th.Property("signup_date_raw", th.StringType, description="The value as sent."),
    th.Property("lifetime_value", th.StringType, description="Raw text: '1,234.00', '12.5'."),
    th.Property("num_orders", th.StringType, description="Raw text (numbers arrive as text)."),
    th.Property("updated_at", th.DateTimeType, description="UTC."),
    th.Property(
        "_extra",
        th.ObjectType(additional_properties=True),
        description="Fields this tap does not know yet, kept as sent.",
    ),
    th.Property("_sdc_page", th.IntegerType, description="API page the record came from."),
).to_dict()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def parse_signup_date(value: Any) -> str | None:
    """ISO date for the formats the CRM is known to use, else None (raw kept beside)."""
    text = _text(value)
    if not text or not text.strip():
        return None
    text = text.strip()
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    for pattern in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    return None


def parse_updated_at(value: Any) -> str | None:
    """UTC ISO date-time, or None when empty or not ISO-like (the raw value goes to `_extra`)."""
    text = _text(value)
    if not text or not text.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)  # the CRM writes UTC without saying so
    return parsed.astimezone(dt.UTC).isoformat()


def record_id(raw: dict[str, Any], page: int) -> int:
    """The integer id; a record without one stops the run, naming the page (never dropped)."""
    try:
        return int(str(raw["id"]).strip())
    except (KeyError, ValueError):
        raise ValueError(
            f"record without an integer id on page {page}: id={raw.get('id')!r}"
        ) from None


def normalise(raw: dict[str, Any], page: int) -> dict[str, Any]:
    record = {
        "id": record_id(raw, page),
        "email": _text(raw.get("email")),
        "full_name": _text(raw.get("full_name")),
        "phone": _text(raw.get("phone")),
        "status": _text(raw.get("status")),
        "segment": _text(raw.get("segment")),
        "signup_date": parse_signup_date(raw.get("signup_date")),
        "signup_date_raw": _text(raw.get("signup_date")),
        "lifetime_value": _text(raw.get("lifetime_value")),
        "num_orders": _text(raw.get("num_orders")),
        "updated_at": parse_updated_at(raw.get("updated_at")),
        "_sdc_page": page,
    }
    extra = {key: value for key, value in raw.items() if key not in KNOWN_FIELDS}
    if record["updated_at"] is None and _text(raw.get("updated_at")):
        extra["updated_at_raw"] = raw["updated_at"]  # not a date-time we can read: keep it
    record["_extra"] = extra or None
    return record

"""The pure record functions: normalise only where certain, never drop a value."""

from __future__ import annotations

import pytest
from tap_legacy_crm.records import normalise, parse_signup_date, parse_updated_at


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-03-04", "2025-03-04"),
        ("03/04/2025", "2025-03-04"),
        ("04-Mar-2025", "2025-03-04"),
        ("2025-03-04T09:30:00Z", "2025-03-04"),
        ("sometime in 2025", None),
        ("", None),
        (None, None),
    ],
)
def test_signup_dates_in_known_formats_only(raw, expected) -> None:
    assert parse_signup_date(raw) == expected


def test_updated_at_is_utc_with_offset() -> None:
    assert parse_updated_at("2025-01-02 03:04:05") == "2025-01-02T03:04:05+00:00"
    assert parse_updated_at("2025-01-02T03:04:05Z") == "2025-01-02T03:04:05+00:00"
    assert parse_updated_at("yesterday") is None


def test_unknown_fields_and_unreadable_values_are_kept() -> None:
    record = normalise(
        {"id": " 7 ", "num_orders": 3, "updated_at": "yesterday", "tier": "gold"}, page=2
    )
    assert record["id"] == 7 and record["num_orders"] == "3" and record["updated_at"] is None
    assert record["_extra"] == {"tier": "gold", "updated_at_raw": "yesterday"}
    assert record["email"] is None and record["_sdc_page"] == 2


def test_a_record_without_an_id_is_a_loud_error_naming_the_page() -> None:
    with pytest.raises(ValueError, match="without an integer id on page 5"):
        normalise({"email": "a@b.c"}, page=5)

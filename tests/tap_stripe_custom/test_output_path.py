"""The tap's output path (singer_output.py, root_conform.py) against the SDK's own.

The tap writes Singer lines in blocks with msgspec and conforms records with a plan made
once per stream; the SDK's path writes and flushes every line with simplejson and
conforms every value. The data must not notice: the same records, schemas and STATE
messages in the same order, whichever path ran, and the same values for every kind of
input the SDK's ROOT_ONLY conformance handles.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from decimal import Decimal

from elt_sandbox.stripe_api.data import StripeData
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers.conform import TypeConformanceLevel
from tap_stripe_custom.root_conform import RootConformer
from tap_stripe_custom.streams import STREAM_TYPES

from tests.conftest import TEST_SCALE
from tests.singer_output import (
    assert_written_in_blocks,
    counted_tap,
    run_script,
    sdk_writer,
    tap_script,
)
from tests.tap_stripe_custom.conftest import expected_objects, tap_config

TAP = ("tap_stripe_custom.tap", "TapStripeCustom", "tap-stripe-custom")
# The tap as the SDK would run it: its writer (one flushed line each) and its ROOT_ONLY
# conformance per value, the tap's own conformer switched off.
SDK_PATH_TAP = tap_script(
    *TAP,
    "from singer_sdk.helpers.conform import TypeConformanceLevel\n"
    "from tap_stripe_custom import streams\n"
    "streams.StripeStream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.ROOT_ONLY\n"
    "streams.StripeStream.conform = property(lambda self: lambda record: record)\n"
    + sdk_writer("TapStripeCustom"),
)
FAST_PATH_TAP = tap_script(*TAP)


def comparable(stdout: str) -> list[dict]:
    """Every message; the two runs differ only in when they ran: time_extracted and the
    SDK's replication_key_signpost (its start time) are left out, and the run boundary
    (the clock) is replaced by a placeholder in STATE."""
    cursors = [
        bookmark["events_cursor"]
        for line in stdout.splitlines()
        if (message := json.loads(line))["type"] == "STATE"
        for bookmark in message["value"].get("bookmarks", {}).values()
        if "events_cursor" in bookmark
    ]
    boundary = max(cursors)
    iso = dt.datetime.fromtimestamp(boundary, dt.UTC).isoformat()
    messages = []
    for line in stdout.splitlines():
        message = json.loads(line)
        message.pop("time_extracted", None)
        if message["type"] == "STATE":
            text = json.dumps(message).replace(iso, "BOUNDARY").replace(str(boundary), '"B"')
            message = json.loads(text)
            for bookmark in message["value"].get("bookmarks", {}).values():
                bookmark.pop("replication_key_signpost", None)
        messages.append(message)
    return messages


def test_messages_equal_the_sdk_path(stripe_env, tmp_path) -> None:
    config = tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"])
    fast = run_script("fast", FAST_PATH_TAP, config, tmp_path)
    sdk = run_script("sdk", SDK_PATH_TAP, config, tmp_path)
    fast_messages = comparable(fast.stdout)
    sdk_messages = comparable(sdk.stdout)
    assert sum(m["type"] == "RECORD" for m in fast_messages) > 1000
    assert [m["type"] for m in fast_messages] == [m["type"] for m in sdk_messages]
    assert fast_messages == sdk_messages


def test_a_partial_selection_gives_the_sdk_paths_messages(stripe_env, tmp_path) -> None:
    """With a catalog that selects one stream and deselects some of its properties, the
    fast path (conformance in `_record`, before the SDK prunes deselected properties)
    still writes exactly what the SDK path writes: no deselected property, no warning of
    a property "not found in catalog schema"."""
    config = tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"])
    catalog = json.loads(
        run_script("discover", FAST_PATH_TAP, config, tmp_path, "--discover").stdout
    )
    dropped = {"description", "metadata"}
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            breadcrumb = item["breadcrumb"]
            if not breadcrumb:
                item["metadata"]["selected"] = entry["tap_stream_id"] == "charges"
            elif breadcrumb[-1] in dropped and entry["tap_stream_id"] == "charges":
                item["metadata"]["selected"] = False
    catalog_file = tmp_path / "catalog.json"
    catalog_file.write_text(json.dumps(catalog))
    args = ("--catalog", str(catalog_file))
    fast = run_script("fast", FAST_PATH_TAP, config, tmp_path, *args)
    sdk = run_script("sdk", SDK_PATH_TAP, config, tmp_path, *args)
    fast_messages, sdk_messages = comparable(fast.stdout), comparable(sdk.stdout)
    records = [m["record"] for m in fast_messages if m["type"] == "RECORD"]
    assert len(records) > 100 and {m["stream"] for m in fast_messages if "stream" in m} == {
        "charges"
    }
    assert not dropped & set().union(*records)
    assert fast_messages == sdk_messages
    assert "not found in catalog schema" not in fast.stderr


def test_stdout_goes_out_in_blocks_each_state_at_once(stripe_env, tmp_path) -> None:
    """Few writes for many records (the reader, Meltano, wakes once per write), and a
    STATE message is never held back: it always ends the write that carries it."""
    config = tap_config(stripe_env["SANDBOX_STRIPE_API_BASE"])
    result = run_script(
        "counted",
        counted_tap(*TAP),
        config,
        tmp_path,
    )
    assert_written_in_blocks(result, min_records=1000)


def stripe_objects() -> list[tuple[type, dict]]:
    """Every object the stand-in serves at the test scale, with the stream it goes to."""
    data = StripeData(TEST_SCALE)
    return [
        (stream_type, obj)
        for stream_type in STREAM_TYPES
        for obj in expected_objects(data, stream_type.resource)
    ]


EDGE_VALUES = [
    None, True, False, 0, 1, 2, -1, 0.0, 1.5, math.nan, math.inf, -math.inf, "", "0", "x",
    Decimal("1.10"), [], [1], {}, {"a": 1}, dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    dt.datetime(2025, 1, 2, 3, 4, 5), dt.date(2025, 1, 2), dt.time(3, 4), b"\x00", b"\x01",
    dt.timedelta(seconds=5),
]  # fmt: skip


def test_root_conformer_equals_the_sdks_root_only(caplog) -> None:
    """Real objects of every stream, then every kind of value in every property (and
    unknown ones): the conformer's result is the SDK's, value for value, type for type."""
    logger = logging.getLogger("test_root_conform")
    checked = 0
    for stream_type, obj in stripe_objects():
        schema = stream_type.schema_list.to_dict()
        record = {**obj, "updated": "2025-01-01T00:00:00+00:00", "is_deleted": False}
        conformer = RootConformer(stream_type.resource, schema, logger)
        assert_same(conformer(dict(record)), sdk_root_only(stream_type, record, schema, logger))
        checked += 1
    assert checked > 1000
    for stream_type in STREAM_TYPES:
        schema = stream_type.schema_list.to_dict()
        conformer = RootConformer(stream_type.resource, schema, logger)
        for value in EDGE_VALUES:
            record = {name: value for name in schema["properties"]} | {"not_declared": value}
            assert_same(conformer(dict(record)), sdk_root_only(stream_type, record, schema, logger))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger.name):
        conformer = RootConformer("charges", STREAM_TYPES[0].schema_list.to_dict(), logger)
        for _ in range(3):
            conformer({"id": "ch_1", "surprise": 1})
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [
        "Properties ('surprise',) were present in the 'charges' stream but not found in "
        "catalog schema. Ignoring."
    ]


def sdk_root_only(stream_type, record: dict, schema: dict, logger) -> dict:
    return conform_record_data_types(
        stream_type.resource, dict(record), schema, TypeConformanceLevel.ROOT_ONLY, logger
    )


def assert_same(ours: dict, sdks: dict) -> None:
    assert list(ours) == list(sdks)
    for name, value in sdks.items():
        mine = ours[name]
        if isinstance(value, float) and math.isnan(value):
            assert isinstance(mine, float) and math.isnan(mine), name
        else:
            assert (type(mine), mine) == (type(value), value), name

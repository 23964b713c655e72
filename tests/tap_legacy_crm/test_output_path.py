"""The tap's output path (singer_output.py) against the SDK's writer: the same messages in
the same order, written in few pieces, each STATE at once."""

from __future__ import annotations

import datetime as dt
import json
import re

from tests.singer_output import (
    assert_written_in_blocks,
    counted_tap,
    run_script,
    sdk_writer,
    tap_script,
)
from tests.tap_legacy_crm.conftest import crm_config

TAP = ("tap_legacy_crm.tap", "TapLegacyCRM", "tap-legacy-crm")
# The tap with the SDK's writer (simplejson, one flushed line per message).
SDK_PATH_TAP = tap_script(*TAP, sdk_writer("TapLegacyCRM"))
FAST_PATH_TAP = tap_script(*TAP)


def messages(stdout: str) -> list[dict]:
    """Every message but for when it ran: time_extracted, and the clock readings in STATE
    (timestamps of today, when the run started) as a placeholder."""
    today = re.compile(re.escape(dt.datetime.now(dt.UTC).date().isoformat()) + r"T[0-9:.+]+")
    found = []
    for line in stdout.splitlines():
        message = json.loads(line)
        message.pop("time_extracted", None)
        if message["type"] == "STATE":
            message = json.loads(today.sub("CLOCK", json.dumps(message)))
        found.append(message)
    return found


def test_messages_equal_the_sdk_path(crm_env, tmp_path) -> None:
    config = crm_config(crm_env["SANDBOX_CRM_API_URL"])
    fast = messages(run_script("fast", FAST_PATH_TAP, config, tmp_path).stdout)
    sdk = messages(run_script("sdk", SDK_PATH_TAP, config, tmp_path).stdout)
    assert sum(m["type"] == "RECORD" for m in fast) > 500
    assert [m["type"] for m in fast] == [m["type"] for m in sdk]
    assert [m for m in fast if m["type"] != "STATE"] == [m for m in sdk if m["type"] != "STATE"]
    assert [m for m in fast if m["type"] == "STATE"] == [m for m in sdk if m["type"] == "STATE"]


def test_stdout_goes_out_in_blocks_each_state_at_once(crm_env, tmp_path) -> None:
    """Few writes for many records (the reader, Meltano, wakes once per write), and a
    STATE message is never held back: it always ends the write that carries it."""
    config = crm_config(crm_env["SANDBOX_CRM_API_URL"], per_page=500)
    result = run_script(
        "counted",
        counted_tap(*TAP),
        config,
        tmp_path,
    )
    assert_written_in_blocks(result, min_records=500)

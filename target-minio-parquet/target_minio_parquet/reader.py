"""A tighter Singer message loop than the SDK's, for the millions of RECORD lines.

The SDK's reader decodes every line into a dict and counts it through generic helpers;
at 150k lines/s that per-line Python is most of a target's CPU. This loop decodes only
the envelope (type, stream, time_extracted, version) of the first RECORD of a run of
records and offers the line, undecoded, to the `RAW_RECORD` callback. When the callback
accepts it, it returns a `RecordLane`: the exact byte prefix RECORD lines of that stream
start with (`{"type":"RECORD","stream":"<name>","record":`, the key order every SDK tap
writes) and where to append them. Following lines with that prefix are appended as they
are, with no decoding at all, and the lane is settled (budget, tallies) every
`SETTLE_EVERY` lines and whenever another kind of line arrives. The target parses a
whole buffer of lines at once when it writes a file (see sink.py), and a line that is
not valid JSON is reported then, by its text, exactly as here.

Every other message, and RECORD lines the callback declines, are decoded with the SDK's
own msgspec decoder (JSON numbers become Decimals, so decimals stay exact) and go to the
usual callbacks.
"""

from __future__ import annotations

import io
import sys
import typing as t
from collections import Counter

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader, decoder
from singer_sdk.exceptions import InvalidInputLine

RAW_RECORD = "RAW_RECORD"
SETTLE_EVERY = 1024  # lane lines between budget checks; bounds the budget's overshoot


class RecordEnvelope(msgspec.Struct):
    """The parts of a message the target needs before it buffers a RECORD."""

    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw(b"null")
    time_extracted: str | None = None
    version: int | None = None


_envelope = msgspec.json.Decoder(RecordEnvelope)


class RecordLane(t.Protocol):
    """Where a stream's undecoded RECORD lines go (implemented by ParquetSink)."""

    lane_prefix: bytes

    def lane_append(self, line: bytes) -> None: ...

    def settle_lane(self, count: int) -> None:
        """Account for the last `count` appended lines (budget, tallies, metrics)."""


def lane_prefix(stream: str) -> bytes:
    """The bytes an SDK tap's RECORD line for `stream` starts with."""
    return b'{"type":"RECORD","stream":' + msgspec.json.encode(stream) + b',"record":'


class FastMsgSpecReader(MsgSpecReader):
    """MsgSpecReader with a RECORD fast lane; other messages go the usual way."""

    @property
    def default_input(self) -> t.IO[bytes]:  # type: ignore[override]
        return sys.stdin.buffer  # msgspec decodes bytes without a text layer

    def process_lines(
        self,
        file_input: t.IO | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        filein = file_input or self.default_input
        if isinstance(filein, io.TextIOBase):  # e.g. the SDK's tests hand in text
            filein = (line.encode() for line in filein)
        decode, envelope = decoder.decode, _envelope.decode
        on_record = callbacks["RECORD"]
        on_raw = callbacks.get(RAW_RECORD)
        records = 0
        others: Counter[str] = Counter()
        lane: RecordLane | None = None
        prefix = b""
        append = None
        pending = 0
        for line in filein:
            if append is not None and line.startswith(prefix):
                append(line)
                pending += 1
                if pending == SETTLE_EVERY:
                    lane.settle_lane(pending)
                    records += pending
                    pending = 0
                continue
            if pending:
                lane.settle_lane(pending)
                records += pending
                pending = 0
            lane, append = None, None
            if on_raw is not None:
                try:
                    head = envelope(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    head = None  # the full decode below reports what is wrong
                if head is not None and head.type == "RECORD":
                    lane = on_raw(head, line)
                    if lane is not None:
                        records += 1
                        if line.startswith(lane.lane_prefix):
                            prefix, append = lane.lane_prefix, lane.lane_append
                        continue
            try:
                message = decode(line)
            except msgspec.DecodeError as error:
                if not line.strip():
                    continue  # a blank line carries no message
                shown = line[:200]
                raise InvalidInputLine(f"Unable to parse line as JSON: {shown!r}") from error
            if type(message) is not dict:
                raise InvalidInputLine(f"Line is not a JSON object: {line[:200]!r}")
            kind = message.get("type")
            if kind == "RECORD":
                on_record(message)
                records += 1
                continue
            if kind is None:
                raise InvalidInputLine(f"Line is missing required type key(s): {line[:200]!r}")
            self._current_message = line
            if callback := callbacks.get(kind):
                callback(message)
            else:
                self._process_unknown_message(message)
            others[kind] += 1
        if pending:
            lane.settle_lane(pending)
            records += pending
        if records:
            others["RECORD"] = records
        return others

"""A tighter Singer message loop than the SDK's, for the millions of RECORD lines.

The SDK's reader checks every line for a `type` key through a generic helper and counts
each message in a dict; at 150k lines/s those calls are a tenth of the target's CPU.
This loop first reads only a RECORD's envelope (type, stream, time_extracted, version)
and hands the record's JSON text, undecoded, to the `RAW_RECORD` callback: the target
buffers compact bytes instead of Python dicts (a fifth of the memory, no garbage-collector
work) and decodes a whole batch at once when it writes a file. Lines the callback
declines, and every other message, are decoded with the SDK's own msgspec decoder (JSON
numbers become Decimals, so decimals stay exact) and go to the usual callbacks.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader, decoder
from singer_sdk.exceptions import InvalidInputLine

RAW_RECORD = "RAW_RECORD"


class RecordEnvelope(msgspec.Struct):
    """The parts of a message the target needs before it buffers a RECORD."""

    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw(b"null")
    time_extracted: str | None = None
    version: int | None = None


_envelope = msgspec.json.Decoder(RecordEnvelope)


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
        decode, envelope = decoder.decode, _envelope.decode
        on_record = callbacks["RECORD"]
        on_raw = callbacks.get(RAW_RECORD)
        records = 0
        others: Counter[str] = Counter()
        for line in filein:
            if on_raw is not None:
                try:
                    head = envelope(line)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    head = None  # the full decode below reports what is wrong
                if head is not None and head.type == "RECORD" and on_raw(head):
                    records += 1
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
        if records:
            others["RECORD"] = records
        return others

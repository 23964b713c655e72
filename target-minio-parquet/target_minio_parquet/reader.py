"""A tighter Singer message loop than the SDK's, for the millions of RECORD lines.

The SDK's reader decodes every line into a dict and counts it through generic helpers;
at 150k lines/s that per-line Python is most of a target's CPU. This loop reads the
input in blocks and works on *runs* of RECORD lines instead of lines:

- the first RECORD of a run has only its envelope decoded (type, stream, ...) and is
  offered, undecoded, to the `RAW_RECORD` callback. Accepting it, the callback returns a
  `RecordLane`, where that stream's lines go. The bytes before the record's value
  (`{"type":"RECORD","stream":"<name>","record":` from every SDK tap, whatever the
  spacing or key order from others) are checked to hold exactly that type and stream,
  so any line starting with them is a RECORD of the same stream;
- from there, one regular-expression search finds where the run ends (the first line
  that does not start with the prefix) and the whole run is handed over as one bytes
  slice, with its line count: no Python runs per line at all;
- the target parses a buffer of runs at once when it writes a file (see sink.py), and a
  line that is not valid JSON is reported then, by its text, exactly as here.

Every other message, and RECORD lines the callback declines, are decoded one by one with
the SDK's own msgspec decoder (JSON numbers become Decimals, so decimals stay exact) and
go to the usual callbacks.
"""

from __future__ import annotations

import io
import re
import sys
import typing as t
from collections import Counter
from collections.abc import Iterator

import msgspec
from singer_sdk.contrib.msgspec import MsgSpecReader, decoder
from singer_sdk.exceptions import InvalidInputLine

RAW_RECORD = "RAW_RECORD"
BLOCK_BYTES = 1 << 20  # read size; a run is handed over at least once per block


class RecordEnvelope(msgspec.Struct):
    """The parts of a message the target needs before it buffers a RECORD."""

    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw(b"null")
    time_extracted: str | None = None
    version: int | None = None


decode_envelope = msgspec.json.Decoder(RecordEnvelope).decode


class RecordLane(t.Protocol):
    """Where a stream's undecoded RECORD lines go (the target's lane for one sink)."""

    def take_lines(self, lines: bytes, count: int) -> None:
        """Buffer `count` complete lines (budget, tallies and metrics included)."""


def record_prefix(line: bytes, head: RecordEnvelope) -> bytes | None:
    """The bytes of `line` before its record's value, when they hold exactly this
    message's type and stream (so that any line starting with them is a RECORD of the
    same stream); None when they cannot be told apart."""
    at = line.find(bytes(head.record))
    if at <= 0:
        return None
    prefix = line[:at]
    try:
        probe = decode_envelope(prefix + b"null}")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return prefix if probe.type == "RECORD" and probe.stream == head.stream else None


def lane_end(prefix: bytes) -> re.Pattern[bytes]:
    """A newline not followed by `prefix`: the end of a run (or of the buffer)."""
    return re.compile(b"\n(?!" + re.escape(prefix) + b")")


def complete_lines(filein: t.IO) -> Iterator[bytes]:
    """The input as blocks of whole lines, each ending with a newline (the last one too).

    Text input (the SDK's tests hand in StringIO) is encoded line by line."""
    if isinstance(filein, io.TextIOBase):
        for line in filein:
            yield line.encode() if line.endswith("\n") else line.encode() + b"\n"
        return
    read = getattr(filein, "read1", None) or filein.read
    carry = b""
    while block := read(BLOCK_BYTES):
        block = carry + block if carry else block
        end = block.rfind(b"\n") + 1
        carry = block[end:]
        if end:
            yield block[:end] if carry else block
    if carry:
        yield carry + b"\n"


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
        on_raw = callbacks.get(RAW_RECORD)
        counts: Counter[str] = Counter()
        lane: RecordLane | None = None
        prefix = b""
        end = lane_end(prefix)
        ends: dict[bytes, re.Pattern[bytes]] = {}
        for block in complete_lines(file_input or self.default_input):
            size = len(block)
            position = 0
            while position < size:
                if lane is not None and block.startswith(prefix, position):
                    stop = end.search(block, position).end()  # type: ignore[union-attr]
                    run = block[position:stop]
                    count = run.count(b"\n")
                    lane.take_lines(run, count)
                    counts["RECORD"] += count
                    position = stop
                    continue
                stop = block.index(b"\n", position) + 1
                line = block[position:stop]
                position = stop
                lane = None
                if on_raw is not None:
                    try:
                        head = decode_envelope(line)
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        head = None  # the full decode below reports what is wrong
                    if head is not None and head.type == "RECORD":
                        lane = on_raw(head, line)
                        if lane is not None:
                            counts["RECORD"] += 1
                            found = record_prefix(line, head)
                            if found is None:
                                lane = None  # this stream's lines go one by one
                            else:
                                prefix = found
                                end = ends.get(prefix) or ends.setdefault(prefix, lane_end(prefix))
                            continue
                self._process_line(line, callbacks, counts)
        return counts

    def _process_line(
        self, line: bytes, callbacks: dict[str, t.Callable[[dict], None]], counts: Counter[str]
    ) -> None:
        """One message the SDK's way (decoded, checked, dispatched by type)."""
        try:
            message = decoder.decode(line)
        except msgspec.DecodeError as error:
            if not line.strip():
                return  # a blank line carries no message
            raise InvalidInputLine(f"Unable to parse line as JSON: {line[:200]!r}") from error
        if type(message) is not dict:
            raise InvalidInputLine(f"Line is not a JSON object: {line[:200]!r}")
        kind = message.get("type")
        if kind is None:
            raise InvalidInputLine(f"Line is missing required type key(s): {line[:200]!r}")
        counts[kind] += 1
        if kind == "RECORD":
            callbacks["RECORD"](message)
            return
        self._current_message = line
        if callback := callbacks.get(kind):
            callback(message)
        else:
            self._process_unknown_message(message)

"""Singer messages to stdout: the SDK's messages, written in blocks instead of one per line.

The SDK's writer serialises each message with simplejson and flushes stdout after every
one: a write system call per record, and one wake-up of the reader on the other end of
the pipe (Meltano, which relays every line to the target). At ~360,000 Stripe records a
run that was a third of the tap's CPU and most of Meltano's. Here RECORD messages are
encoded with msgspec (the encoder the SDK's own msgspec writer uses) into a block of up
to 64 KiB, written to stdout when it fills and with every message that is not a RECORD
(SCHEMA, STATE, ...): a STATE message never waits behind its records, and a bookmark is
never seen before the records it covers. Interpreter exit writes the rest.

RECORD lines carry the same JSON values as the SDK's writer would write (each tap's
tests/<tap>/test_output_path.py); other messages are the SDK's own lines. The same file
in tap-stripe-custom and tap-legacy-crm (each plugin is a package of its own;
tests/test_copied_modules.py keeps the copies equal).
"""

from __future__ import annotations

import atexit
import datetime as dt
import sys

import msgspec
from singer_sdk.singerlib import SingerMessageType
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.encoding.simple import Message
from singer_sdk.singerlib.json import serialize_json

# RECORD messages: msgspec, with the SDK's encoder's choices (decimals as numbers, NaN
# and infinities as null). msgspec writes a datetime itself (RFC 3339, `Z`), so the one
# the SDK puts in a RECORD, time_extracted, is made the SDK's `+00:00` text first; the
# record reaches the writer conformed, its datetimes already text.
_ENCODER = msgspec.json.Encoder(enc_hook=str, decimal_format="number")


def _record_line(message: Message) -> bytes:
    data = message.to_dict()
    extracted = data.get("time_extracted")
    if isinstance(extracted, dt.datetime):
        data["time_extracted"] = extracted.isoformat(sep="T")
    return _ENCODER.encode(data) + b"\n"


class BlockSingerWriter(GenericSingerWriter[bytes, Message]):
    """Singer messages as JSON lines on stdout, in blocks of up to BLOCK_BYTES, written
    out at every message that is not a RECORD and at exit.

    The block is kept here, not in `sys.stdout.buffer`: under PYTHONUNBUFFERED (set in
    many shells and CI images) that buffer writes every line straight through."""

    BLOCK_BYTES = 64 * 1024

    def __init__(self) -> None:
        self._block = bytearray()
        atexit.register(self.flush)

    def serialize_message(self, message: Message) -> bytes:
        """A RECORD through msgspec; any other message (few) exactly as the SDK writes it."""
        if message.type is SingerMessageType.RECORD:
            return _record_line(message)
        return serialize_json(message.to_dict()).encode() + b"\n"

    def write_message(self, message: Message) -> None:
        self._block += self.serialize_message(message)
        if message.type is not SingerMessageType.RECORD or len(self._block) >= self.BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Everything written so far, to the reader."""
        if self._block:
            sys.stdout.flush()  # whatever went through the text layer goes first
            out = sys.stdout.buffer
            out.write(self._block)
            out.flush()
            self._block.clear()

"""Singer messages to stdout: the SDK's messages, written in blocks instead of one per line.

The SDK's writers serialise each message with simplejson and flush stdout after every
one: a write system call per record, and one wake-up of the reader on the other end of
the pipe (Meltano, which relays every line to the target). At ~360,000 Stripe records a
run that was a third of the tap's CPU and most of Meltano's. Here messages are encoded
with msgspec (the encoder the SDK's own msgspec writer uses) into a block of up to
64 KiB, written to stdout when it fills and with every message that is not a RECORD
(SCHEMA, STATE, ...): a STATE message never waits behind its records, and a bookmark is
never seen before the records it covers. Interpreter exit writes the rest.

The lines carry the same JSON values as the SDK's writer (checked by
tests/tap_stripe_custom/test_singer_output.py): `time_extracted` keeps the SDK's
`+00:00` form, decimals are numbers, NaN and infinities are null.
"""

from __future__ import annotations

import atexit
import datetime as dt
import sys
from typing import Any

import msgspec
from singer_sdk.singerlib import SingerMessageType
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.encoding.simple import Message


def _encode_other(value: Any) -> str:
    """What the SDK's encoder does with a type JSON lacks: ISO datetimes, else str()."""
    return value.isoformat(sep="T") if isinstance(value, dt.datetime) else str(value)


# msgspec writes datetimes itself (RFC 3339 with `Z`): the one the SDK puts in a message,
# time_extracted, is made a string first; records hold none (they are decoded JSON)
_ENCODER = msgspec.json.Encoder(enc_hook=_encode_other, decimal_format="number")


def _as_sdk_json(message: Message) -> dict[str, Any]:
    data = message.to_dict()
    extracted = data.get("time_extracted")
    if isinstance(extracted, dt.datetime):
        data["time_extracted"] = extracted.isoformat(sep="T")
    return data


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
        return _ENCODER.encode(_as_sdk_json(message)) + b"\n"

    def write_message(self, message: Message) -> None:
        self._block += self.serialize_message(message)
        if message.type is not SingerMessageType.RECORD or len(self._block) >= self.BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Everything written so far, to the reader."""
        if self._block:
            out = sys.stdout.buffer
            out.write(self._block)
            out.flush()
            self._block.clear()

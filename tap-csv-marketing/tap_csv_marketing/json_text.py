"""The byte stream of a JSON export: gunzipped, UTF-8, hashed and counted as it is read.

A JSON file is read twice (`json_files.check_document`, then the records), each time
through `JsonText`: it hashes the bytes as stored (the bookmark's checksum), gunzips a
`.gz` name, turns UTF-16 with a byte-order mark into UTF-8 and drops a UTF-8 BOM (RFC 8259
says parsers may ignore it; the CSV path reads both too), and counts the text bytes so an
error can name its offset. Memory is one chunk, whatever the file's size.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import zlib
from typing import BinaryIO

CHUNK = 1024 * 1024


class TextFailed(ValueError):
    """The file's bytes cannot be read as text (a broken gzip, an odd UTF-16 length)."""


class JsonText(io.RawIOBase):
    """A readable binary stream of the file's UTF-8 text (see the module docstring)."""

    def __init__(self, raw: BinaryIO, gzipped: bool) -> None:
        super().__init__()
        self.digest = hashlib.sha256()
        self.stored_bytes = 0  # bytes as stored (compressed), what the bookmark's size is
        self.offset = 0  # text bytes handed to the reader so far
        self._raw = raw
        self._source: BinaryIO = gzip.GzipFile(fileobj=self, mode="rb") if gzipped else self
        self._decoder: codecs.IncrementalDecoder | None = None
        self._started = False
        self._pending = b""
        self._reading_raw = False

    def readable(self) -> bool:
        return True

    def _read_stored(self, size: int) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        self.stored_bytes += len(data)
        return data

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._reading_raw:  # GzipFile reading the stored bytes through us
            data = self._read_stored(len(buffer))
            buffer[: len(data)] = data
            return len(data)
        data = self._text(len(buffer))
        buffer[: len(data)] = data
        self.offset += len(data)
        return len(data)

    def _decoded(self, size: int) -> bytes:
        if self._source is self:
            return self._read_stored(size)
        self._reading_raw = True
        try:
            return self._source.read(size)
        except (OSError, EOFError, zlib.error) as error:
            raise TextFailed(f"not a complete gzip file: {error}") from None
        finally:
            self._reading_raw = False

    def _text(self, size: int) -> bytes:
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        data = self._decoded(max(size, 4))
        if not self._started:
            self._started = True
            data = self._start(data)
        if self._decoder is not None:
            try:
                final = not data
                text = self._decoder.decode(data, final=final)
            except UnicodeDecodeError as error:
                raise TextFailed(f"not UTF-16 text: {error}") from None
            data = text.encode("utf-8", "surrogatepass")
            if not data and not final:
                return self._text(size)
        if len(data) > size:
            data, self._pending = data[:size], data[size:]
        return data

    def _start(self, data: bytes) -> bytes:
        """The first bytes with a BOM handled: UTF-8's dropped, UTF-16's decoded."""
        while len(data) < 3:  # a BOM may arrive split over reads of a tiny gzip member
            more = self._decoded(3)
            if not more:
                break
            data += more
        if data.startswith(codecs.BOM_UTF8):
            return data[len(codecs.BOM_UTF8) :]
        for bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            if data.startswith(bom):
                self._decoder = codecs.getincrementaldecoder("utf-16")()
                return data
        return data

    def drain(self) -> None:
        """Read the stored bytes to their end, so the digest covers the whole file (the
        parsers stop at the end of the text; after a failure, wherever it happened)."""
        while self._read_stored(CHUNK):
            pass

    def hexdigest(self) -> str:
        return self.digest.hexdigest()

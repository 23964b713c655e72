"""What one target run writes: file names, row sequence numbers, manifests.

The committer thread is the only writer of these while a run is in progress (file
names, sequences and manifest entries are taken when a buffer is committed), and the
main thread reads the manifests only after `Committer.wait()`, so no lock is needed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import pyarrow as pa
import pyarrow.compute as pc

from target_minio_parquet.manifest import StreamManifest
from target_minio_parquet.storage import Lake

# Logged once per run before any record: the run id names the run's log block.
RUN_STARTED_LINE = "target run {run_id} started for source {source}"


class LakeRun:
    """The run id and everything numbered or listed per run."""

    def __init__(
        self,
        lake: Lake,
        source_name: str,
        started: dt.datetime,
        load_method: str,
        *,
        unnamed_source: bool = False,
    ) -> None:
        self.lake = lake
        self.source_name = source_name
        # no source_name was given: `unnamed_source` guards its folders (one stream each)
        self.unnamed_source = unnamed_source
        self.schemas_recorded: dict[str, set[str]] = {}  # stream -> hashes written this run
        # in every manifest from the first one on: a run that fails half way says what
        # it was doing (an overwrite run's "running" manifest said append-only)
        self.load_method = load_method
        self.run_id = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        self._file_numbers = itertools.count(1)
        self._sequence_next = int(started.timestamp() * 1000) * 1_000_000
        self.manifests: dict[str, StreamManifest] = {}
        self._bookmark_keys: dict[str, str] = {}

    def next_file_name(self) -> str:
        return f"{self.run_id}-{next(self._file_numbers):05d}.parquet"

    def next_sequences(self, count: int) -> pa.Array:
        """`count` increasing numbers, unique within the run and above earlier runs'."""
        start = self._sequence_next
        self._sequence_next += count
        if not count:
            return pa.array([], type=pa.int64())
        # start + 0, 1, 2...: Arrow arithmetic instead of count Python ints
        offsets = pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), count))
        return pc.add(offsets, start - 1)

    def manifest_for(self, stream_name: str) -> StreamManifest:
        if stream_name not in self.manifests:
            self.manifests[stream_name] = StreamManifest(
                run_id=self.run_id,
                source=self.source_name,
                stream=stream_name,
                load_method=self.load_method,
            )
        return self.manifests[stream_name]

    def set_bookmark_key(self, stream_name: str, key: str) -> None:
        self._bookmark_keys[stream_name] = key

    def bookmark_key(self, stream_name: str) -> str | None:
        return self._bookmark_keys.get(stream_name)

"""One stream per folder when no `source_name` names the source.

Without `source_name` (and outside Meltano, which names it) every tap writes to
`default/<stream>`, so two taps' streams of one name, e.g. Stripe's and the CRM's
`customers`, would land in one folder and a reader would get both, mixed, without a word.
The folder's schema history (`_meta/schema_history/source=default/stream=<stream>/`) says
which schemas it holds: a stream whose schema is not among them, written by an earlier run,
is refused before its first file, with the setting that separates them. Only the unnamed
folder is guarded this way: a named source keeps its schema history as it evolves.
"""

from __future__ import annotations

from collections.abc import Collection

from target_minio_parquet.storage import Lake, safe_name

UNNAMED_SOURCE = "default"


class MixedStreamsError(ValueError):
    """Another stream (another schema) already fills the unnamed source's folder."""


def schema_history_dir(source: str, stream: str) -> str:
    return f"_meta/schema_history/source={safe_name(source)}/stream={safe_name(stream)}"


def check_one_stream_per_folder(
    lake: Lake, stream: str, version: str, recorded_this_run: Collection[str]
) -> None:
    """Raise MixedStreamsError when `default/<stream>` holds data of another schema from an
    earlier run (schemas first written by this run are this run's own stream evolving)."""
    paths = lake.list_files(schema_history_dir(UNNAMED_SOURCE, stream))
    earlier = {path.rsplit("/", 1)[-1].removesuffix(".jsonl") for path in paths}
    earlier -= set(recorded_this_run)
    if not earlier or version in earlier:
        return
    folder = f"{safe_name(UNNAMED_SOURCE)}/{safe_name(stream)}"
    raise MixedStreamsError(
        f"stream {stream!r}: folder {folder} already holds a stream {stream!r} with another "
        f"schema (schema hash {', '.join(sorted(earlier))}; this one is {version}), written "
        f"without a source_name. Two sources' streams of one name would mix in one folder: "
        f"set the target's `source_name` setting (TARGET_MINIO_PARQUET_SOURCE_NAME), e.g. to "
        f"the tap's name, so that each source writes its own folder <source_name>/{stream}"
    )

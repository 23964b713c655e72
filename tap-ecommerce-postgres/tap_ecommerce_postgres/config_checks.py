"""Config mistakes found before the first record, each naming the setting and the close
matches.

Without these checks a `schemas` entry that matches nothing gives 0 streams and exit 0,
a misspelt `stream_options` stream id or option silently leaves a stream FULL_TABLE, and
a replication key that is not a column is refused only when its stream's turn comes,
after every earlier stream was sent. Each function here is pure (names in, messages
out), so the tap calls them at discovery, where the tables and columns are known, and
raises them all at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from singer_sdk.exceptions import ConfigValidationError


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'a' or 'b'?)`, or the few known names when nothing is close."""
    known = sorted(set(candidates))
    close = difflib.get_close_matches(word, known, n=3, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(word.lower(), [k.lower() for k in known], n=3)
        close = [k for k in known if k.lower() in close]
    if close:
        return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
    if not known:
        return " (there are none)"
    shown = ", ".join(repr(k) for k in known[:8])
    return f" (known: {shown}{', ...' if len(known) > 8 else ''})"


def check_schemas(
    requested: Sequence[str] | None,
    existing: Collection[str],
    readable: Collection[str],
    user: str | None,
) -> list[str]:
    """Every `schemas` entry must name a schema that holds a table or view we can read.

    `existing` are the schemas of the database, `readable` those with a discovered table.
    """
    errors = []
    for schema in requested or []:
        if schema in readable:
            continue
        if schema not in existing:
            hint = did_you_mean(schema, existing)
            errors.append(f"schemas: {schema!r} is not a schema of the database{hint}")
        else:
            errors.append(
                f"schemas: {schema!r} has no table or view that {user or 'this role'} can read"
                " (it needs USAGE on the schema and SELECT on its tables)"
            )
    return errors


def check_stream_options(
    options: Mapping[str, Mapping[str, Any]] | None,
    columns: Mapping[str, Collection[str]],
    known_options: Collection[str],
) -> list[str]:
    """`stream_options` keys must be stream ids (`<schema>-<table>` or a custom stream's
    name), their options known, and a replication key one of the stream's columns."""
    errors = []
    for stream, option in (options or {}).items():
        if stream not in columns:
            errors.append(
                f"stream_options: {stream!r} is not a stream{did_you_mean(stream, columns)};"
                " keys are stream ids such as 'public-orders'"
            )
            continue
        for name in option:
            if name not in known_options:
                errors.append(
                    f"stream_options.{stream}: unknown option {name!r}"
                    f"{did_you_mean(name, known_options)}"
                )
        key = option.get("replication_key")
        if key and key not in columns[stream]:
            errors.append(
                f"stream_options.{stream}.replication_key: {key!r} is not a column of {stream}"
                f"{did_you_mean(key, columns[stream])}"
            )
        if option.get("replication_method") == "INCREMENTAL" and not key:
            errors.append(
                f"stream_options.{stream}: INCREMENTAL needs a replication_key"
                " (without one the stream would be read whole every run)"
            )
    return errors


def check_log_based(
    options: Mapping[str, Mapping[str, Any]] | None,
    keyed_tables: Collection[str],
) -> list[str]:
    """LOG_BASED streams must be tables with a primary key: changes are applied by key,
    and a view or custom query has no replication slot of its own."""
    errors = []
    for stream, option in (options or {}).items():
        if option.get("replication_method") != "LOG_BASED":
            continue
        if stream not in keyed_tables:
            errors.append(f"stream_options.{stream}: LOG_BASED needs a table with a primary key")
    return errors


def check_custom_streams(
    specs: Sequence[Mapping[str, Any]] | None,
    columns: Sequence[Collection[str]],
    table_streams: Collection[str],
) -> list[str]:
    """A custom stream's name must be new and its keys columns of its query's result.

    `columns[i]` are the result columns of `specs[i]`'s query.
    """
    errors = []
    seen: set[str] = set()
    for index, (spec, names) in enumerate(zip(specs or [], columns, strict=True)):
        where = f"custom_streams[{index}]"
        name = spec["name"]
        if name in table_streams or name in seen:
            errors.append(f"{where}.name: {name!r} is already a stream")
        seen.add(name)
        key = spec.get("replication_key")
        if key and key not in names:
            errors.append(
                f"{where}.replication_key: {key!r} is not a column of the query"
                f"{did_you_mean(key, names)}"
            )
        for column in spec.get("key_properties") or []:
            if column not in names:
                errors.append(
                    f"{where}.key_properties: {column!r} is not a column of the query"
                    f"{did_you_mean(column, names)}"
                )
    return errors


def check_replication_keys(selected: Mapping[str, tuple[str | None, Collection[str]]]) -> list[str]:
    """A replication key given by the catalog (stream -> (key, columns)) must be a column."""
    return [
        f"catalog: replication key {key!r} of stream {stream!r} is not a column"
        f"{did_you_mean(key, names)}"
        for stream, (key, names) in selected.items()
        if key and key not in names
    ]


def raise_config_errors(errors: Sequence[str]) -> None:
    """One ConfigValidationError holding every mistake (the SDK logs each and exits 1)."""
    if errors:
        raise ConfigValidationError(
            "Config validation failed: " + "; ".join(errors), errors=list(errors)
        )

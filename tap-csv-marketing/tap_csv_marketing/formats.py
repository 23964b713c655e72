"""Which reader a file needs: CSV, a JSON document or NDJSON, each optionally gzipped.

The format comes from the file name's extension (`.csv`, `.json`, `.ndjson`/`.jsonl`, each
optionally followed by `.gz`); the `file_formats` setting overrides it per stream (an
export named `.txt` that holds NDJSON). A name with no known extension is read as CSV, as
before this module existed. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping

CSV, JSON, NDJSON = "csv", "json", "ndjson"
FORMATS = (CSV, JSON, NDJSON)
EXTENSIONS = {".csv": CSV, ".json": JSON, ".ndjson": NDJSON, ".jsonl": NDJSON}
GZIP = ".gz"


def export_suffix(name: str) -> str:
    """The known extension at the end of `name` (`.csv`, `.ndjson.gz`), or ``."""
    lower = name.lower()
    base = lower.removesuffix(GZIP)
    for extension in EXTENSIONS:
        if base.endswith(extension):
            return extension + (GZIP if lower.endswith(GZIP) else "")
    return ""


def is_export_file(name: str) -> bool:
    """Whether `name` is one export file (an address naming a file, not a directory)."""
    return bool(export_suffix(name))


def is_gzip(name: str) -> bool:
    return name.lower().endswith(GZIP)


def format_of(name: str, declared: str | None = None) -> str:
    """`csv`, `json` or `ndjson`: the stream's declared format, else the extension's."""
    if declared:
        return declared
    suffix = export_suffix(name).removesuffix(GZIP)
    return EXTENSIONS.get(suffix, CSV)


def check_pointer(pointer: str) -> str | None:
    """What is wrong with a JSON pointer (RFC 6901), or None: `` or `/a/b`."""
    if pointer and not pointer.startswith("/"):
        return f"{pointer!r} is not a JSON pointer (it starts with '/', e.g. '/data/items')"
    for token in pointer.split("/")[1:]:
        if "~" in token.replace("~0", "").replace("~1", ""):
            return f"{pointer!r} has a '~' that is not '~0' or '~1'"
    return None


def pointer_tokens(pointer: str) -> list[str]:
    """The unescaped reference tokens of a JSON pointer: `/a~1b/c` -> ['a/b', 'c']."""
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def check_format_settings(
    file_formats: Mapping[str, object], json_records_paths: Mapping[str, object]
) -> list[str]:
    """The errors in `file_formats` and `json_records_paths`, each naming the setting."""
    errors = []
    for stream, value in file_formats.items():
        if value not in FORMATS:
            errors.append(
                f"setting 'file_formats': {stream}: {value!r} is not one of {list(FORMATS)}"
            )
    for stream, value in json_records_paths.items():
        if not isinstance(value, str):
            problem: str | None = f"{value!r} is not a string"
        elif any("." in token for token in pointer_tokens(value)):
            problem = f"{value!r}: a key with '.' is not supported (the streaming parser)"
        else:
            problem = check_pointer(value)
        if problem:
            errors.append(f"setting 'json_records_paths': {stream}: {problem}")
    return errors

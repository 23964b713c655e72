"""Catalog helpers for the tap's tests: discover once, then select streams and columns."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.tap_ecommerce_postgres.conftest import TAP


def discover(config: dict, tmp_path: Path) -> dict:
    """The tap's own `--discover` catalog for `config`."""
    path = tmp_path / "discover-config.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [TAP, "--config", str(path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(result.stdout)


def selecting(catalog: dict, streams: dict[str, list[str]]) -> dict:
    """`catalog` with only `streams` selected and, in each, the listed columns deselected."""
    chosen = {"streams": []}
    for entry in catalog["streams"]:
        entry = json.loads(json.dumps(entry))
        wanted = entry["tap_stream_id"] in streams
        for item in entry["metadata"]:
            breadcrumb = item["breadcrumb"]
            if not breadcrumb:
                item["metadata"]["selected"] = wanted
            elif wanted:
                name = breadcrumb[-1]
                item["metadata"]["selected"] = name not in streams[entry["tap_stream_id"]]
        chosen["streams"].append(entry)
    return chosen


def write_catalog(catalog: dict, tmp_path: Path) -> list[str]:
    """`--catalog <file>` arguments for `run_tap(extra=...)`."""
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    return ["--catalog", str(path)]

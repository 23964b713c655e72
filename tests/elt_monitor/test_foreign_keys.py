"""Orphans of declared foreign keys, counted on files the real target wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from elt_monitor import data_rules, foreign_keys
from elt_monitor.lake import Lake
from elt_monitor.settings import MonitorSettings, SettingsError, Thresholds

TARGET = str(Path(sys.executable).parent / "target-minio-parquet")
DECLARED = [
    {
        "stream": "stripe/charges",
        "column": "metadata.order_id",
        "references": "shop/orders",
        "key": "order_id",
    }
]


def _load(lake: Path, source: str, stream: str, schema: dict, key: str, records: list) -> None:
    lines = [{"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": [key]}]
    lines += [{"type": "RECORD", "stream": stream, "record": r} for r in records]
    config = lake.parent / f"{source}.json"
    config.write_text(json.dumps({"destination": str(lake), "source_name": source}))
    subprocess.run(
        [TARGET, "--config", str(config)],
        input="\n".join(json.dumps(line) for line in lines) + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    )


ORDERS = {"type": "object", "properties": {"order_id": {"type": "integer"}}}
CHARGES = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "metadata": {"type": ["object", "null"], "additionalProperties": True},
    },
}


def test_charges_of_orders_the_shop_never_had_are_counted(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    _load(lake, "shop", "orders", ORDERS, "order_id", [{"order_id": n} for n in range(1, 11)])
    charges = [{"id": f"ch_{n}", "metadata": {"order_id": str(n)}} for n in range(1, 9)]
    charges += [{"id": "ch_x", "metadata": {"order_id": "2000000001"}}]
    charges += [{"id": "ch_y", "metadata": None}, {"id": "ch_z", "metadata": {}}]
    _load(lake, "stripe", "charges", CHARGES, "id", charges)

    settings = MonitorSettings.from_env(
        {"ELT_MONITOR_LAKE_ROOT": str(lake), "ELT_MONITOR_FOREIGN_KEYS": json.dumps(DECLARED)}
    )
    the_lake = Lake(settings)
    manifests = the_lake.read_jsonl("_meta/manifests")
    charge_run = next(m for m in manifests if m["stream"] == "charges")
    row = {"source": "stripe", "stream": "charges", "status": "success"}
    row["run_id"] = charge_run["run_id"]
    foreign_keys.for_rows(the_lake, manifests, [row], settings.foreign_keys)

    (entry,) = json.loads(row["orphans"])
    # a charge without an order reference is not an orphan: only named orders are checked
    assert (entry["checked"], entry["orphans"], entry["sample"]) == (9, 1, ["2000000001"])
    (issue,) = data_rules.orphans([entry], Thresholds())
    assert (issue.code, issue.severity) == ("ORPHAN_KEYS", "warning")  # 1 row: not critical


def test_the_orphan_share_decides_the_severity() -> None:
    def entry(checked: int, missing: int) -> dict:
        return {"column": "c", "references": "s/t.k", "checked": checked, "orphans": missing}

    limits = Thresholds()
    assert data_rules.orphans([entry(1000, 5)], limits) == []  # 0.5%: a race, not a finding
    assert [i.severity for i in data_rules.orphans([entry(100, 2)], limits)] == ["warning"]
    assert [i.severity for i in data_rules.orphans([entry(24, 5)], limits)] == ["critical"]
    assert data_rules.orphans([entry(0, 0)], limits) == []


def test_a_malformed_foreign_key_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="foreign_keys"):
        MonitorSettings.from_env(
            {"ELT_MONITOR_FOREIGN_KEYS": json.dumps([{"stream": "charges", "column": "x"}])}
        )

"""The asset graph of the code location is meltano.yml's bronze streams plus the dbt
manifest's models, connected source -> model -> mart, with elt-monitor's gate as blocking
checks; the manifest is parsed again only when the dbt project changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from elt_orchestration import dbt_manifest

from tests.conftest import REPO_ROOT

# The code location loaded as a code server loads it, in a fresh process.
GRAPH = """
import json
from dagster._core.definitions.reconstruct import ReconstructableRepository

repo = ReconstructableRepository.for_module("elt_orchestration.definitions", "defs", None)
graph = repo.get_definition().asset_graph
print(json.dumps({
    "assets": {
        key.to_user_string(): {
            "parents": sorted(p.to_user_string() for p in graph.get(key).parent_keys),
            "job": graph.get(key).assets_def.op.name if graph.get(key).is_materializable else None,
        }
        for key in graph.get_all_asset_keys()
    },
    "checks": sorted(
        [c.asset_key.to_user_string(), c.name, graph.get_check_spec(c).blocking]
        for c in graph.asset_check_keys
    ),
}))
"""


@pytest.fixture(scope="module")
def graph() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", GRAPH],
        cwd=REPO_ROOT,
        env={**os.environ, "MELTANO_PROJECT_ROOT": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def lake_streams_of_meltano_yml() -> set[str]:
    """`<namespace>/<stream>` of every extractor a lake job runs, read as plain YAML."""
    manifest = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    extractors = {p["name"]: p for p in manifest["plugins"]["extractors"]}
    streams = set()
    for job in manifest["jobs"]:
        words = {w for task in job["tasks"] for w in task.split()}
        if "target-minio-parquet" not in words:
            continue
        for name in words & set(extractors):
            extractor = extractors[name]
            namespace = extractor.get("namespace") or _locked_namespace(extractor)
            streams |= {f"{namespace}/{s.split('.')[0]}" for s in extractor["select"]}
    return streams


def _locked_namespace(extractor: dict) -> str:
    """A `variant` plugin's namespace, from its lock file (plugins/extractors/)."""
    lock = (
        REPO_ROOT / "plugins" / "extractors" / f"{extractor['name']}--{extractor['variant']}.lock"
    )
    return json.loads(lock.read_text())["namespace"]


def dbt_nodes() -> dict[str, dict]:
    manifest = json.loads(dbt_manifest.manifest_path(REPO_ROOT).read_text())
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] in ("model", "seed")
    }


def test_every_bronze_stream_of_meltano_yml_is_an_asset_of_its_job(graph) -> None:
    streams = lake_streams_of_meltano_yml()
    # 4 shop tables, 6 Stripe, 1 CRM, 4 export layouts (2 CSV, 2 JSON) + their quarantines
    assert len(streams) == 19
    bronze = {key.removeprefix("bronze/") for key in graph["assets"] if key.startswith("bronze/")}
    assert bronze == streams
    for stream in streams:
        # produced by the daily job (gated: it owns what the single-source jobs load too)
        assert graph["assets"][f"bronze/{stream}"]["job"] == "ecommerce_elt__meltano_run"
        assert [f"bronze/{stream}", "elt_monitor_gate", True] in graph["checks"]
    assert ["elt_monitor/ledger", "elt_monitor_gate", True] in graph["checks"]


def test_every_dbt_model_is_an_asset_downstream_of_its_sources(graph) -> None:
    nodes = dbt_nodes()
    assert {"stg_stripe__charges", "fct_orders", "dim_customers"} <= set(nodes)
    manifest = json.loads(dbt_manifest.manifest_path(REPO_ROOT).read_text())
    sources = manifest["sources"]
    for name, node in nodes.items():
        assert name in graph["assets"], name
        assert graph["assets"][name]["job"] == "ecommerce_elt__meltano_run"
        parents = set(graph["assets"][name]["parents"])
        for upstream in node.get("depends_on", {}).get("nodes", []):
            if upstream.startswith("source."):
                source = sources[upstream]
                lake_path = source["source_meta"].get("lake_path")
                expected = (
                    f"bronze/{lake_path.format(name=source['name'])}"
                    if lake_path
                    else "elt_monitor/ledger"
                )
            else:
                expected = upstream.split(".")[-1]
            assert expected in parents, (name, upstream)
    # the marts lead back to the bronze lake
    marts = [n for n in nodes if n.startswith(("dim_", "fct_"))]
    assert marts
    for mart in marts:
        assert any(a.startswith("bronze/") for a in ancestors(graph, mart)), mart
    assert "elt_monitor/ledger" in ancestors(graph, "rpt_ingestion_runs")


def ancestors(graph: dict, key: str) -> set[str]:
    seen: set[str] = set()
    todo = [key]
    while todo:
        for parent in graph["assets"].get(todo.pop(), {}).get("parents", []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_the_manifest_is_parsed_again_only_when_the_dbt_project_changed(tmp_path: Path) -> None:
    project = tmp_path / "transform"
    subprocess.run(["cp", "-r", str(REPO_ROOT / "transform"), str(project)], check=True, timeout=60)
    subprocess.run(["rm", "-rf", str(project / "target")], check=True)
    first = dbt_manifest.read(tmp_path)
    assert first is not None and "model.ecommerce.fct_orders" in first["nodes"]
    path = dbt_manifest.manifest_path(tmp_path)
    built = path.stat().st_mtime_ns
    dbt_manifest.read(tmp_path)
    assert path.stat().st_mtime_ns == built  # fresh: read, not parsed
    time.sleep(0.01)
    model = project / "models" / "marts" / "fct_orders.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert dbt_manifest.is_stale(project, path)
    dbt_manifest.read(tmp_path)
    assert path.stat().st_mtime_ns > built
    assert not dbt_manifest.is_stale(project, path)


def test_a_lake_job_whose_tap_selects_no_streams_is_refused(tmp_path: Path) -> None:
    from elt_orchestration.definitions import build_definitions
    from elt_orchestration.meltano_project import MeltanoProjectError

    manifest = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    for extractor in manifest["plugins"]["extractors"]:
        if extractor["name"] == "tap-legacy-crm":
            del extractor["select"]
    (tmp_path / "meltano.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    (tmp_path / "plugins").symlink_to(REPO_ROOT / "plugins")  # the own plugins' lock files
    with pytest.raises(MeltanoProjectError, match=r"extractor .tap-legacy-crm. .*no `select`"):
        build_definitions(tmp_path)

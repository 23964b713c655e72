"""The pipeline as assets: bronze streams, dbt models (dagster-dbt, from the manifest), and
elt-monitor's judgement of each stream as an asset check.

- A bronze stream (`<namespace>/<stream>` in the lake, as elt-monitor names it) is the asset
  `bronze/<namespace>/<stream>`.
- Every dbt model and seed is an asset through dagster-dbt's translator; a dbt source whose
  `meta.lake_path` names a lake folder (`tap_stripe_custom/{name}`) is that bronze stream,
  so the graph runs stream -> staging -> intermediate -> marts.
- Each bronze stream has the blocking check `elt_monitor_gate`: elt-monitor's findings on
  that stream (severity ERROR for critical, WARN for warning; metadata code and message).
- elt-monitor's run ledger (`<lake>/_meta/ledger`, which the gate records and the dbt
  source `monitor.ledger` reads) is the asset `elt_monitor/ledger`, produced by the gated
  job; its `elt_monitor_gate` check holds the findings that name no bronze stream of the
  job (an expected stream that never arrived, dbt's results) and fails when the verdict
  does. A failing gate stops `ecommerce-elt` before dbt, and the graph shows it there.

An asset has one producer in Dagster, while several Meltano jobs load the same streams
(`crm-to-lake` and `ecommerce-elt` both load the CRM's customers). The producer is the
first job in `owner_order`: jobs gated by elt-monitor, then meltano.yml's order; the dbt
models belong to the job that runs dbt-duckdb. The other jobs record their loads as
materializations of the same assets (runtime events), so every run shows up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from graphlib import TopologicalSorter
from typing import Any

from dagster import AssetCheckSeverity, AssetCheckSpec, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, build_dbt_asset_specs

from elt_orchestration.meltano_project import MeltanoJob

BRONZE = "bronze"
LEDGER_KEY = AssetKey(["elt_monitor", "ledger"])  # meta.dagster.asset_key of source monitor.ledger
GATE_CHECK = "elt_monitor_gate"
DBT_UTILITY = "dbt-duckdb"  # the dbt project's warehouse the manifest's models describe
MONITOR_UTILITY = "elt-monitor"
CRITICAL = "critical"


def bronze_key(stream: str) -> AssetKey:
    """`tap_stripe_custom/charges` -> `bronze/tap_stripe_custom/charges`."""
    return AssetKey([BRONZE, *stream.split("/")])


class LakeSourceTranslator(DagsterDbtTranslator):
    """dagster-dbt's translation, except that a source read from the lake is its bronze
    stream's asset (its `lake_path`, the same value dbt's Spark macro reads)."""

    def __init__(self) -> None:
        # dbt's tests run inside wap and are judged by elt-monitor's finish: not checks here
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=False))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props.get("resource_type") == "source":
            meta = {**dbt_resource_props.get("source_meta", {}), **dbt_resource_props["meta"]}
            if meta.get("lake_path"):
                return bronze_key(str(meta["lake_path"]).format(name=dbt_resource_props["name"]))
        return super().get_asset_key(dbt_resource_props)


def dbt_specs(manifest: Mapping[str, Any]) -> list[AssetSpec]:
    """One spec per dbt model and seed, skippable (a run that stops before dbt, at the
    gate, materializes the bronze streams only), upstream first: a multi_asset must yield
    its materializations in the graph's order."""
    specs = build_dbt_asset_specs(manifest=manifest, dagster_dbt_translator=LakeSourceTranslator())
    by_key = {spec.key: spec.replace_attributes(skippable=True) for spec in specs}
    order = TopologicalSorter(
        {
            key: [dep.asset_key for dep in spec.deps if dep.asset_key in by_key]
            for key, spec in by_key.items()
        }
    ).static_order()
    return [by_key[key] for key in order]


def bronze_spec(stream: str, meltano_job: MeltanoJob) -> AssetSpec:
    namespace, name = stream.split("/", 1)
    return AssetSpec(
        key=bronze_key(stream),
        group_name=BRONZE,
        kinds={"parquet", "meltano"},
        skippable=True,
        description=f"Stream `{name}` of {namespace}, loaded into the lake by Meltano job"
        f" `{meltano_job.name}`.",
        metadata={"lake_path": stream},
    )


def gate_check(stream: str) -> AssetCheckSpec:
    return AssetCheckSpec(
        GATE_CHECK,
        asset=bronze_key(stream),
        blocking=True,
        description="elt-monitor's findings on this stream (the gate: critical stops the job"
        " before dbt).",
    )


def ledger_spec(meltano_job: MeltanoJob) -> AssetSpec:
    return AssetSpec(
        key=LEDGER_KEY,
        group_name=BRONZE,
        kinds={"parquet"},
        skippable=True,
        description="elt-monitor's run ledger (<lake>/_meta/ledger), recorded by the gate of"
        f" Meltano job `{meltano_job.name}`.",
    )


def ledger_check() -> AssetCheckSpec:
    return AssetCheckSpec(
        GATE_CHECK,
        asset=LEDGER_KEY,
        blocking=True,
        description="elt-monitor's verdict on the run: fails when the gate (or finish) fails"
        " it; holds the findings that name no bronze stream of the job.",
    )


def owner_order(jobs: Sequence[MeltanoJob]) -> list[MeltanoJob]:
    gated = [job for job in jobs if MONITOR_UTILITY in job.plugins]
    return gated + [job for job in jobs if job not in gated]


def owned_streams(jobs: Sequence[MeltanoJob]) -> dict[str, tuple[str, ...]]:
    """Job name -> the streams whose asset it produces (each stream has one producer)."""
    owner: dict[str, str] = {}
    for job in owner_order(jobs):
        for stream in job.streams:
            owner.setdefault(stream, job.name)
    return {job.name: tuple(s for s in job.streams if owner[s] == job.name) for job in jobs}


def dbt_owner(jobs: Sequence[MeltanoJob]) -> str | None:
    return next((job.name for job in owner_order(jobs) if DBT_UTILITY in job.plugins), None)


def check_severity(findings: Sequence[Mapping[str, Any]]) -> AssetCheckSeverity | None:
    """None when the stream has no finding; else ERROR when one is critical, WARN else."""
    if not findings:
        return None
    if any(f.get("severity") == CRITICAL for f in findings):
        return AssetCheckSeverity.ERROR
    return AssetCheckSeverity.WARN


def findings_of(stream: str, findings: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [f for f in findings if f.get("stream") == stream]

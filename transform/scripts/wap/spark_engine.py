"""Spark (local session): build into a staging database, then repoint the published one.

The session's catalog lives in memory, so what users read after a run is the Parquet
under the warehouse directory, by path: `<warehouse>/<schema>.db/<mart>/`. dbt builds
into the database `<schema>__wap` (`<warehouse>/<schema>__wap.db/`); publishing moves that
directory to `<warehouse>/<schema>.versions/<run_id>/` and repoints the symbolic link
`<schema>.db` at it with one rename (a new link renamed over the old one: atomic on
POSIX), so a reader resolving `<schema>.db/...` gets the old marts or the new ones, never
a mix. The previous version is kept (a reader in the middle of a scan keeps its files);
older ones are removed. On a cluster with a metastore the same step is a view or table
location repointed (README).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wap.dbt_build import project_dir
from wap.facts import path_safe

# Spark's whole-stage code generation, adaptive plans and the JVM's optimising compiler
# cost more than they save on a small lake: measured on 2 cores, the test lake's build
# 260 s -> 114 s with them off, while the demo's scale-1 lake (37 MB) took 10% longer
# (148 vs 134 s). So they are off only for a local lake below SMALL_LAKE_BYTES, and only
# where the user set none of them (profiles.yml reads these variables).
# The JVM's options: its quick compiler only, on one compiler thread, without the
# performance-counter file, serial GC: the driver's CPU for the test lake's build 66-68 s ->
# 60 s with the compiler thread and counters (measured, 2 cores, quiet; with the optimising
# compiler on: 94 s).
SMALL_LAKE_BYTES = 16 * 2**20
SMALL_DATA_SETTINGS = {
    "DBT_SPARK_CODEGEN": "false",
    "DBT_SPARK_ADAPTIVE": "false",
    "DBT_SPARK_DRIVER_JAVA_OPTIONS": (
        "-Duser.timezone=UTC -XX:TieredStopAtLevel=1 -XX:CICompilerCount=1"
        " -XX:-UsePerfData -XX:+UseSerialGC"
    ),
}


def lake_bytes(lake_root: str) -> int | None:
    """Bytes of Parquet under a local lake root; None for a remote one (s3a://, ...),
    which is not listed here."""
    if not lake_root or "://" in lake_root:
        return None
    root = Path(lake_root)
    if not root.is_dir():
        return None
    return sum(path.stat().st_size for path in root.rglob("*.parquet") if path.is_file())


def small_data_settings(env: Mapping[str, str]) -> dict[str, str]:
    """SMALL_DATA_SETTINGS for a small local lake when the user chose none of them."""
    if any(env.get(name) for name in SMALL_DATA_SETTINGS):
        return {}
    size = lake_bytes(env.get("LAKE_ROOT", ""))
    return dict(SMALL_DATA_SETTINGS) if size is not None and size < SMALL_LAKE_BYTES else {}


def warehouse_dir(env: Mapping[str, str]) -> Path:
    path = Path(env.get("DBT_SPARK_WAREHOUSE_DIR") or "../output/spark-warehouse")
    return (path if path.is_absolute() else project_dir(env) / path).resolve()


@dataclass(frozen=True)
class SparkEngine:
    warehouse: Path
    schema: str
    run_id: str
    # SMALL_DATA_SETTINGS when the lake is small and the user set none of them
    small_data: Mapping[str, str]

    name = "spark"

    @classmethod
    def from_env(cls, env: Mapping[str, str], run_id: str) -> SparkEngine:
        schema = env.get("DBT_SPARK_SCHEMA") or "analytics"
        return cls(warehouse_dir(env), schema, run_id, small_data_settings(env))

    @property
    def staging_schema(self) -> str:
        return f"{self.schema}__wap"

    @property
    def staging(self) -> Path:
        return self.warehouse / f"{self.staging_schema}.db"

    @property
    def link(self) -> Path:
        return self.warehouse / f"{self.schema}.db"

    @property
    def versions(self) -> Path:
        return self.warehouse / f"{self.schema}.versions"

    @property
    def location(self) -> str:
        return str(self.link)

    def prepare(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def dbt_overrides(self) -> dict[str, str]:
        if self.small_data:
            print(
                f"wap spark: small local lake (< {SMALL_LAKE_BYTES // 2**20} MB): Spark's"
                " small-data settings " + ", ".join(f"{k}={v}" for k, v in self.small_data.items())
            )
        return {"DBT_SPARK_SCHEMA": self.staging_schema, **self.small_data}

    def dbt_vars(self) -> dict[str, object]:
        """Staging and intermediate as Parquet tables, as on the other engines: each is
        computed from bronze once, and every model and test downstream reads that one
        result. As the usual views, each test and mart re-read the bronze files and
        re-ran staging's dedupe: the sandbox's lake built in 85 s instead of 46 s, and a
        load landing mid-build reached some of them only; now every node downstream reads
        the one snapshot of each stream its staging table took."""
        return {"wap_freeze_layers": True}

    def publish(self, published_at: dt.datetime) -> None:
        self._stamp(published_at)
        self.versions.mkdir(parents=True, exist_ok=True)
        version = self.versions / path_safe(self.run_id)
        shutil.rmtree(version, ignore_errors=True)
        os.rename(self.staging, version)
        previous = self.link.resolve() if self.link.is_symlink() else None
        if self.link.exists() and not self.link.is_symlink():
            # Marts of a plain `dbt build` from before WAP: moved into the versions once;
            # `<schema>.db` is missing for the moment between this rename and the next.
            previous = self.versions / "before-wap"
            shutil.rmtree(previous, ignore_errors=True)
            os.rename(self.link, previous)
        temp = self.warehouse / f".{self.link.name}.{uuid.uuid4().hex}"
        temp.symlink_to(version.relative_to(self.warehouse), target_is_directory=True)
        os.replace(temp, self.link)
        keep = {version.resolve(), previous}
        for old in self.versions.iterdir():
            if old.resolve() not in keep:
                shutil.rmtree(old, ignore_errors=True)

    def _stamp(self, published_at: dt.datetime) -> None:
        """`marts_publication` as one Parquet table beside the marts."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table(
            {
                "run_id": pa.array([self.run_id], pa.string()),
                "published_at": pa.array([published_at], pa.timestamp("us", tz="UTC")),
            }
        )
        directory = self.staging / "marts_publication"
        directory.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, directory / "part-00000.parquet")

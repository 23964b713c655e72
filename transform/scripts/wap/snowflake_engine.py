"""Snowflake: build into `<schema>__WAP`, then `ALTER SCHEMA ... SWAP WITH` the published one.

The SQL runs through dbt (`run-operation` of transform/macros/wap.sql) with the same
profile as the build, so every way the profile authenticates works here too. Staging and
intermediate are built as tables (var `wap_freeze_layers`): a view would name the
staging schema it was created in, and after the swap that name holds the old marts.
WAP_SNOWFLAKE_EMULATE_SWAP=1 is for fakesnow, which cannot run SWAP WITH (README).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wap import PublishError
from wap.dbt_build import operation


@dataclass(frozen=True)
class SnowflakeEngine:
    database: str
    schema: str
    run_id: str
    env: Mapping[str, str] = field(repr=False)

    name = "snowflake"

    @classmethod
    def from_env(cls, env: Mapping[str, str], run_id: str) -> SnowflakeEngine:
        return cls(
            env.get("SNOWFLAKE_ANALYTICS_DATABASE") or "ECOMMERCE_ANALYTICS",
            env.get("SNOWFLAKE_ANALYTICS_SCHEMA") or "ANALYTICS",
            run_id,
            env,
        )

    @property
    def staging_schema(self) -> str:
        return f"{self.schema}__WAP"

    @property
    def location(self) -> str:
        return f"{self.database}.{self.schema}"

    @property
    def staging(self) -> str:
        return f"{self.database}.{self.staging_schema}"

    def _operation(self, macro: str, args: dict[str, object]) -> None:
        with tempfile.TemporaryDirectory(prefix="wap-dbt-") as scratch:
            code = operation(
                macro, args, self.env, self.dbt_overrides(), self.dbt_vars(), Path(scratch)
            )
        if code != 0:
            raise PublishError(f"dbt run-operation {macro} exited {code} (its output is above)")

    def prepare(self) -> None:
        """Drop what the last run left in the staging schema (the previous marts after a
        swap, or a failed build): the build starts from nothing."""
        self._operation("wap_drop_schema", {"schema": self.staging_schema})

    def dbt_overrides(self) -> dict[str, str]:
        return {"SNOWFLAKE_ANALYTICS_SCHEMA": self.staging_schema}

    def dbt_vars(self) -> dict[str, object]:
        return {"wap_freeze_layers": True}

    def publish(self, published_at: dt.datetime) -> None:
        self._operation(
            "wap_publish_schema",
            {
                "staging": self.staging_schema,
                "published": self.schema,
                "run_id": self.run_id,
                "published_at": published_at.isoformat(),
                "emulate_swap": self.env.get("WAP_SNOWFLAKE_EMULATE_SWAP") == "1",
            },
        )

"""The table's whole row count after an INCREMENTAL read, for the monitor.

A replication key sees inserts and updates, never a hard delete: a deleted row stays in
the lake (a retired product still "active" in the marts). One `count(*)` after the read
lets elt-monitor compare the source's rows with the keys the lake holds; more keys in the
lake than rows in the table means rows were deleted at the source. The count is taken
after the read, outside its snapshot: a row inserted in between makes the source look
larger (a delete can be missed that night, never invented), a row deleted in between is a
real delete. It travels as one more SDK metric line (`source_row_count`), which the
monitor reads beside the SDK's own `record_count` (elt_monitor.log_formats.METRIC).
"""

from __future__ import annotations

import json
import logging

from psycopg import sql
from singer_sdk.metrics import get_metrics_logger

SOURCE_ROW_COUNT = "source_row_count"


def metric_line(stream: str, rows: int) -> str:
    """The metric as the SDK prints its own (`METRIC: {...}` with compact JSON)."""
    point = {
        "type": "gauge",
        "metric": SOURCE_ROW_COUNT,
        "value": rows,
        "tags": {"stream": stream},
    }
    return json.dumps(point, separators=(",", ":"))


def count_and_log(connection_parameters, relation: sql.Composable, stream: str) -> int:
    """Count the relation's rows and log the metric; returns the count."""
    with connection_parameters.connect() as conn:
        (rows,) = conn.execute(sql.SQL("select count(*) from {}").format(relation)).fetchone()
    logger: logging.Logger = get_metrics_logger()
    logger.info("METRIC: %s", metric_line(stream, int(rows)))
    return int(rows)

"""Every log line format the monitor still reads, in one place.

Counts travel as data where a package can write data (the target's manifest holds what
it received and committed; the monitor's verdict is JSON). What is left is what only a
tap's log says — the Singer SDK's METRIC lines, tap-csv-marketing's per-file line, the
API taps' run report — and the line by which Meltano starts a block in its run log. Each
producer's tests import these patterns and check that the producer's real output matches
them (tests/tap_csv_marketing, tests/tap_legacy_crm, tests/tap_stripe_custom,
tests/target_minio_parquet), so changing a line breaks a test where it was changed.
"""

from __future__ import annotations

import re

# singer-sdk: `METRIC: {"type": "counter", "metric": "record_count", "value": N, ...}`,
# prefixed in Meltano's log by the plugin name
METRIC = re.compile(r"(?:\]\s+(?P<plugin>\S+)\s+)?METRIC: (?P<body>\{.*\})\s*$")
# tap-ecommerce-postgres (source_count.py): the whole table's rows after an INCREMENTAL
# read, in the same METRIC form, under this metric name
SOURCE_ROW_COUNT = "source_row_count"
# tap-csv-marketing (streams.py): one line per export file read
FILE_LINE = re.compile(
    r"(?P<file>\S+): (?P<good>\d+) good rows, (?P<bad>\d+) quarantined "
    r"\((?P<lines>\d+) data lines\)"
)
# tap-legacy-crm and tap-stripe-custom: `<Name> run report: ...`
REPORT = re.compile(r"(?P<report>\b\w+ run report: .*)$")
ERROR = re.compile(r"\[error\s*\]|\| ERROR|\bERROR\b")
# Meltano (4.4): the first line of each block in its run log
MELTANO_RUN = re.compile(r"Running job with name '(?P<job>[^']+)' and run ID '(?P<run>[^']+)'")
MELTANO_BLOCK_START = re.compile(r"^.*Running job with name", re.MULTILINE)
# target-minio-parquet (run.py RUN_STARTED_LINE): names the run id before any record;
# the monitor needs only that the id appears in the block, this checks the line exists
TARGET_RUN_STARTED = re.compile(r"target run (?P<run>\S+) started for source (?P<source>\S+)")

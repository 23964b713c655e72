"""Write, audit, publish one dbt build (the dbt-* utilities' `wap` command).

    python transform/scripts/wap_publish.py duckdb|spark|snowflake [dbt build args...]

Runs in the utility's own virtualenv; the package `wap/` beside this file does the work.
"""

import sys

from wap.cli import main

sys.exit(main())

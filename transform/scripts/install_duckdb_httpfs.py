"""Install DuckDB's httpfs extension from the `duckdb-extension-httpfs` wheel.

DuckDB normally downloads extensions on first use; this machine reaches only package
registries, so the extension comes from PyPI instead and is installed into DuckDB's
extension directory, after which DuckDB autoloads it for s3:// paths.
"""

from pathlib import Path

import duckdb
import duckdb_extension_httpfs

extension = (
    Path(duckdb_extension_httpfs.__file__).parent
    / "extensions"
    / f"v{duckdb.__version__}"
    / "httpfs.duckdb_extension"
)
duckdb.sql(f"INSTALL '{extension}'")
print(f"httpfs installed from {extension}")

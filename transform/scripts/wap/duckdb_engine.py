"""DuckDB: build a new database file beside the published one, swap it in by rename.

The build goes to `<dir>/.<name>.wap/build/<name>`: the same file name, so the
database (catalog) name dbt writes into every relation is the published one's, and the
same filesystem, so `os.replace` is one atomic rename. The path is the same for every
run (one attempt at a time holds the engine's lock; attempt.json names the run): dbt's
profile then stays the same, so dbt parses the project again only when it changed
(a path holding the run id made every build a full parse, ~3 s of each job run).
Publishing:

1. writes `marts_publication` (run_id, published_at) into the new file, checkpoints it
   and closes it (no `.wal` may be left beside it: it would not travel with the rename);
2. takes a shared lock on the published file, as DuckDB's read-only connections do: it
   fails while a read-write connection holds DuckDB's exclusive lock (that writer would
   keep writing the old file and its `.wal` by name), and it keeps new writers out until
   the rename is done; readers are not disturbed;
3. moves a left-over `<published>.wal` (a crashed writer's; no writer holds the file)
   aside, or DuckDB would replay it into the new file;
4. renames the new file over the published one and syncs the directory.

Readers that opened the old file before the rename keep reading the old file (their open
descriptor holds it until they close); every open after it sees the new one.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from wap import PublishError
from wap.dbt_build import project_dir


def published_path(env: Mapping[str, str]) -> Path:
    """DBT_DUCKDB_PATH (the utility's duckdb_path), else the profile's default."""
    path = Path(env.get("DBT_DUCKDB_PATH") or "../output/warehouse.duckdb")
    return (path if path.is_absolute() else project_dir(env) / path).resolve()


@dataclass(frozen=True)
class DuckDBEngine:
    published: Path
    run_id: str

    name = "duckdb"

    @classmethod
    def from_env(cls, env: Mapping[str, str], run_id: str) -> DuckDBEngine:
        return cls(published_path(env), run_id)

    @property
    def location(self) -> str:
        return str(self.published)

    @property
    def staging_root(self) -> Path:
        return self.published.parent / f".{self.published.name}.wap"

    @property
    def staging(self) -> Path:
        return self.staging_root / "build" / self.published.name

    def prepare(self) -> None:
        """An empty staging directory (an earlier failed build, kept to be looked at, goes)."""
        shutil.rmtree(self.staging_root, ignore_errors=True)
        self.staging.parent.mkdir(parents=True)

    def dbt_overrides(self) -> dict[str, str]:
        return {"DBT_DUCKDB_PATH": str(self.staging)}

    def dbt_vars(self) -> dict[str, object]:
        return {"wap_freeze_layers": True}

    def publish(self, published_at: dt.datetime) -> None:
        self._stamp(published_at)
        wal = wal_of(self.staging)
        if wal.exists():
            raise PublishError(f"{wal} is left after a checkpoint: the new build is not whole")
        with shared_lock(self.published):
            stale = wal_of(self.published)
            if stale.exists():
                os.replace(stale, self.staging.parent / f"stale-{stale.name}")
            os.replace(self.staging, self.published)
            fsync_dir(self.published.parent)
        shutil.rmtree(self.staging_root, ignore_errors=True)

    def _stamp(self, published_at: dt.datetime) -> None:
        with duckdb.connect(str(self.staging)) as conn:
            conn.execute(
                "create or replace table main.marts_publication as"
                " select ?::varchar as run_id, ?::timestamptz as published_at",
                [self.run_id, published_at],
            )
            conn.execute("checkpoint")


def wal_of(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


@contextmanager
def shared_lock(path: Path) -> Iterator[None]:
    """A shared POSIX record lock on `path` (the kind DuckDB's read-only connections
    take) for the block; none when the file does not exist yet (the first publication)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield
        return
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            raise PublishError(
                f"{path} is open for writing by another process (DuckDB's write lock):"
                " close that connection (or open it read_only) and run again; the"
                " published file is unchanged"
            ) from None
        yield
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

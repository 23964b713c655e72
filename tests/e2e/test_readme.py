"""The README's shell blocks, run as a new user runs them, in a fresh copy of the project.

Every ```bash block of README.md carries a mark on the line before it:
`<!-- readme-test: run NAME -->` (run here, in the order of `RUN_ORDER`) or
`<!-- readme-test: skip: why -->`. The blocks run in one terminal session: one `bash` per
block, each starting with the environment the previous block ended with (so `source
.sandbox/env` in the first block serves the later ones, as in a terminal), from an
environment that holds only the machine's own variables (PATH, HOME, locale, TLS and pip
configuration): no Meltano, plugin, sandbox or S3 variable the README does not tell the
user to set. Each line's exit code is recorded; a block stops at its first failure.

The copy holds the repository's files (tracked and new, as a clone after a commit would)
and links the suite's `.venv` instead of running `./dev.sh install` a second time (that
would repoint the suite's editable packages at the copy); everything after that, from
`elt-sandbox up` and `meltano install` on, runs as written, so each environment's lake,
ledger, state and warehouse are the ones meltano.yml gives it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import REPO_ROOT, outside_pytest_root
from tests.e2e.conftest import ledger_job_rows
from tests.e2e.install import DEV_SH_VARIABLES

README = REPO_ROOT / "README.md"
MARK = re.compile(
    r"<!-- readme-test: (?:(?P<mode>run|fails) (?P<name>[\w-]+)|skip: (?P<why>.+?)) -->"
)
RUN_ORDER = ("pipeline", "monitor", "wap", "spark", "prod")
# Lines of run blocks that are not run here, and why.
NOT_RUN = {
    "./dev.sh install": "the suite runs in the .venv it made; the copy links it",
    ".venv/bin/meltano --environment=spark invoke dbt-spark:build": (
        "a second Spark build of the same project: spark-elt's dbt-spark:wap-in-job builds it "
        "(staging as tables); a plain build, staging as views, is tests/e2e/"
        "test_change_capture_dbt.py's Spark test"
    ),
    ".venv/bin/meltano invoke dbt-snowflake:build": "needs a Snowflake account",
}
# Variables the project reads (meltano.yml, the plugins, the sandbox, the tests): a new
# user's shell has none of them until the README says to set them.
PROJECT_PREFIXES = (
    "MELTANO_",
    "TAP_",
    "TARGET_",
    "DBT_",
    "ELT_",
    "SANDBOX_",
    "SNOWFLAKE_",
    "AWS_",
    "PG",
    "LAKE_",
    "SHOP_",
    "STRIPE_",
    "CRM_",
    "MARKETING_",
    "WAREHOUSE_",
    "WAP_",
    "SETTINGS_GUARD",
    "TEST_",
    "PYTEST_",
    "PYTHONPATH",
    "VIRTUAL_ENV",
)
# ... except the machine's own TLS configuration, which boto reads under an AWS_ name
MACHINE_VARIABLES = ("AWS_CA_BUNDLE",)
# A quirk of the test machine, not of a user's shell: with it every Python process of the
# copy's fresh, uncompiled plugin venvs compiled each module it imports again, in memory
# (measured: a `meltano run` 28-30 s of CPU instead of 22-25 s). Without it Python caches
# bytecode as it does for any user; what the commands do is the same.
NOT_A_USERS_SHELL = ("PYTHONDONTWRITEBYTECODE",)


@dataclass(frozen=True)
class Block:
    """One ```bash block of the README and its mark."""

    line: int  # of the opening fence
    commands: tuple[str, ...]
    name: str | None = None
    skip_reason: str | None = None
    fails: bool = False  # `fails NAME`: documented to exit non-zero (its test says how)


def readme_blocks(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    for index, line in enumerate(lines):
        if not line.startswith("```bash"):
            continue
        end = lines.index("```", index + 1)
        mark = MARK.fullmatch(lines[index - 1].strip()) if index else None
        blocks.append(
            Block(
                line=index + 1,
                commands=tuple(lines[index + 1 : end]),
                name=mark["name"] if mark else None,
                skip_reason=mark["why"] if mark else None,
                fails=bool(mark and mark["mode"] == "fails"),
            )
        )
    return blocks


def command_of(line: str) -> str:
    """The command of a README line, without its trailing comment."""
    return re.sub(r"\s+#.*$", "", line).strip()


def test_every_shell_block_of_the_readme_is_run_or_says_why() -> None:
    blocks = readme_blocks(README.read_text())
    unmarked = [block.line for block in blocks if not (block.name or block.skip_reason)]
    assert not unmarked, f"README ```bash blocks at lines {unmarked} have no readme-test mark"
    names = [block.name for block in blocks if block.name]
    assert sorted(names) == sorted(RUN_ORDER), names
    run_lines = {command_of(line) for block in blocks if block.name for line in block.commands}
    assert set(NOT_RUN) <= run_lines, "NOT_RUN names a line the README no longer has"


@dataclass
class Terminal:
    """A user's shell in a fresh copy of the project: its environment carries over from
    block to block."""

    project: Path
    env: dict[str, str]
    exit_codes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def run(self, name: str, timeout: int = 1500) -> str:
        """Run block `name`; assert every line exited 0 (for a `fails` block: that its
        last line exited non-zero); return its output."""
        readme = (self.project / "README.md").read_text()  # the copy's, as the user reads it
        (block,) = [b for b in readme_blocks(readme) if b.name == name]
        codes_file = self.project / f".readme-{name}.codes"
        env_file = self.project / f".readme-{name}.env"
        script = [f"trap 'env -0 > {env_file}' EXIT"]
        commands = [
            command_of(line)
            for line in block.commands
            if command_of(line) and command_of(line) not in NOT_RUN
        ]
        for index, command in enumerate(commands):
            script += [
                command,
                f'rc=$?; echo "{index} $rc" >> {codes_file}; [ "$rc" -eq 0 ] || exit "$rc"',
            ]
        log = self.project / f".readme-{name}.log"
        with log.open("w") as out:
            subprocess.run(
                ["bash", "-c", "\n".join(script)],
                cwd=self.project,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
        self.env = dict(
            item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item
        )
        codes = [
            (commands[int(index)], int(rc))
            for index, rc in (row.split() for row in codes_file.read_text().splitlines())
        ]
        self.exit_codes[name] = codes
        failed = [(command, rc) for command, rc in codes if rc != 0]
        if block.fails:
            assert len(codes) == len(commands) and failed == codes[-1:], (codes, log.read_text())
        else:
            assert not failed and len(codes) == len(commands), (
                f"README block '{name}': {failed or 'stopped'}\n{log.read_text()[-6000:]}"
            )
        return log.read_text()

    def path(self, *parts: str) -> Path:
        return self.project.joinpath(*parts)


def machine_env() -> dict[str, str]:
    """What a new user's shell has before following the README: the machine's variables
    (PATH without the suite's venv, HOME, locale, TLS and pip settings), none of the
    project's, nor what `./dev.sh` exports for the suite (`DEV_SH_VARIABLES`): the
    README's `meltano install` builds its virtualenvs as the user's shell would."""
    venv_bin = str(REPO_ROOT / ".venv" / "bin")
    env = {
        key: value
        for key, value in os.environ.items()
        if key in MACHINE_VARIABLES
        or not (
            key.startswith(PROJECT_PREFIXES) or key in DEV_SH_VARIABLES or key in NOT_A_USERS_SHELL
        )
    }
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "/usr/bin:/bin").split(os.pathsep) if part != venv_bin
    )
    return env


def fresh_copy(root: Path) -> Path:
    """The repository's tracked and new files (not ignored ones: no .meltano, output or
    .sandbox), with the suite's .venv linked."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(REPO_ROOT / ".venv", target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def terminal() -> Iterator[Terminal]:
    """The copy lives outside pytest's root: its `.sandbox` PostgreSQL would crash when
    another pytest session resets that root's mode (`outside_pytest_root`)."""
    root = outside_pytest_root("elt-readme-")
    project = fresh_copy(root / "ecommerce-elt")
    try:
        yield Terminal(project, machine_env())
    finally:
        subprocess.run(
            [str(project / ".venv" / "bin" / "elt-sandbox"), "down"],
            cwd=project,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


def source_orders(env: Mapping[str, str]) -> int:
    with psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env["PGPASSWORD"],
        dbname=env["PGDATABASE"],
    ) as conn:
        return conn.execute("select count(*) from orders").fetchone()[0]


def mart_rows(warehouse: Path, mart: str = "fct_orders") -> int:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(f"select count(*) from {mart}").fetchone()[0]


def s3_keys(env: Mapping[str, str], prefix: str) -> list[str]:
    from elt_sandbox.services.s3 import s3_client

    pages = s3_client(env).get_paginator("list_objects_v2")
    return [
        item["Key"]
        for page in pages.paginate(Bucket=env["LAKE_BUCKET"], Prefix=prefix)
        for item in page.get("Contents", [])
    ]


@pytest.mark.e2e
@pytest.mark.slow
def test_the_pipeline_block_runs_dev_and_minio_each_into_its_own_lake(
    terminal: Terminal,
) -> None:
    terminal.run("pipeline")
    commands = [command for command, _ in terminal.exit_codes["pipeline"]]
    assert commands[-1].startswith(".venv/bin/elt-sandbox delete")
    env = terminal.env
    (printed,) = [
        line
        for line in terminal.path(".readme-pipeline.log").read_text().splitlines()
        if line.startswith('{"')
    ]
    orders_before_delete = source_orders(env) + len(json.loads(printed)["orders"])

    # dev: the lake in output/lake, its ledger there, its marts in output/warehouse.duckdb
    dev_lake = terminal.path("output", "lake")
    assert list(dev_lake.glob("tap_ecommerce_postgres/public-orders/**/*.parquet"))
    assert list(dev_lake.glob("tap_stripe_custom/charges/**/*.parquet"))
    dev_runs = ledger_job_rows(env, str(dev_lake))
    assert {row["environment"] for row in dev_runs} == {"dev"}, dev_runs
    assert dev_runs[-1]["status"] == "success"
    assert mart_rows(terminal.path("output", "warehouse.duckdb")) == orders_before_delete

    # minio: the lake, its ledger and verdicts on the S3 endpoint, nothing in the dev lake
    bronze = "bronze/tap_ecommerce_postgres/public-orders/"
    assert any(key.endswith(".parquet") for key in s3_keys(env, bronze))
    assert s3_keys(env, "bronze/_meta/verdicts/")
    minio_runs = ledger_job_rows(env, f"s3://{env['LAKE_BUCKET']}/bronze")
    assert {row["environment"] for row in minio_runs} == {"minio"}, minio_runs
    assert minio_runs and {row["status"] for row in minio_runs} == {"success"}
    assert mart_rows(terminal.path("output", "warehouse-minio.duckdb")) == orders_before_delete
    assert (terminal.path("output", "wap", "duckdb-minio", "publication.json")).exists()


@pytest.mark.e2e
@pytest.mark.slow
def test_the_monitor_block_reruns_the_job_and_the_marts_lose_the_deleted_orders(
    terminal: Terminal,
) -> None:
    terminal.run("monitor")
    assert mart_rows(terminal.path("output", "warehouse.duckdb")) == source_orders(terminal.env)
    dev_runs = ledger_job_rows(terminal.env, str(terminal.path("output", "lake")))
    assert [row["status"] for row in dev_runs][-1] == "success"
    assert terminal.path("output", "elt-monitor-report.html").stat().st_size > 0


@pytest.mark.e2e
@pytest.mark.slow
def test_the_wap_block_publishes(terminal: Terminal) -> None:
    terminal.run("wap")
    attempt = json.loads(terminal.path("output", "wap", "duckdb", "attempt.json").read_text())
    assert attempt["published"] is True, attempt


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.spark
def test_the_spark_block_loads_gates_and_publishes_in_its_own_lake(
    terminal: Terminal,
) -> None:
    output = terminal.run("spark", timeout=1800)
    # the sandbox's lake at --scale 0.01 is small: wap chose Spark's small-data settings
    assert "wap spark: small local lake" in output, output[-3000:]
    lake = terminal.path("output", "lake-spark")
    assert list(lake.glob("tap_ecommerce_postgres/public-orders/**/*.parquet"))
    spark_runs = ledger_job_rows(terminal.env, str(lake))
    assert {(row["environment"], row["job"]) for row in spark_runs} == {("spark", "spark-elt")}
    assert spark_runs and {row["status"] for row in spark_runs} == {"success"}
    dev_runs = ledger_job_rows(terminal.env, str(terminal.path("output", "lake")))
    assert {row["environment"] for row in dev_runs} == {"dev"}
    publication = json.loads(
        terminal.path("output", "wap", "spark", "publication.json").read_text()
    )
    assert publication["published"] is True
    marts = terminal.path("output", "spark-warehouse", "analytics.db", "fct_orders")
    with duckdb.connect() as conn:
        spark_orders = conn.execute(
            f"select count(*) from read_parquet('{marts}/**/*.parquet')"
        ).fetchone()[0]
    assert spark_orders == source_orders(terminal.env)


@pytest.mark.e2e
def test_prod_without_its_credentials_is_refused_before_any_tap_starts(
    terminal: Terminal,
) -> None:
    """prod reads production sources (Postgres with sslmode verify-full, api.stripe.com):
    not runnable here. What is testable: in the README's own shell (the sandbox's settings
    loaded, no production ones), the documented command stops at once, its first line
    naming the shop tap's missing settings, and Meltano never ran a prod pipeline."""
    output = terminal.run("prod", timeout=300)
    first = output.splitlines()[0]
    assert first.startswith("tap-ecommerce-postgres is missing required settings: "), output
    assert "SHOP_PG_HOST" in first and "SHOP_PG_PASSWORD" in first, first
    assert "api_key (set STRIPE_API_KEY" in output, output
    database = terminal.path(".meltano", "meltano.db")
    prod_runs = 0  # no system database at all (this test alone): Meltano never ran
    if database.exists():
        with sqlite3.connect(database) as conn:
            prod_runs = conn.execute(
                "select count(*) from runs where job_name like 'prod:%'"
            ).fetchone()[0]
    assert prod_runs == 0

"""Session fixtures that start the real sandbox services once and stop them at the end.

Every fixture returns the environment settings (PGHOST, AWS_ENDPOINT_URL, SANDBOX_*...)
that reach its service. Services start lazily: a test run that needs only Postgres starts
only Postgres. `TEST_SCALE` keeps data small; set `PG_TEST_DSN` to use your own server.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome, stop_pid

from tests import warm_start

# The plugin tests' tap and target processes fork from a warm interpreter
# (tests/warm_start: the same entry point in a process of its own, without the 0.4 s import)
warm_start.install()

TEST_SCALE = float(os.environ.get("TEST_SCALE", "0.01"))
REPO_ROOT = Path(__file__).resolve().parent.parent

# Parallel workers (`./dev.sh test`: 3, TEST_WORKERS=N; pytest-xdist): each worker has its own
# session, so a session fixture is built once per worker that uses it. Every module runs
# whole on one worker (its module fixtures are built once); the modules below share a
# costly session fixture and go to one worker together.
SHARED_SESSION_GROUPS = {
    # clean_run: one full `meltano run ecommerce-elt` of the dev environment, and
    # second_clean_night: its second night, through the daily Dagster job (below). In
    # this order: the modules that read the runner after one or two nights run before
    # the one that adds nights of its own.
    "e2e-clean-run": (
        "tests/e2e/test_pipeline.py",
        "tests/e2e/test_recovery.py",
        "tests/orchestration/test_runs.py",
        "tests/e2e/test_meltano_job.py",
    ),
    # engine_builds: the one Spark build (tests/transform_engines/conftest.py)
    "spark-build": (
        "tests/transform_engines/test_cross_engine.py",
        "tests/transform_engines/test_wap_spark.py",
    ),
}
GROUP_OF = {module: group for group, modules in SHARED_SESSION_GROUPS.items() for module in modules}
# The groups start longest first (Spark builds, then the full Meltano runs, then the
# other slow tests), so that no long group starts last and runs alone at the end.
FIRST_MARKS = ("spark", "e2e", "slow")
# Within those classes: seconds each group took on a worker (tests/group_seconds.json, from
# a 3-worker run; a group not in it counts 0). Regenerate it when modules move a lot; a
# stale figure only changes the order, never what runs.
GROUP_SECONDS: dict[str, float] = json.loads(
    (Path(__file__).with_name("group_seconds.json")).read_text()
)


def work_group(nodeid: str) -> str:
    """The unit one worker runs whole: the test's module or its shared group."""
    module = nodeid.split("::", 1)[0]
    return GROUP_OF.get(module, module)


def place_in_group(nodeid: str) -> int:
    """A module's place in its shared group (0 for a module of its own)."""
    module = nodeid.split("::", 1)[0]
    group = GROUP_OF.get(module)
    return SHARED_SESSION_GROUPS[group].index(module) if group else 0


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's scope scheduling, with `work_group` as the scope. (Not `--dist loadgroup`
    with `xdist_group` marks: xdist 3.8 groups by rewriting `item._nodeid`, which pytest
    9.2 no longer reads, so the marks were ignored. `_split_scope` is private: it is the
    one method xdist's own loadfile and loadgroup schedulers override, kept here alone.)

    The groups are handed out in collection order, which `pytest_collection_modifyitems`
    makes slowest first: xdist's default (`--loadscope-reorder`) re-sorts them by test
    count, which put the many-test quick modules first and the README and Spark groups
    (a few tests, minutes each) last, where one ran alone for ~10 minutes at the end.

    A worker is given its next group when its current one has one test left, not two
    (`_reschedule`, xdist's other private method here): a worker starts a test only once
    it knows the test after it, so it needs the next group's first test then; with two,
    the next group could be promised to a worker while that worker still ran a long test
    (the README's Spark block, 78 s) and wait there as the other worker ran out of work.

    With three workers or more, the last one takes its groups from the tail of the queue
    (`_assign_work_unit`, xdist's third private method here): the plugin tests, which
    spend most of their time waiting on servers, clocks and Retry-After (measured, alone:
    the Stripe tap's incremental module 28 s of wall time for 6 s of CPU), run beside the
    CPU-bound groups from the start instead of after them on a half-idle machine. On 2
    cores: 2 workers 11 min 49 s, 3 workers 11 min 24 s (the main checkout, 1,680 tests)."""
    from xdist.scheduler import LoadScopeScheduling

    class WorkGroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_group(nodeid)

        def _assign_work_unit(self, node) -> None:
            if self._takes_from_the_tail(node) and len(self.workqueue) > 1:
                scope, unit = self.workqueue.popitem(last=True)
                self.workqueue[scope] = unit
                self.workqueue.move_to_end(scope, last=False)
            super()._assign_work_unit(node)

        def _takes_from_the_tail(self, node) -> bool:
            return self.numnodes > 2 and node.gateway.id == f"gw{self.numnodes - 1}"

        def _reschedule(self, node) -> None:
            pending = self._pending_of(self.assigned_work[node])
            if self.workqueue and not node.shutting_down and pending > 1:
                return
            super()._reschedule(node)

    config.option.loadscopereorder = False  # what `--no-loadscope-reorder` sets
    return WorkGroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The modules of a shared group run in the group's order, in one process or many
    (a stable sort: each module keeps its own order). In a parallel worker, the groups
    also come in `group_order`. Every worker sorts the same collection
    alike."""
    rank: dict[str, int] = {}
    in_worker = hasattr(config, "workerinput")
    if in_worker:
        for item in items:
            marks = {mark.name for mark in item.iter_markers()}
            item_rank = next((i for i, name in enumerate(FIRST_MARKS) if name in marks), 99)
            group = work_group(item.nodeid)
            rank[group] = min(rank.get(group, 99), item_rank)
    items.sort(
        key=lambda item: (
            group_order(rank, item.nodeid) if in_worker else (0, 0.0),
            place_in_group(item.nodeid),
        )
    )


def group_order(rank: dict[str, int], nodeid: str) -> tuple[int, float]:
    """The slow classes longest group first, so that the last groups the first workers
    take are short ones (the run ended with one worker alone on a 52 s module for ~45 s);
    the plugin tests shortest first, so that the worker taking from the tail starts with
    the long ones, which mostly wait on servers and clocks."""
    group = work_group(nodeid)
    seconds = GROUP_SECONDS.get(group, 0.0)
    group_rank = rank.get(group, 99)
    return group_rank, -seconds if group_rank < 99 else seconds


@pytest.fixture(scope="session")
def sandbox_home() -> Iterator[SandboxHome]:
    """The services' home lives beside, not under, pytest's basetemp root: run as root,
    the sandbox opens every parent of its data directory to the `postgres` account, and
    each new pytest session resets `/tmp/pytest-of-<user>` to 0700, which made a second,
    concurrent session crash the first one's PostgreSQL ("pg_control: Permission denied")."""
    root = outside_pytest_root("elt-sandbox-tests-")
    home = SandboxHome(root)
    try:
        yield home
    finally:
        api.down(home)
        shutil.rmtree(root, ignore_errors=True)


def outside_pytest_root(prefix: str) -> Path:
    """A new directory for a test's own services, beside pytest's basetemp root, for the
    reason `sandbox_home` gives: another pytest session starting on the machine resets
    `/tmp/pytest-of-<user>` to 0700, and a PostgreSQL whose data lies under it then
    crashes ("pg_control: Permission denied"). The caller removes it."""
    return Path(tempfile.mkdtemp(prefix=prefix))


@pytest.fixture()
def service_dir() -> Iterator[Path]:
    """A directory outside pytest's root for a test that starts its own services."""
    root = outside_pytest_root("elt-sandbox-test-")
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _service_env(home: SandboxHome, name: str) -> dict[str, str]:
    return api.up(home, scale=TEST_SCALE, services=[name])


@pytest.fixture(scope="session")
def pg_env(sandbox_home: SandboxHome) -> dict[str, str]:
    """PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE of the seeded shop database (PGUSER
    is the admin); TAP_PG_USER, TAP_PG_PASSWORD of its least-privilege extraction role."""
    return _service_env(sandbox_home, "postgres")


@pytest.fixture(scope="session")
def s3_env(sandbox_home: SandboxHome) -> dict[str, str]:
    """AWS_ENDPOINT_URL, keys, region and LAKE_BUCKET of the S3 endpoint."""
    return _service_env(sandbox_home, "s3")


@pytest.fixture(scope="session")
def stripe_env(sandbox_home: SandboxHome) -> dict[str, str]:
    """SANDBOX_STRIPE_* settings of the sandbox Stripe API."""
    return _service_env(sandbox_home, "stripe")


@pytest.fixture(scope="session")
def crm_env(sandbox_home: SandboxHome) -> dict[str, str]:
    """SANDBOX_CRM_* settings of the legacy CRM simulator."""
    return _service_env(sandbox_home, "crm")


@pytest.fixture(scope="session")
def csv_env(sandbox_home: SandboxHome, s3_env: dict[str, str]) -> dict[str, str]:
    """SANDBOX_CSV_* settings of the marketing exports (local directory and S3 prefix)."""
    return _service_env(sandbox_home, "csv")


@pytest.fixture()
def server_factory(sandbox_home: SandboxHome) -> Iterator[Callable[..., str]]:
    """Start extra API stand-ins (`start(start_fn, *cli_flags)` -> base URL); all are
    stopped at teardown."""
    started: list[int] = []

    def start(start_fn: Callable, *args: str) -> str:
        name = f"test-server-{uuid.uuid4().hex[:6]}"
        # the shop's rows from the sandbox's cache, as `elt-sandbox up` gives its stand-ins
        # (each start generated them again: ~0.9 s of CPU at the tests' scale)
        with api.shop_cache(sandbox_home):
            pid, port = start_fn(sandbox_home, name, TEST_SCALE, args)
        started.append(pid)
        return f"http://127.0.0.1:{port}"

    yield start
    for pid in started:
        stop_pid(pid)


@pytest.fixture()
def pg_conn(pg_env: dict[str, str]):
    import psycopg

    with psycopg.connect(
        host=pg_env["PGHOST"],
        port=pg_env["PGPORT"],
        user=pg_env["PGUSER"],
        password=pg_env["PGPASSWORD"],
        dbname=pg_env["PGDATABASE"],
        autocommit=True,
    ) as conn:
        yield conn


# -- End-to-end runs of the real Meltano project, shared by tests/e2e and tests/orchestration
# (defined once, here: a session fixture imported into two conftests is two fixtures, each
# built once per worker, and each of these is a full run of the job)


@pytest.fixture(scope="session")
def all_sources_env(
    pg_env: dict[str, str],
    s3_env: dict[str, str],
    stripe_env: dict[str, str],
    crm_env: dict[str, str],
    csv_env: dict[str, str],
) -> Iterator[dict[str, str]]:
    from tests.e2e.conftest import drop_test_slots

    yield {**pg_env, **s3_env, **stripe_env, **crm_env, **csv_env}
    drop_test_slots(pg_env)


@pytest.fixture(scope="session")
def meltano_installed(tmp_path_factory) -> None:
    """The e2e plugins in the repository's .meltano/, (re)installed only when stale
    (`./dev.sh test` installs them, and DuckDB's httpfs, before pytest starts:
    tests/e2e/install.py)."""
    from tests.e2e.install import install_e2e_plugins

    install_e2e_plugins(tmp_path_factory.mktemp("meltano-install"), httpfs=False)


@pytest.fixture(scope="session")
def dev_runner(all_sources_env, meltano_installed, tmp_path_factory):
    from tests.e2e.conftest import local_lake_runner

    return local_lake_runner(all_sources_env, tmp_path_factory.mktemp("e2e-dev"))


@pytest.fixture(scope="session")
def clean_run(dev_runner):
    """`dev_runner` after one uninterrupted `meltano run ecommerce-elt`: the reference."""
    dev_runner.run("run", "ecommerce-elt")
    return dev_runner


@pytest.fixture(scope="session")
def second_clean_night(clean_run, request: pytest.FixtureRequest, tmp_path_factory):
    """One second night for the modules that need two, run as the daily schedule runs it:
    the `ecommerce_elt` Dagster job, whose op runs scripts/run_job.py (Meltano, the gate,
    dbt's write-audit-publish, the finish and the HTML report). test_pipeline checks it
    changes nothing in the marts, tests/orchestration/test_runs.py what the Dagster run
    recorded (assets, checks, metadata), test_meltano_job both nights' verdicts and
    ledger. Each full run costs ~25 s of CPU; these modules share a worker
    (`SHARED_SESSION_GROUPS`), and the tests that read `clean_run` after one night only
    run before the first test that asks for this."""
    from tests.e2e.conftest import SecondNight, mart_fingerprint
    from tests.e2e.install import project_lock
    from tests.orchestration.dagster_runs import run_daily_job

    before = mart_fingerprint(clean_run.warehouse)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with project_lock(exclusive=False):
        daily = run_daily_job(clean_run, tmp_path_factory.mktemp("dagster-daily"), capture)
    assert daily.result.success, daily.output[-5000:]
    return SecondNight(clean_run, before, daily)

"""What Dagster adds to the daily job: `ecommerce-elt` run plainly and launched through
Dagster, alternating, on one sandbox.

    .venv/bin/python bench/dagster_overhead.py [--scale 1] [--rounds 2] [--ref HEAD]

The Meltano project is a snapshot (the working tree's meltano.yml, scripts/, transform/
and plugin sources, or those of `--ref`) with its own `meltano install`, so edits made in
the checkout while the bench runs do not land between two runs. The Dagster code location
is the installed `elt_orchestration` (this checkout's).

A (plain): `python -m scripts.run_job ecommerce-elt`, the command a cron line runs and the
command the Dagster op runs; no Dagster process is alive. B (Dagster):
`python -m elt_orchestration.serve --no-sandbox` (what `./dev.sh orchestrate` starts:
webserver, daemon, code server, the project's dagster.yaml in a temporary DAGSTER_HOME) is
started, and once it serves the job, a run of `ecommerce_elt` is launched through its
GraphQL API as the UI's "Launch run" does. That run takes the path of a schedule tick's run
after the tick: queued, dequeued by the daemon under the run-queue limits, launched by the
code server into a fresh run worker process, executed there. Dagster is stopped after it.

Every run starts from nothing: its Meltano system database, `.meltano/run` and logs, lake,
dbt target and warehouse are deleted first, so each one is the same full initial load of
the same sandbox. Rounds alternate A B, B A, A B... so a shared machine's load weighs on both arms.
Per run: wall time (B: launch until the run's RUN_SUCCESS event); head, from start/launch
until `meltano run` is exec'd by run_job (seen in /proc, matched to this bench's project);
`meltano run` itself; tail, from its exit to the end; for B the Dagster events (dequeued,
worker started, step started). Dagster's fixed cost is the difference of heads plus the
difference of tails, which the noise of a shared machine barely touches; the difference of
wall times is printed too (it also holds any slowdown of the job by Dagster's own processes,
and the noise). Exit 1 when the fixed cost is 5 % of the plain job or more (issue #17).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml
from elt_sandbox import api
from elt_sandbox.runtime import SandboxHome

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
JOB, DAGSTER_JOB = "ecommerce-elt", "ecommerce_elt"
PLUGINS = [
    "tap-ecommerce-postgres",
    "tap-stripe-custom",
    "tap-legacy-crm",
    "tap-csv-marketing",
    "target-minio-parquet",
    "dbt-duckdb",
    "elt-monitor",
]
# What the job needs from the checkout (plugin sources are installed from the snapshot).
PROJECT_PATHS = ["meltano.yml", "plugins", "scripts", "transform", *PLUGINS[:5], "elt-monitor"]
SKIP = shutil.ignore_patterns(
    "__pycache__", "*.egg-info", "target", "logs", "dbt_packages", "*.duckdb", ".pytest_cache"
)
GOAL = 0.05
TICK_SCHEDULE = "bench-tick"  # added to the snapshot's meltano.yml for --tick

LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
LOCATIONS = """
{ repositoriesOrError { ... on RepositoryConnection { nodes {
    name location { name } jobs { name } } } } }
"""


@dataclass
class Run:
    arm: str  # "plain" or "dagster"
    seconds: float  # start (plain) or launch (dagster) -> the end (dagster: RUN_SUCCESS)
    to_run_job: float | None  # -> `python -m scripts.run_job` seen
    to_meltano: float | None  # -> that process exec'd `meltano run`
    meltano_end: float | None  # -> `meltano run` exited
    events: dict[str, float] = field(default_factory=dict)  # Dagster event -> s after launch
    dagster_cpu: float = 0.0  # CPU seconds of Dagster's processes during the run

    @property
    def head(self) -> float | None:
        """Before `meltano run`: Dagster's queue, run worker, op; run_job's own checks."""
        return self.to_meltano

    @property
    def tail(self) -> float | None:
        """After `meltano run` ended: the op's end, run teardown, RUN_SUCCESS."""
        return self.seconds - self.meltano_end if self.meltano_end is not None else None

    @property
    def meltano_seconds(self) -> float | None:
        if self.to_meltano is None or self.meltano_end is None:
            return None
        return self.meltano_end - self.to_meltano


class Project:
    """A snapshot of the Meltano project with its own plugin venvs; its system database,
    `.meltano/run` and logs, lake, dbt target and warehouse are reset before each run."""

    def __init__(self, root: Path, sandbox_env: dict[str, str]) -> None:
        self.root = root
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "DBT_"))},
            **sandbox_env,
            "MELTANO_PROJECT_ROOT": str(root),
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_DATABASE_URI": f"sqlite:///{root / 'output' / 'meltano.db'}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TARGET_MINIO_PARQUET_DESTINATION": str(root / "output" / "lake"),
            "DBT_DUCKDB_LAKE_ROOT": str(root / "output" / "lake"),
            "DBT_DUCKDB_DUCKDB_PATH": str(root / "output" / "warehouse.duckdb"),
            "DBT_TARGET_PATH": str(root / "output" / "dbt-target"),
            "DBT_LOG_PATH": str(root / "output" / "dbt-logs"),
            "UV_COMPILE_BYTECODE": "1",  # as ./dev.sh installs
        }

    @classmethod
    def snapshot(cls, root: Path, ref: str | None, sandbox_env: dict[str, str]) -> Project:
        root.mkdir(parents=True)
        if ref:
            archive = subprocess.run(
                ["git", "-C", str(ROOT), "archive", ref, *PROJECT_PATHS],
                check=True,
                capture_output=True,
            )
            subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
        else:
            for name in PROJECT_PATHS:
                source = ROOT / name
                if source.is_dir():
                    shutil.copytree(source, root / name, ignore=SKIP)
                else:
                    shutil.copy2(source, root / name)
        project = cls(root, sandbox_env)
        project.reset()  # output/ holds the system database
        started = time.monotonic()
        done = subprocess.run(
            [str(BIN / "meltano"), "install", *PLUGINS],
            cwd=root,
            env=project.env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"meltano install failed: {done.stderr[-3000:]}")
        print(f"meltano install in the snapshot: {time.monotonic() - started:.0f} s", flush=True)
        return project

    def use_orchestration(self, directory: Path) -> None:
        """Put another `elt_orchestration` first on the path of Dagster's processes."""
        self.env["PYTHONPATH"] = str(directory)
        probe = "import elt_orchestration; print(elt_orchestration.__file__)"
        found = subprocess.run(
            [sys.executable, "-c", probe], env=self.env, capture_output=True, text=True
        ).stdout.strip()
        if not found.startswith(str(directory)):
            raise RuntimeError(f"elt_orchestration is imported from {found}, not {directory}")
        print(f"orchestration from {directory}", flush=True)

    def schedule_once(self, at: float) -> None:
        """A daily schedule of JOB in meltano.yml whose next tick is `at` (a minute)."""
        when = datetime.fromtimestamp(at, UTC)
        path = self.root / "meltano.yml"
        manifest = yaml.safe_load(path.read_text())
        schedules = [s for s in manifest.get("schedules", []) if s["name"] != TICK_SCHEDULE]
        cron = f"{when.minute} {when.hour} * * *"
        schedules.append({"name": TICK_SCHEDULE, "interval": cron, "job": JOB})
        manifest["schedules"] = schedules
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))

    def reset(self) -> None:
        shutil.rmtree(self.root / "output", ignore_errors=True)
        for name in ("run", "logs"):
            shutil.rmtree(self.root / ".meltano" / name, ignore_errors=True)
        (self.root / "output").mkdir()


class ProcessWatch(threading.Thread):
    """First sight of `scripts.run_job` and of `meltano run` of JOB in /proc, among the
    processes whose MELTANO_PROJECT_ROOT is this bench's snapshot (not another session's)."""

    def __init__(self, project: Project, started: float) -> None:
        super().__init__(daemon=True)
        self.marker = f"MELTANO_PROJECT_ROOT={project.root}".encode()
        self.meltano_argv = [str(BIN / "meltano").encode(), b"run", JOB.encode()]
        self.started = started
        self.run_job: float | None = None
        self.meltano: float | None = None
        self.meltano_end: float | None = None
        self.pid: int | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and self.pid is None:
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    self._look_at(entry.path)
            self.stop.wait(0.05)
        while not self.stop.is_set() and self.pid is not None and _alive(self.pid):
            self.stop.wait(0.05)
        if self.pid is not None and not _alive(self.pid):
            self.meltano_end = time.monotonic() - self.started

    def _look_at(self, proc: str) -> None:
        try:
            argv = Path(proc, "cmdline").read_bytes().split(b"\0")
            is_run_job = b"scripts.run_job" in argv
            is_meltano = argv[1:4] == self.meltano_argv  # run_job exec'd it (same PID)
            if not (is_run_job or is_meltano):
                return
            if self.marker not in Path(proc, "environ").read_bytes().split(b"\0"):
                return
        except OSError:
            return
        now = time.monotonic() - self.started
        self.run_job = self.run_job or now
        if is_meltano:
            self.meltano, self.pid = now, int(Path(proc).name)


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class GroupCpu:
    """CPU seconds used by the processes of one process group since the first sample:
    Dagster's (webserver, daemon, code servers, run worker), not Meltano's, which run_job
    moves to a group of its own. A process that ends between samples loses its last one."""

    TICKS = os.sysconf("SC_CLK_TCK")

    ROLES = (  # command line -> what it is in `dagster dev`
        ("dagster._daemon", "daemon"),
        ("dagster_webserver", "webserver"),
        ("code-server", "code server"),
        ("api grpc", "code server"),
        ("spawn_main", "run worker"),
        ("execute_step", "step worker"),
    )

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self.sample()
        self.first = dict(self.last)

    def sample(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.pgid:  # pgrp; utime and stime follow at 11, 12
                pid = int(entry.name)
                self.last[pid] = int(fields[11]) + int(fields[12])
                # again each time: a process just forked still shows its parent's command
                self.roles[pid] = self._role(entry.path) or self.roles.get(pid, "?")

    def _role(self, proc: str) -> str | None:
        with contextlib.suppress(OSError):
            command = Path(proc, "cmdline").read_bytes().replace(b"\0", b" ").decode()
            return next((role for key, role in self.ROLES if key in command), "dagster dev")
        return None

    def seconds(self) -> float:
        return sum(self.by_role().values())

    def by_role(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for pid, ticks in self.last.items():
            role = self.roles.get(pid, "?")
            used[role] = used.get(role, 0.0) + (ticks - self.first.get(pid, 0)) / self.TICKS
        return used


def plain_run(project: Project, log: Path) -> Run:
    project.reset()
    started = time.monotonic()
    watch = ProcessWatch(project, started)
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.run_job", JOB],
            cwd=project.root,
            env=project.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        watch.start()
        code = process.wait()
    seconds = time.monotonic() - started
    watch.join(timeout=5)
    watch.stop.set()
    if code != 0:
        raise RuntimeError(f"run_job {JOB} exited {code}; log {log}")
    return Run("plain", seconds, watch.run_job, watch.meltano, watch.meltano_end or seconds)


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


class Dagster:
    """`python -m elt_orchestration.serve --no-sandbox` on a free port, in its own process
    group, with a DAGSTER_HOME kept across rounds (run history, as in production)."""

    def __init__(self, project: Project, home: Path, log: Path, tick_at: float | None) -> None:
        self.tick_at = tick_at
        if tick_at is not None:
            project.schedule_once(tick_at)  # in meltano.yml before the code location loads
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.home = home
        self.project = project
        self.log = log
        command = [sys.executable, "-m", "elt_orchestration.serve", "--no-sandbox"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "--port", str(port)],
                cwd=project.root,
                env={**project.env, "DAGSTER_HOME": str(home)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def __enter__(self) -> Dagster:
        try:
            self.selector = self._wait_for_job(deadline=time.monotonic() + 300)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_for_job(self, deadline: float) -> dict[str, str]:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster exited: {self.log.read_text()[-3000:]}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                nodes = graphql(self.url, LOCATIONS)["data"]["repositoriesOrError"].get("nodes")
                for repo in nodes or []:
                    if DAGSTER_JOB in {job["name"] for job in repo["jobs"]}:
                        return {
                            "repositoryLocationName": repo["location"]["name"],
                            "repositoryName": repo["name"],
                            "jobName": DAGSTER_JOB,
                        }
            time.sleep(1)
        raise RuntimeError(f"no {DAGSTER_JOB} in Dagster: {self.log.read_text()[-3000:]}")

    def run(self) -> Run:
        """One run: fired by the schedule's tick (`tick_at`), else launched like the UI's
        "Launch run"; times count from the tick or the launch."""
        from dagster import DagsterInstance, DagsterRunStatus

        self.project.reset()
        with DagsterInstance.from_config(str(self.home)) as instance:
            if self.tick_at is None:
                started, wall_started = time.monotonic(), time.time()
                watch = ProcessWatch(self.project, started)
                watch.start()
                run_id = self._launch()
            else:
                wall_started = self.tick_at
                started = time.monotonic() + (self.tick_at - time.time())
                if started < time.monotonic() + 5:
                    raise RuntimeError("Dagster was ready too late for the tick: raise --tick-lead")
                watch = ProcessWatch(self.project, started)
                watch.start()
                run_id = self._run_of_tick(instance)
            cpu = GroupCpu(self.process.pid)
            while (run := instance.get_run_by_id(run_id)) is None or not run.is_finished:
                cpu.sample()
                time.sleep(0.5)
            cpu.sample()
            watch.join(timeout=5)
            watch.stop.set()
            if run.status != DagsterRunStatus.SUCCESS:
                raise RuntimeError(f"dagster run {run_id} ended {run.status}; see {self.home}")
            events: dict[str, float] = {}
            for entry in instance.all_logs(run_id):
                if entry.dagster_event is not None:
                    name = entry.dagster_event.event_type.name
                    events.setdefault(name, entry.timestamp - wall_started)
        seconds = events["RUN_SUCCESS"]
        run = Run("dagster", seconds, watch.run_job, watch.meltano, watch.meltano_end, events)
        run.dagster_cpu = cpu.seconds()
        roles = ", ".join(f"{role} {used:.1f}" for role, used in sorted(cpu.by_role().items()))
        print(f"  Dagster CPU-s during the run: {roles}", flush=True)
        return run

    def _launch(self) -> str:
        answer = graphql(self.url, LAUNCH, {"params": {"selector": self.selector}})
        launched = answer["data"]["launchRun"]
        if launched["__typename"] != "LaunchRunSuccess":
            raise RuntimeError(f"launchRun: {launched}")
        return launched["run"]["runId"]

    def _run_of_tick(self, instance) -> str:
        """The run the daemon's scheduler created for the tick."""
        from dagster import RunsFilter

        tags = {"dagster/schedule_name": TICK_SCHEDULE.replace("-", "_")}
        assert self.tick_at is not None
        while time.time() < self.tick_at + 120:
            for run in instance.get_runs(filters=RunsFilter(tags=tags), limit=5):
                if run.tags.get(".dagster/scheduled_execution_time", "").startswith(
                    datetime.fromtimestamp(self.tick_at, UTC).strftime("%Y-%m-%dT%H:%M")
                ):
                    return run.run_id
            time.sleep(0.2)
        raise RuntimeError(f"no run for the tick at {self.tick_at}; see {self.log}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)  # dagster dev stops webserver and daemon
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its group, nothing else


def next_minute(after: float) -> float:
    return after - after % 60 + 60


def fmt(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


def mean(values: list[float | None]) -> float:
    known = [v for v in values if v is not None]
    return statistics.mean(known) if known else float("nan")


def report(runs: list[Run]) -> float:
    """Print every run and the comparison; return the fixed overhead's share of the job."""
    shown = ("RUN_ENQUEUED", "RUN_STARTING", "RUN_START", "STEP_START", "RUN_SUCCESS")
    print(
        f"\n{'run':<9}{'wall s':>8}{'head':>7}{'meltano':>9}{'tail':>7}   Dagster events (s after launch)"
    )
    for run in runs:
        events = " ".join(f"{k.lower()} {run.events[k]:.1f}" for k in shown if k in run.events)
        print(
            f"{run.arm:<9}{run.seconds:>8.1f}{fmt(run.head):>7}{fmt(run.meltano_seconds):>9}{fmt(run.tail):>7}   {events}"
        )
    by_arm = {arm: [r for r in runs if r.arm == arm] for arm in ("plain", "dagster")}
    plain, dagster = by_arm["plain"], by_arm["dagster"]
    base = mean([r.seconds for r in plain])
    added = mean([r.seconds for r in dagster]) - base
    head = mean([r.head for r in dagster]) - mean([r.head for r in plain])
    tail = mean([r.tail for r in dagster]) - mean([r.tail for r in plain])
    inside = mean([r.meltano_seconds for r in dagster]) - mean([r.meltano_seconds for r in plain])
    fixed = head + tail
    print(f"\nplain run_job: mean {base:.1f} s ({', '.join(f'{r.seconds:.1f}' for r in plain)})")
    print(
        f"through Dagster: mean {base + added:.1f} s ({', '.join(f'{r.seconds:.1f}' for r in dagster)})"
    )
    print(
        f"wall time Dagster adds: {added:+.1f} s = {100 * added / base:+.1f} % (noise of a shared machine included)"
    )
    print(
        f"fixed cost Dagster adds: {fixed:.1f} s = {100 * fixed / base:.1f} % of the plain job"
        f" (before `meltano run` {head:+.1f} s: launch -> meltano exec'd {mean([r.head for r in dagster]):.1f} s"
        f" vs {mean([r.head for r in plain]):.1f} s plain; after it {tail:+.1f} s); goal < {100 * GOAL:.0f} %"
    )
    print(f"`meltano run` itself: {inside:+.1f} s under Dagster (its processes' CPU, and noise)")
    print(
        f"Dagster's processes used {mean([r.dagster_cpu for r in dagster]):.1f} CPU-s per run (2 cores shared with the job)"
    )
    return fixed / base


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="sandbox scale (default 1)")
    parser.add_argument("--rounds", type=int, default=2, help="A/B pairs (default 2)")
    parser.add_argument("--ref", help="git ref of the Meltano project (default: working tree)")
    parser.add_argument(
        "--sandbox-home", type=Path, default=ROOT / ".sandbox-bench", help="sandbox to use"
    )
    parser.add_argument(
        "--orchestration",
        type=Path,
        help="an orchestration/ directory to measure instead of the installed one"
        " (e.g. `git archive <ref> orchestration | tar -x -C /tmp/base`)",
    )
    parser.add_argument(
        "--launch",
        action="store_true",
        help="launch the Dagster runs like the UI's Launch button instead of by a schedule tick",
    )
    parser.add_argument(
        "--tick-lead",
        type=float,
        default=90,
        help="seconds from starting Dagster to the tick, at least (default 90)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args()
    home = SandboxHome(args.sandbox_home.resolve())
    was_running = api.status(home).get("postgres", "").startswith("running")
    print(f"sandbox at scale {args.scale} in {home.root}", flush=True)
    sandbox_env = api.up(home, scale=args.scale)
    scratch = Path(tempfile.mkdtemp(prefix="bench-dagster-"))
    runs: list[Run] = []
    try:
        project = Project.snapshot(scratch / "project", args.ref, sandbox_env)
        if args.orchestration:
            project.use_orchestration(args.orchestration.resolve())
        for round_ in range(1, args.rounds + 1):
            # A B, B A, A B...: a load that rises or falls over the bench weighs on both.
            arms = ("plain", "dagster") if round_ % 2 else ("dagster", "plain")
            for arm in arms:
                if arm == "plain":
                    runs.append(plain_run(project, scratch / f"plain-{round_}.log"))
                else:
                    home, log = scratch / "dagster-home", scratch / "dagster.log"
                    tick = None if args.launch else next_minute(time.time() + args.tick_lead)
                    with Dagster(project, home, log, tick) as dagster:
                        runs.append(dagster.run())
                print(f"round {round_} {arm}: {runs[-1].seconds:.1f} s", flush=True)
    finally:
        if not was_running:  # leave a shared machine as we found it
            api.down(home)
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    share = report(runs)
    return 0 if share < GOAL else 1


if __name__ == "__main__":
    raise SystemExit(main())

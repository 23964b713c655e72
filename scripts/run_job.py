"""Run a Meltano job or schedule so that a killed run never blocks the next one.

After a SIGKILL, Meltano leaves the run's rows in its system database in the RUNNING
state, and `meltano run` refuses to start the same pipeline until the row's heartbeat is
5 minutes old ("Another ... pipeline is already running ... use --force"). `--force`
would also start over a run that is really alive. This entry point is what schedulers
call instead:

    .venv/bin/python -m scripts.run_job daily-ecommerce-elt     # a schedule or a job name

0. It checks the settings every plugin of the job requires (`scripts.check_config`) and
   stops with one line naming the missing ones before any tap starts.
1. It tags every run it starts with its own process group (Meltano's `trigger` column:
   `run_job:<host>:<boot id>:<pgid>:<start time>`).
2. Before starting, it marks as failed the RUNNING rows that carry such a tag and whose
   process group no longer exists on this host: the run is dead, so nothing can still
   write its state or its files. Rows of live runs, of runs on other hosts and of runs
   started some other way are left alone, and Meltano's own check still refuses to start
   over them.
3. It then runs `meltano run <job>` in its own process group (signals to the wrapper are
   passed on) with `ELT_RUN_ID` (one id for every process of the run) and
   `ELT_MONITOR_JOB` (the ledger's job name: this job, whatever the utility's default),
   and exits with Meltano's exit code. No `--force`.
4. A job that judges itself with elt-monitor gets exactly one alert per run, whatever
   happened: when `meltano run` failed before the job's own last check (a load failed;
   a failed dbt build does not stop the job before `finish`, see `wap-in-job`), it runs
   `elt-monitor finish`, which records what the loads left, judges it with dbt's results
   and the marts' publication, and sends the alert unless the gate already sent this
   run's. The stages' verdicts are written to `ELT_VERDICT_FILE` (a file of this run when
   the caller names none), which says whether the job's own `finish` already ran.
5. A job that judges itself then writes elt-monitor's HTML report (`elt-monitor report`,
   to its `report_path`), whatever the run's outcome. A report that fails is one warning
   line: the exit code stays Meltano's, so the run's verdict is never hidden by it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from elt_project.meltano_yml import read

from scripts import check_config

PREFIX = "run_job"
MONITOR = "elt-monitor"
RUN_ID_ENV = "ELT_RUN_ID"  # elt_monitor.ledger.RUN_ID_ENV
VERDICT_FILE_ENV = "ELT_VERDICT_FILE"  # elt_monitor.cli.VERDICT_FILE_ENV
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class RunOwner:
    """The process group that started a run, as recorded in the run's trigger."""

    host: str
    boot_id: str
    pgid: int
    start_ticks: int

    def as_trigger(self) -> str:
        return f"{PREFIX}:{self.host}:{self.boot_id}:{self.pgid}:{self.start_ticks}"

    @classmethod
    def from_trigger(cls, trigger: str | None) -> RunOwner | None:
        parts = (trigger or "").split(":")
        if len(parts) != 5 or parts[0] != PREFIX:
            return None
        try:
            return cls(parts[1], parts[2], int(parts[3]), int(parts[4]))
        except ValueError:
            return None


def boot_id() -> str:
    return BOOT_ID.read_text().strip() if BOOT_ID.exists() else "unknown"


def start_ticks(pid: int) -> int | None:
    """Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22):
    with the PID it names one process, even after the PID is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it follow its ')'.
    return int(stat.rsplit(")", 1)[1].split()[19])


def current_owner() -> RunOwner:
    pid = os.getpid()
    return RunOwner(socket.gethostname(), boot_id(), os.getpgid(0), start_ticks(pid) or 0)


def is_gone(owner: RunOwner) -> bool:
    """True only when the owner's process group certainly no longer exists here."""
    if owner.host != socket.gethostname():
        return False  # another machine's run: we cannot see its processes
    if owner.boot_id != boot_id():
        return True  # this machine rebooted since: every process of that run is gone
    try:
        os.killpg(owner.pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # Some process is in a group with that number. If its leader is a different process
    # (PID reused), the original group had emptied first: that run is gone.
    leader_start = start_ticks(owner.pgid)
    return leader_start is not None and leader_start != owner.start_ticks


def fail_dead_runs(project_root: Path) -> list[str]:
    """Mark RUNNING rows of this wrapper's dead runs as failed; return their state IDs."""
    from meltano.core.job import Job, State
    from meltano.core.project import Project
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.orm import Session

    # Meltano's own setting resolution (MELTANO_DATABASE_URI, .env, meltano.yml), but a
    # fresh engine: Meltano caches engines per project root.
    database_uri = Project(project_root).settings.get("database_uri")
    engine = create_engine(database_uri)
    failed: list[str] = []
    try:
        if not inspect(engine).has_table(Job.__tablename__):
            return failed  # a new system database: nothing ran yet
        with Session(engine) as session:
            for job in session.query(Job).filter(Job.state == State.RUNNING).all():
                owner = RunOwner.from_trigger(job.trigger)
                if owner is None or not is_gone(owner):
                    continue
                job.fail(error=f"Its process group {owner.pgid} is gone: killed (run_job).")
                job.save(session)
                failed.append(job.job_name)
    finally:
        engine.dispose()
    return failed


def job_for(name: str, project_root: Path) -> str:
    """A schedule name resolves to its job (schedules of `include_paths` files too);
    anything else is passed to `meltano run`."""
    schedule = read(project_root).schedule(name)
    return schedule.job if schedule and schedule.job else name


def project_root() -> Path:
    return Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()).resolve()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0].startswith("-"):
        print(
            "usage: python -m scripts.run_job <schedule|job> [meltano run options]", file=sys.stderr
        )
        return 2
    root = project_root()
    job = job_for(args[0], root)
    # Settings first: a plugin that cannot run must fail before any tap starts.
    errors = check_config.check([job], root)
    for line in errors:
        print(line, file=sys.stderr)
    if errors:
        return 1
    for state_id in fail_dead_runs(root):
        print(f"run_job: marked the killed run of {state_id} as failed", file=sys.stderr)
    # Lead our own process group, so that the group is this run (Meltano, taps, targets).
    if os.getpgid(0) != os.getpid():
        os.setpgid(0, 0)
    env = {
        **os.environ,
        "MELTANO_JOB_TRIGGER": current_owner().as_trigger(),
        RUN_ID_ENV: os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex,
        "ELT_MONITOR_JOB": os.environ.get("ELT_MONITOR_JOB") or job,
    }
    # each elt-monitor stage writes its verdict here too (the orchestrator names its own)
    own_verdict_file = VERDICT_FILE_ENV not in env
    verdict_file = Path(
        env.setdefault(
            VERDICT_FILE_ENV, str(Path(tempfile.gettempdir()) / f"elt-verdict-{env[RUN_ID_ENV]}")
        )
    )
    meltano = str(Path(sys.executable).parent / "meltano")
    started = time.time()
    try:
        code = run_forwarding_signals([meltano, "run", job, *args[1:]], env)
        blocks = check_config.blocks_of([job], root)
        monitored = any(block.split(":")[0] == MONITOR for block in blocks)
        if code != 0 and monitored and not finished_after(verdict_file, started):
            finish(job, args, blocks, meltano, env, code)
        if monitored:
            write_report(meltano, ["--no-install"] if "--no-install" in args else [], env)
    finally:
        if own_verdict_file:
            verdict_file.unlink(missing_ok=True)
    return code


def finished_after(verdict_file: Path, started: float) -> bool:
    """The job's own `elt-monitor finish` ran in this run (and failed it): its verdict is
    the run's, judged and alerted; judging again would add nothing."""
    try:
        if verdict_file.stat().st_mtime < started:
            return False
        return json.loads(verdict_file.read_text()).get("stage") == "finish"
    except (OSError, ValueError, AttributeError):
        return False


def finish(
    job: str, args: list[str], blocks: list[str], meltano: str, env: dict[str, str], code: int
) -> None:
    """The job ended before its own last check (a load failed): judge what it left and
    send its one alert."""
    install = ["--no-install"] if "--no-install" in args else []
    no_dbt = [] if any(block.startswith("dbt-") for block in blocks) else ["--no-dbt"]
    print(f"run_job: meltano run {job} exited {code}: elt-monitor finish", file=sys.stderr)
    run_forwarding_signals([meltano, "invoke", *install, MONITOR, "finish", *no_dbt], env)


def write_report(meltano: str, install: list[str], env: dict[str, str]) -> None:
    """elt-monitor's HTML report of the run just judged; a failure is reported, not raised:
    the run's exit code is its verdict's."""
    report = run_forwarding_signals([meltano, "invoke", *install, MONITOR, "report"], env)
    if report != 0:
        print(
            f"run_job: warning: `meltano invoke {MONITOR} report` exited {report}:"
            " the HTML report was not written (the run's result stands)",
            file=sys.stderr,
        )


def run_forwarding_signals(argv: list[str], env: dict[str, str]) -> int:
    """Run a child in this process group. SIGINT (Ctrl-C, or the orchestrator's stop, sent
    to the whole group) reaches the child directly, so the wrapper ignores it rather than
    sending a second one (Meltano would take that as "stop now"); SIGTERM, which a
    scheduler may send to the wrapper's PID alone, is passed on."""
    child = subprocess.Popen(argv, env=env)
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
        signal.SIGTERM: signal.signal(signal.SIGTERM, lambda num, _: child.send_signal(num)),
    }
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    raise SystemExit(main())

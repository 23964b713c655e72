"""`./dev.sh orchestrate`: the Dagster webserver and daemon on 127.0.0.1, against the sandbox.

    .venv/bin/python -m elt_orchestration.serve [--port 3000] [--scale 0.1] [--no-sandbox]

1. starts the sandbox (`elt-sandbox up`; services already up are reused) unless
   `--no-sandbox`, and puts its settings in the environment of every run;
2. makes `$DAGSTER_HOME` (default `output/dagster`, kept between starts: run history,
   schedule ticks) and writes the project's instance settings into it (`dagster.yaml`:
   one run at a time per Meltano job and per tap/utility, run monitoring and retries);
3. runs `dagster dev` (webserver + daemon) on 127.0.0.1 only, in its own process group:
   the daemon fires the schedules, the UI shows them with their next ticks and launches
   runs.

Stopping (SIGTERM or Ctrl-C to the group, or SIGTERM to this process): `dagster dev` and
its processes stop on their own, a running op first stopping its Meltano job (SIGINT,
SIGKILL after 8 s, process.py). Whatever of the group is still alive after
STOP_DEADLINE_SECONDS is killed, so the whole group is gone within ~12 s even on a loaded
machine (measured there: dagster dev's own shutdown took 11-19 s with a run in progress,
its code server last).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml

HOST = "127.0.0.1"
# after the stop signal: dagster dev's own shutdown, then SIGKILL to what is left of it
STOP_DEADLINE_SECONDS = 10


def dagster_home(root: Path) -> Path:
    """`$DAGSTER_HOME`, else `output/dagster` (git-ignored, beside the demo's outputs),
    with the instance settings generated from meltano.yml."""
    from elt_orchestration import meltano_project
    from elt_orchestration.run_policy import instance_settings

    home = Path(os.environ.get("DAGSTER_HOME") or root / "output" / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    settings = instance_settings(meltano_project.load(root))
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    return home


def sandbox_env(scale: float) -> dict[str, str]:
    from elt_sandbox import api
    from elt_sandbox.runtime import SandboxHome

    return api.up(SandboxHome.default(), scale=scale)


def dagster_dev_command(port: int) -> list[str]:
    dagster = str(Path(sys.executable).parent / "dagster")
    return [dagster, "dev", "-h", HOST, "-p", str(port), "-m", "elt_orchestration.definitions"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orchestrate", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=3000, help="webserver port (default 3000)")
    parser.add_argument("--scale", type=float, default=0.1, help="sandbox scale (default 0.1)")
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="do not start the sandbox: runs take their settings from this environment",
    )
    args = parser.parse_args(argv)
    root = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path.cwd()).resolve()
    env = dict(os.environ)
    if not args.no_sandbox:
        print(f"orchestrate: starting the sandbox at scale {args.scale}", file=sys.stderr)
        env.update(sandbox_env(args.scale))
    env["MELTANO_PROJECT_ROOT"] = str(root)
    env["DAGSTER_HOME"] = str(dagster_home(root))
    home = env["DAGSTER_HOME"]
    print(f"orchestrate: UI on http://{HOST}:{args.port} (DAGSTER_HOME={home})", file=sys.stderr)
    return supervise(dagster_dev_command(args.port), root, env)


def supervise(command: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Run `dagster dev` in this process's group and stop it within the deadline."""
    if os.getpgid(0) != os.getpid():
        os.setpgid(0, 0)  # one group: dagster dev, its webserver, daemon and code server
    child = subprocess.Popen(command, cwd=cwd, env=env)
    stopping = threading.Event()

    def stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            # SIGTERM to this process alone is passed on; a group signal reached it already
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None:
        if stopping.wait(0.5):
            break
    try:
        return child.wait(timeout=STOP_DEADLINE_SECONDS)
    except subprocess.TimeoutExpired:
        print(
            f"orchestrate: dagster dev did not stop in {STOP_DEADLINE_SECONDS} s: killing"
            " what is left of it",
            file=sys.stderr,
        )
        return 128 + signal.SIGKILL
    finally:
        kill_group_but_me()


def kill_group_but_me() -> None:
    """SIGKILL every other process of this process group (the code server and a run worker
    that outlived dagster dev). A run's Meltano is in run_job's own group, stopped by its op."""
    me, group = os.getpid(), os.getpgid(0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) == group:
                os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read


if __name__ == "__main__":
    raise SystemExit(main())

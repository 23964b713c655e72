"""`./dev.sh orchestrate`: the Dagster webserver and daemon on 127.0.0.1, against the sandbox.

    .venv/bin/python -m elt_orchestration.serve [--port 3000] [--scale 0.1] [--no-sandbox]

1. starts the sandbox (`elt-sandbox up`; services already up are reused) unless
   `--no-sandbox`, and puts its settings in the environment of every run;
2. makes `$DAGSTER_HOME` (default `output/dagster`, kept between starts: run history,
   schedule ticks) and writes the project's instance settings into it (`dagster.yaml`:
   one run at a time per Meltano job and per tap/utility, run monitoring and retries);
3. becomes `dagster dev` (webserver + daemon, same PID) on 127.0.0.1 only: the daemon
   fires the schedules, the UI shows them with their next ticks and launches runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

HOST = "127.0.0.1"


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
    command = dagster_dev_command(args.port)
    os.chdir(root)
    os.execve(command[0], command, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())

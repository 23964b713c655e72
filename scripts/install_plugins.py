"""`meltano install` for the demo, with bytecode for what each plugin imports.

    python -m scripts.install_plugins PLUGIN [PLUGIN ...]

This machine sets PYTHONDONTWRITEBYTECODE, so a virtualenv without `.pyc` files compiles
every module it imports, in memory, at every start (singer-sdk: 0.9 s of CPU per process
instead of 0.35 s; dbt about 3 s more per command). `./dev.sh` therefore installs with
`UV_COMPILE_BYTECODE=1`, but uv then compiles every file of every virtualenv: for the
demo's seven plugins 8,716 files, 26 s of CPU (install 20 s instead of 8 s) spent while
the sandbox starts on the same two cores, most of it on modules no plugin loads (the
Stripe library's API resources, pip, the plugins' test helpers).

Here Meltano installs without compiling, then each plugin's entry module (the import line
of its console script) is imported once in its virtualenv with bytecode writing on for
that one process: exactly the modules the plugin loads get their `.pyc` (2,903 files,
11 s of CPU for the seven). A module a plugin imports later in a run is compiled in
memory as before; nothing else changes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MELTANO = str(Path(sys.executable).parent / "meltano")
# Plugins whose executable is not named after the plugin (meltano.yml `executable`).
EXECUTABLES = {"dbt-duckdb": "dbt"}
# Modules a plugin loads by name at run time, not from its console script: dbt imports its
# adapter from the profile's `type`.
LOADED_BY_NAME = {"dbt-duckdb": ("dbt.adapters.duckdb",)}
SCRIPT_IMPORT = re.compile(r"^from ([\w.]+) import ", re.MULTILINE)


def entry_modules(script: str) -> list[str]:
    """The modules a console script imports (`from tap_x.tap import TapX`)."""
    return SCRIPT_IMPORT.findall(script)


def plugin_venv(project: Path, name: str) -> Path:
    [venv] = project.glob(f".meltano/*/{name}/venv")
    return venv


def write_bytecode(venv: Path, modules: Sequence[str]) -> None:
    """Import `modules` in `venv`'s Python with bytecode writing on for that process."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)"
    subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, *modules], env=env, cwd=ROOT, check=True
    )


def compile_imported(project: Path, name: str) -> None:
    venv = plugin_venv(project, name)
    script = (venv / "bin" / EXECUTABLES.get(name, name)).read_text()
    write_bytecode(venv, [*entry_modules(script), *LOADED_BY_NAME.get(name, ())])


def main(argv: Sequence[str]) -> int:
    plugins = list(argv)
    env = {**os.environ, "UV_COMPILE_BYTECODE": "0"}
    installed = subprocess.run([MELTANO, "install", *plugins], env=env, cwd=ROOT)
    if installed.returncode != 0:
        return installed.returncode
    print(f"writing bytecode for what {len(plugins)} plugins import", flush=True)
    # two at a time: one per core of the demo machine (the sandbox starts meanwhile)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda name: compile_imported(ROOT, name), plugins))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

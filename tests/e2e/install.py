"""Install the e2e plugins into the repository's `.meltano/` only when something changed.

`meltano install` deletes each plugin's `.meltano/run/<plugin>/` files, the config files
of any `meltano run` of the same project in flight. Test sessions that run at the same
time (several engineers, or `pytest` beside the demo) then fail with "File at
.meltano/run/target-minio-parquet/target.<id>.config.json was not found". So: install
only plugins whose inputs (pip_url, and the pyproject.toml of a local `-e` package)
changed since the last install, and take an exclusive lock for it, while every test's
`meltano` process holds the same lock shared.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

# Not tests.conftest's: `./dev.sh test` runs this module before pytest, without the suite
REPO_ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")

SYS_DIR = REPO_ROOT / ".meltano"
LOCK_FILE = SYS_DIR / "e2e.lock"
STAMP_FILE = SYS_DIR / "e2e-installed.json"
# Written in a plugin's venv once every module in it has its bytecode (a new venv has none)
BYTECODE_MARK = ".bytecode-written"
PLUGIN_DIRS = {"extractors", "loaders", "utilities"}

# Every plugin the e2e jobs run (ecommerce-elt's gate and finish are elt-monitor's), so
# `meltano_installed` installs each under the exclusive lock: left out, the first `meltano
# run` auto-installed it under a shared one, and two workers' runs reinstalled the same
# venv at once.
E2E_PLUGINS = [
    "tap-ecommerce-postgres",
    "tap-stripe-custom",
    "tap-legacy-crm",
    "tap-csv-marketing",
    "target-minio-parquet",
    "target-jsonl",
    "target-snowflake",
    "dbt-duckdb",
    "elt-monitor",
]

# What `./dev.sh` exports for its own children (`./dev.sh test` runs this suite). A shell
# that ran `./dev.sh install` and then works in a project of its own has none of it; a
# plugin virtualenv a test installs in a new project is run once or twice, so compiling
# every file of it (UV_COMPILE_BYTECODE) costs more than it saves.
DEV_SH_VARIABLES = ("UV_COMPILE_BYTECODE",)


def isolated_env(workdir: Path) -> dict[str, str]:
    """This process's environment without Meltano/plugin settings from the caller's shell
    nor `./dev.sh`'s own variables, with Meltano's system database in `workdir`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MELTANO_", "TAP_", "TARGET_", "DBT_"))
        and key not in DEV_SH_VARIABLES
    }
    env["MELTANO_DATABASE_URI"] = f"sqlite:///{workdir / 'meltano.db'}"
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


@contextlib.contextmanager
def project_lock(*, exclusive: bool) -> Iterator[None]:
    """Shared for `meltano run`/`invoke`, exclusive for `meltano install` (flock: released
    when the holder dies, so a killed session never leaves it held)."""
    SYS_DIR.mkdir(exist_ok=True)
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.cache
def _plugins() -> dict[str, tuple[str, dict]]:
    """meltano.yml's plugins, read once per process (pure-Python YAML: 60 ms a read, and
    each plugin's check asked three times)."""
    definitions = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())["plugins"]
    return {
        plugin["name"]: (kind, plugin)
        for kind, plugins in definitions.items()
        if kind in PLUGIN_DIRS
        for plugin in plugins
    }


def install_inputs(name: str) -> str:
    """A digest of what `meltano install` would install for one plugin."""
    kind, plugin = _plugins()[name]
    digest = hashlib.sha256(plugin.get("pip_url", "").encode())
    for part in plugin.get("pip_url", "").split():
        local = Path(part.replace("${MELTANO_PROJECT_ROOT}", str(REPO_ROOT)))
        if (local / "pyproject.toml").exists():
            digest.update((local / "pyproject.toml").read_bytes())
    return f"{kind}:{digest.hexdigest()}"


def venv_interpreter(venv: Path) -> tuple[str, str]:
    """The interpreter a virtualenv was made from: pyvenv.cfg's `home` and version."""
    settings = {}
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, equals, value = line.partition("=")
        if equals:
            settings[key.strip()] = value.strip()
    home = Path(settings.get("home", "")).resolve()
    return str(home), settings.get("version_info", settings.get("version", ""))


def this_interpreter() -> tuple[str, str]:
    """What Meltano makes a plugin's venv from: this process's base interpreter."""
    base = Path(getattr(sys, "_base_executable", sys.executable))
    version = ".".join(str(part) for part in sys.version_info[:3])
    return str(base.parent.resolve()), version


def made_by_this_interpreter(name: str) -> bool:
    """Meltano keeps a plugin's venv when its pip_url is unchanged, whatever Python made
    it: after `./dev.sh` makes .venv with another Python, the old venvs would stay."""
    venv = plugin_venv(name)
    return (venv / "pyvenv.cfg").exists() and venv_interpreter(venv) == this_interpreter()


def is_installed(name: str) -> bool:
    """Meltano's own test: the venv's python and executable exist and its fingerprint was
    written (the last step of an install, so a half-done install does not count)."""
    _, plugin = _plugins()[name]
    venv = plugin_venv(name)
    executable = venv / "bin" / plugin.get("executable", name)
    fingerprint = venv / ".meltano_plugin_fingerprint"
    return (venv / "bin" / "python").exists() and executable.exists() and fingerprint.exists()


def stale_plugins(names: list[str]) -> list[str]:
    """Plugins to (re)install: never installed, made by another Python, or their inputs
    changed. Install them with `meltano install --clean` (a new venv)."""
    stamps = json.loads(STAMP_FILE.read_text()) if STAMP_FILE.exists() else {}
    return [
        name
        for name in names
        if not is_installed(name)
        or not made_by_this_interpreter(name)
        or stamps.get(name) != install_inputs(name)
    ]


def record_installed(names: list[str]) -> None:
    stamps = json.loads(STAMP_FILE.read_text()) if STAMP_FILE.exists() else {}
    stamps.update({name: install_inputs(name) for name in names})
    STAMP_FILE.write_text(json.dumps(stamps, indent=2, sort_keys=True))


def plugin_venv(name: str) -> Path:
    kind, _ = _plugins()[name]
    return SYS_DIR / kind / name / "venv"


def venvs_without_bytecode(names: list[str]) -> list[str]:
    return [name for name in names if not (plugin_venv(name) / BYTECODE_MARK).exists()]


def compile_venvs(names: list[str]) -> None:
    """Compile every module of each plugin's venv, with the venv's own Python.

    This machine sets PYTHONDONTWRITEBYTECODE and Meltano installs with uv, which writes
    no `.pyc`: every tap, target, monitor and dbt process then compiled each module it
    imported, in memory, at every start (measured: `tap-stripe-custom --about` 0.65 s of
    CPU without, 0.29 s with; `dbt --version` 2.5 s, 1.5 s; the suite starts ~500 such
    processes). Compiling a whole venv takes about 3 s of CPU, once per install. (The
    demo compiles only what each plugin imports, scripts/install_plugins.py: a venv there
    is run a few times, here hundreds.)"""
    for name in names:
        venv = plugin_venv(name)
        # exit 1 when a file does not compile (packages ship templates of other Pythons'
        # syntax); each file that does compile has its `.pyc`
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "compileall", "-q", "-j", "0", str(venv / "lib")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        (venv / BYTECODE_MARK).touch()


def install_e2e_plugins(workdir: Path, *, httpfs: bool) -> None:
    """E2E_PLUGINS in the repository's .meltano/, (re)installed when stale, with their
    bytecode; DuckDB's httpfs for dbt-duckdb when `httpfs` or after an install (into
    DuckDB's extension directory under $HOME, which outlives the venvs); Meltano's system
    database in `workdir`."""
    env = {**isolated_env(workdir), "MELTANO_ENVIRONMENT": "dev"}

    def meltano(*args: str) -> None:
        result = subprocess.run(
            [MELTANO, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1200
        )
        if result.returncode != 0:
            raise RuntimeError(f"meltano {' '.join(args)} failed:\n{result.stderr[-6000:]}")

    with project_lock(exclusive=True):
        stale = stale_plugins(E2E_PLUGINS)
        if stale:
            # --clean: a new venv (Meltano reuses one made by another Python as it is)
            meltano("install", "--clean", *stale)
        if httpfs or stale:
            meltano("invoke", "dbt-duckdb:install-httpfs")
        record_installed(stale)
        compile_venvs(venvs_without_bytecode(E2E_PLUGINS))


if __name__ == "__main__":
    # `./dev.sh test`: the suite's plugin venvs, installed before pytest starts (setup,
    # like .venv itself); the session fixture `meltano_installed` then finds them fresh
    with tempfile.TemporaryDirectory(prefix="meltano-install-") as directory:
        install_e2e_plugins(Path(directory), httpfs=True)

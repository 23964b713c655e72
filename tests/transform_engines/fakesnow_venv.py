"""fakesnow's own virtualenv, made once and kept while its requirements stay the same.

fakesnow needs duckdb 2.x and the project pins 1.5.5, so its server runs from a venv of
its own. Made by each module that starts a server (three a run), it cost ~4.7 s of CPU
each time (a uv install that compiles 335 MB of packages) inside the timed run. Now
`./dev.sh test` makes it before pytest starts, as it makes `.venv` and the e2e plugin
venvs (`python -m tests.transform_engines.fakesnow_venv`), and the server fixture calls
the same function, which does nothing while the venv matches its requirements file and
this interpreter. Every module still starts a server of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

# Not tests.conftest's: `./dev.sh test` runs this module before pytest, without the suite
REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("fakesnow-requirements.txt")
VENV = REPO_ROOT / ".venv-fakesnow"
LOCK_FILE = REPO_ROOT / ".venv-fakesnow.lock"
# What the venv was made from; written last, so a half-made venv is made again
STAMP = VENV / ".made-from"
UV = str(Path(sys.executable).parent / "uv")


def made_from() -> str:
    """The requirements and the interpreter the venv is made with."""
    recipe = f"{REQUIREMENTS.read_text()}\0{sys.base_prefix}\0{sys.version}"
    return hashlib.sha256(recipe.encode()).hexdigest()


def fakesnow_executable() -> Path:
    """The `fakesnow` command of an up-to-date venv (made here when missing or stale; an
    exclusive lock keeps parallel test workers from making it twice at once)."""
    with LOCK_FILE.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (STAMP.exists() and STAMP.read_text() == made_from()):
                make_venv()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return VENV / "bin" / "fakesnow"


def make_venv() -> None:
    python = str(VENV / "bin" / "python")
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([UV, "venv", "-q", "--python", sys.executable, str(VENV)], check=True)
    subprocess.run(
        # compiled once here: each server start imports sqlglot, duckdb and the connector,
        # and PYTHONDONTWRITEBYTECODE (as on CI) would have them compiled at every start
        [UV, "pip", "install", "-q", "--compile-bytecode", "--python", python, "-r", REQUIREMENTS],
        check=True,
        timeout=600,
    )
    STAMP.write_text(made_from())


if __name__ == "__main__":
    fakesnow_executable()

"""Run a tap with its stdout patched, and check how its Singer output reaches the pipe:
shared by the tests of every tap that writes through singer_output.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

# stdout over a raw writer that logs the size of every write it gets (what the reader on
# the pipe receives as one piece), to stderr at exit
COUNTED_STDOUT = """
import atexit, io, json

class Counted(io.RawIOBase):
    def __init__(self, fd):
        self.fd, self.sizes = fd, []
    def writable(self):
        return True
    def write(self, data):
        self.sizes.append(len(data))
        return io.FileIO(self.fd, "w", closefd=False).write(data)

raw = Counted(sys.stdout.fileno())
sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8")
atexit.register(lambda: sys.stderr.write("WRITES " + json.dumps(raw.sizes) + "\\n"))
"""


def tap_script(module: str, tap_class: str, executable: str, setup: str = "") -> str:
    """A script that runs the tap's CLI after `setup` (lines that patch the tap or
    stdout; `sys` and the tap class are imported)."""
    return (
        f"import sys\nfrom {module} import {tap_class}\n{setup}\n"
        f"sys.argv[0] = {executable!r}\n{tap_class}.cli()\n"
    )


def sdk_writer(tap_class: str) -> str:
    """`setup` lines giving the tap the SDK's writer (simplejson, a flushed line each)."""
    return (
        "from singer_sdk.singerlib.encoding import SimpleSingerWriter\n"
        f"{tap_class}.message_writer_class = SimpleSingerWriter\n"
    )


def counted_tap(module: str, tap_class: str, executable: str) -> str:
    return tap_script(module, tap_class, executable, COUNTED_STDOUT)


def run_script(
    name: str, script: str, config: dict, tmp_path: Path, *extra: str
) -> subprocess.CompletedProcess:
    """A Python script that runs a tap, with `--config` and `extra` arguments; it must
    exit 0."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(script))
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, str(path), "--config", str(config_file), *extra],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def assert_written_in_blocks(result: subprocess.CompletedProcess, min_records: int) -> None:
    """Few writes for many records (the reader, Meltano, wakes once per write), and a
    message that is not a RECORD (STATE, SCHEMA) is never held back: it always ends the
    write that carries it. `result` is a run of `counted_tap`."""
    sizes = json.loads(result.stderr.rsplit("WRITES ", 1)[1].splitlines()[0])
    lines = result.stdout.encode().splitlines(keepends=True)
    records = sum(json.loads(line)["type"] == "RECORD" for line in lines)
    assert records > min_records
    assert len(sizes) < records / 10, f"{len(sizes)} writes for {records} records"
    ends, position = set(), 0
    for size in sizes:
        position += size
        ends.add(position)
    position = 0
    for line in lines:
        position += len(line)
        if json.loads(line)["type"] != "RECORD":
            assert position in ends, f"held back after its write: {line[:80]!r}"

"""The tests' tap, target, dbt and Meltano processes, forked from a warm interpreter.

Why: the plugin tests start the taps, the target and elt-monitor ~600 times, and each
start spent ~0.4 s of CPU importing singer-sdk, pyarrow and the plugin before reading its
first line (about a sixth of the suite's CPU); the transform and engine tests start dbt
~25 times, ~1.1 s of CPU each spent importing it (measured: tests/transform's marts,
null-key and unknown-order modules, 8 dbt runs, 41 -> 32 s of CPU), and the
write-audit-publish script ~20 times, which starts dbt 1-3 times each (a refused build:
1.6 -> 0.55 s of CPU); the end-to-end tests start `meltano` ~40 times, ~0.9 s of CPU
each importing its CLI. Here a server per test worker (`server.py`) imports the six
plugin console scripts' modules once, a second one dbt's, a third Meltano's, and each
forks a process for every run instead of executing the script; the dbt server also runs
`python wap_publish.py`, and that process's own starts of dbt are forked by the same
server. The plugins a warm Meltano runs are its own children, started from their
Meltano-installed virtualenvs as in any `meltano run`.

What stays real: every run is its own process (its own pid, signals and kill -9, exit
status, standard streams, directory and environment), running the console script's own
entry point with the console script's `sys.path`. What differs: the modules were
imported before the run's environment was set (no plugin reads its environment at
import, nor does dbt: it reads its flags when its command runs, nor Meltano: its
environment, project and settings are read by the command;
tests/warm_start/test_warm_start.py compares warm runs with cold ones, output for
output), and a traceback shows the server's frames above the script's.

`subprocess.Popen` is replaced in the test workers by `WarmablePopen`, which forks only a
plain start (no shell, `preexec_fn`, new session or user change) of one of those eight
scripts, by their path in this virtualenv, or of `python wap_publish.py` with this
interpreter, and executes everything else, so every `subprocess.run` of the tests takes
the warm start without a change at its call site.
`TEST_WARM_START=0` turns it off (every start cold, as before).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
PLUGIN_SCRIPTS = (
    "tap-ecommerce-postgres",
    "tap-stripe-custom",
    "tap-legacy-crm",
    "tap-csv-marketing",
    "target-minio-parquet",
    "elt-monitor",
)
# dbt, which the transform and engine tests start ~25 times (~1.5 s of CPU importing it
# each time), in a server of its own: nothing dbt sets up at import reaches a plugin's run
DBT_SCRIPTS = ("dbt",)
# Meltano, which the end-to-end tests start ~40 times (~0.9 s of CPU importing its CLI
# each), in a server of its own too: the plugins it runs are its children, started cold
# from their own Meltano-installed virtualenvs as in any `meltano run`
MELTANO_SCRIPTS = ("meltano",)
SCRIPTS = PLUGIN_SCRIPTS + DBT_SCRIPTS + MELTANO_SCRIPTS
# Python scripts the dbt server runs too (`python SCRIPT ...`), and the dbt they start:
# write-audit-publish, which the wap tests run ~20 times, each starting dbt 1-3 times
PYTHON_SCRIPTS = (
    str(Path(__file__).resolve().parents[2] / "transform" / "scripts" / "wap_publish.py"),
)
SERVER = Path(__file__).with_name("server.py")
COLD_POPEN = subprocess.Popen


class Server:
    """One warm interpreter for this process and some of the SCRIPTS, started at its
    first use."""

    def __init__(self, names: tuple[str, ...], scripts: tuple[str, ...] = ()) -> None:
        self.names = names
        self.scripts = scripts
        self.process: subprocess.Popen | None = None
        self.directory: str | None = None  # of its socket, removed when it stops
        self.path: str | None = None
        self.failed = False

    def socket_path(self) -> str | None:
        if self.path is None and not self.failed:
            self.start()
        return self.path

    def start(self) -> None:
        self.directory = directory = tempfile.mkdtemp(prefix="warm-start-")
        path = os.path.join(directory, "socket")
        names = [name for name in self.names if (BIN / name).exists()]
        # its stdin is a pipe from this process: at its EOF (this process gone) it exits
        scripts = ["--scripts", *self.scripts] if self.scripts else []
        process = COLD_POPEN(
            [sys.executable, str(SERVER), path, *names, *scripts],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=directory,
        )
        assert process.stdout is not None
        if process.stdout.readline() != b"ready\n":
            process.kill()
            process.wait()
            shutil.rmtree(directory, ignore_errors=True)
            self.failed = True  # every start cold: the server's error is on stderr
            return
        self.process, self.path = process, path
        atexit.register(self.stop)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = self.path = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


PLUGIN_SERVER = Server(PLUGIN_SCRIPTS)
DBT_SERVER = Server(DBT_SCRIPTS, PYTHON_SCRIPTS)
MELTANO_SERVER = Server(MELTANO_SCRIPTS)


def server_of(argv: list[str]) -> Server:
    """This process's server for a plain start of one of the SCRIPTS or PYTHON_SCRIPTS."""
    name = Path(argv[0]).name
    if name in DBT_SCRIPTS or argv[0] == sys.executable:
        return DBT_SERVER
    if name in MELTANO_SCRIPTS:
        return MELTANO_SERVER
    return PLUGIN_SERVER


def attach(socket_path: str) -> None:
    """In a process the dbt server forked (a PYTHON_SCRIPTS run): its own starts of dbt
    go to that server too, plugin scripts start cold."""
    DBT_SERVER.path = socket_path
    PLUGIN_SERVER.failed = True
    subprocess.Popen = WarmablePopen  # type: ignore[misc]


def warm_path(args, executable, preexec_fn, shell, pass_fds, env, rest) -> list[str] | None:
    """The argv to fork warm, or None: only a plain start of one of the SCRIPTS."""
    _restore_signals, gid, gids, uid, umask, start_new_session, process_group = rest
    argv = [args] if isinstance(args, (str, bytes)) else list(args)
    plain = (
        not shell
        and executable is None
        and preexec_fn is None
        and not pass_fds
        and (gid, gids, uid, umask) == (None, None, None, -1)
        and not start_new_session
        and process_group in (None, -1)
    )
    if not plain or not argv or not all(isinstance(arg, str) for arg in argv):
        return None
    if env is not None and not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        return None
    if argv[0] == sys.executable and len(argv) > 1 and argv[1] in PYTHON_SCRIPTS:
        return argv
    first = Path(argv[0])
    if first.parent != BIN or first.name not in SCRIPTS:
        return None
    return argv


class WarmablePopen(subprocess.Popen):
    """`subprocess.Popen` that forks a warm process for a plain start of one of the
    SCRIPTS."""

    _warm: socket.socket | None = None  # the monitor's connection, until the status
    _warm_started = False

    def _execute_child(
        self,
        args,
        executable,
        preexec_fn,
        close_fds,
        pass_fds,
        cwd,
        env,
        startupinfo,
        creationflags,
        shell,
        p2cread,
        p2cwrite,
        c2pread,
        c2pwrite,
        errread,
        errwrite,
        *rest,
    ):
        cold = (
            args, executable, preexec_fn, close_fds, pass_fds, cwd, env, startupinfo,
            creationflags, shell, p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite,
            *rest,
        )  # fmt: skip
        argv = warm_path(args, executable, preexec_fn, shell, pass_fds, env, rest)
        path = server_of(argv).socket_path() if argv else None
        if path is None:
            return super()._execute_child(*cold)
        request = {
            "argv": argv,
            "env": dict(os.environ if env is None else env),
            "cwd": os.fspath(cwd) if cwd is not None else os.getcwd(),
        }
        fds = [
            p2cread if p2cread != -1 else 0,
            c2pwrite if c2pwrite != -1 else 1,
            errwrite if errwrite != -1 else 2,
        ]
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.connect(path)
            socket.send_fds(conn, [json.dumps(request).encode()], fds)
            answer = conn.recv(64)
        except OSError:
            conn.close()
            return super()._execute_child(*cold)
        if not answer.strip().isdigit():
            conn.close()
            return super()._execute_child(*cold)
        self.pid = int(answer)
        self._child_created = True
        self._warm, self._warm_started = conn, True
        # what Popen's own _execute_child does once the child holds its ends
        if p2cread != -1 and p2cwrite != -1 and p2cread != getattr(self, "_devnull", None):
            os.close(p2cread)
        if c2pwrite != -1 and c2pread != -1 and c2pwrite != getattr(self, "_devnull", None):
            os.close(c2pwrite)
        if errwrite != -1 and errread != -1 and errwrite != getattr(self, "_devnull", None):
            os.close(errwrite)
        if hasattr(self, "_devnull"):
            os.close(self._devnull)
        self._closed_child_pipe_fds = True
        return None

    def _try_wait(self, wait_flags):
        """(pid, wait status) as os.waitpid gives them, from the child's monitor."""
        if not self._warm_started:
            return super()._try_wait(wait_flags)
        conn = self._warm
        assert conn is not None, "the warm child's status was read already"
        if wait_flags & os.WNOHANG and not select.select([conn], [], [], 0)[0]:
            return (0, 0)
        status = conn.recv(64)
        conn.close()
        self._warm = None
        if not status.strip().lstrip(b"-").isdigit():
            raise ChildProcessError(f"the warm start server lost process {self.pid}")
        return (self.pid, int(status))

    def _internal_poll(self, _deadstate=None, **_):
        """Popen's own, with the status from the monitor instead of os.waitpid."""
        if not self._warm_started:
            return super()._internal_poll(_deadstate=_deadstate)
        if self.returncode is None:
            if not self._waitpid_lock.acquire(False):
                return None
            try:
                if self.returncode is not None:
                    return self.returncode
                pid, status = self._try_wait(os.WNOHANG)
                if pid == self.pid:
                    self._handle_exitstatus(status)
            except OSError:
                if _deadstate is not None:
                    self.returncode = _deadstate
            finally:
                self._waitpid_lock.release()
        return self.returncode


def install() -> None:
    """Every `subprocess.Popen` (and so `subprocess.run`) of this process: warm where it can."""
    if os.environ.get("TEST_WARM_START", "1") != "0":
        subprocess.Popen = WarmablePopen  # type: ignore[misc]

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
server. A warm Meltano's own starts of the plugins and dbt (~14 per `meltano run
ecommerce-elt`, ~7 s of CPU importing them) fork too, each from a server of the
plugin's own Meltano-installed virtualenv (`.meltano/<type>/<plugin>/venv/`, its
interpreter and packages: the process a cold start of that virtualenv's script would
be), started by the first Meltano run that needs it and kept for the test worker's later
ones (`attach_meltano`). Meltano waits for them through asyncio, whose child watcher
waits by pid for its own children; for a warm one it takes the status from the
monitor instead (`WarmChildWatcher`).

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

import asyncio
import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
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
# each), in a server of its own too: the plugins it runs start from servers of their own
# Meltano-installed virtualenvs (VENV_SCRIPTS)
MELTANO_SCRIPTS = ("meltano",)
SCRIPTS = PLUGIN_SCRIPTS + DBT_SCRIPTS + MELTANO_SCRIPTS
# Python scripts the dbt server runs too (`python SCRIPT ...`), and the dbt they start:
# write-audit-publish, which the wap tests run ~20 times, each starting dbt 1-3 times
PYTHON_SCRIPTS = (
    str(Path(__file__).resolve().parents[2] / "transform" / "scripts" / "wap_publish.py"),
)
SERVER = Path(__file__).with_name("server.py")
COLD_POPEN = subprocess.Popen
# The virtualenvs `meltano install` makes for the project's plugins, and the scripts of
# theirs a warm Meltano starts warm (dbt, and `python wap_publish.py`, in dbt-duckdb's)
MELTANO_VENVS = Path(__file__).resolve().parents[2] / ".meltano"
VENV_SCRIPTS = PLUGIN_SCRIPTS + DBT_SCRIPTS


class Server:
    """One warm interpreter for this process and some of the SCRIPTS, started at its
    first use."""

    def __init__(
        self, names: tuple[str, ...], scripts: tuple[str, ...] = (), venv_servers: bool = False
    ) -> None:
        self.names = names
        self.scripts = scripts
        self.venv_servers = venv_servers  # its runs start plugins from VENV servers
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
        if self.venv_servers:
            os.mkdir(os.path.join(directory, "venvs"))
            scripts += ["--venv-servers", os.path.join(directory, "venvs")]
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
# TEST_WARM_START_VENVS=0: a warm Meltano starts its plugins cold
MELTANO_SERVER = Server(
    MELTANO_SCRIPTS, venv_servers=os.environ.get("TEST_WARM_START_VENVS", "1") != "0"
)
# In a warm Meltano (`attach_meltano`): the directory of the virtualenvs' servers, and
# the test worker that owns them
VENVS: dict[str, object] = {"directory": None, "owner": None}
VENV_SOCKETS: dict[Path, str | None] = {}
DETACHED: list[subprocess.Popen] = []  # virtualenv servers this process started


def venv_bin_of(argv: list[str]) -> Path | None:
    """The `bin/` of the Meltano-installed virtualenv whose script (or `python
    PYTHON_SCRIPT`) `argv` starts, when this is a warm Meltano."""
    if VENVS["directory"] is None:
        return None
    first = Path(argv[0])
    # the tests' private system directories link the repository's plugin directories
    bin_dir = Path(os.path.realpath(first.parent))
    if bin_dir.name != "bin" or bin_dir.parent.name != "venv":
        return None
    if len(bin_dir.parents) < 4 or bin_dir.parents[3] != MELTANO_VENVS:
        return None  # not .meltano/<type>/<plugin>/venv/bin
    if first.name in VENV_SCRIPTS:
        return bin_dir
    if first.name == "python" and len(argv) > 1 and argv[1] in PYTHON_SCRIPTS:
        return bin_dir
    return None


def venv_key(bin_dir: Path) -> str:
    """The name of `bin_dir`'s server socket (its log and lock file beside it)."""
    return hashlib.sha256(str(bin_dir).encode()).hexdigest()[:16]


def venv_socket(bin_dir: Path) -> str | None:
    """The socket of `bin_dir`'s server: started by the first warm Meltano of this test
    worker that needs it (a lock file keeps two from starting it twice), alive as long
    as the worker; None if it could not start (every start cold)."""
    if bin_dir in VENV_SOCKETS:
        return VENV_SOCKETS[bin_dir]
    path = os.path.join(str(VENVS["directory"]), venv_key(bin_dir))
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        untried = not os.path.exists(path) and not os.path.exists(f"{path}.failed")
        if untried and not start_venv_server(bin_dir, path):
            Path(f"{path}.failed").touch()
    VENV_SOCKETS[bin_dir] = path if os.path.exists(path) else None
    return VENV_SOCKETS[bin_dir]


def start_venv_server(bin_dir: Path, path: str) -> bool:
    """`bin_dir`'s interpreter running server.py for its VENV_SCRIPTS, in a session of its
    own (a signal to this Meltano's process group is not for it), its output in a log
    beside the socket, never this run's streams (a test reading them to their end would
    wait for the server)."""
    names = [name for name in VENV_SCRIPTS if (bin_dir / name).exists()]
    scripts = ["--scripts", *PYTHON_SCRIPTS] if "dbt" in names else []
    if not names:
        return False
    owner = ["--owner", str(VENVS["owner"])]
    with open(f"{path}.log", "ab") as log:
        process = COLD_POPEN(
            [str(bin_dir / "python"), str(SERVER), path, *names, *scripts, *owner],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=os.path.dirname(path),
            start_new_session=True,
        )
    assert process.stdout is not None
    ready = process.stdout.readline() == b"ready\n"
    process.stdout.close()
    if not ready:
        process.kill()
        process.wait()
        return False
    DETACHED.append(process)  # never waited for: it outlives this process
    return True


def server_of(argv: list[str]) -> Server:
    """This process's server for a plain start of one of its own SCRIPTS or
    PYTHON_SCRIPTS."""
    name = Path(argv[0]).name
    if name in DBT_SCRIPTS or argv[0] == sys.executable:
        return DBT_SERVER
    if name in MELTANO_SCRIPTS:
        return MELTANO_SERVER
    return PLUGIN_SERVER


def socket_of(argv: list[str]) -> str | None:
    """The socket of the server that forks `argv` (a plain start), or None: start cold."""
    bin_dir = venv_bin_of(argv)
    if bin_dir is not None:
        return venv_socket(bin_dir)
    if argv[0] == sys.executable and len(argv) > 1 and argv[1] in PYTHON_SCRIPTS:
        return server_of(argv).socket_path()
    first = Path(argv[0])
    if first.parent != BIN or first.name not in SCRIPTS:
        return None
    return server_of(argv).socket_path()


def attach_meltano(directory: str, owner: int) -> None:
    """In a process the Meltano server forked: the plugins and dbt it starts from their
    Meltano-installed virtualenvs fork from those virtualenvs' servers (kept in
    `directory`, alive while the test worker `owner` is); nothing else starts warm.
    Python 3.12 deprecates asyncio's child watchers: there, every start stays cold."""
    if sys.version_info >= (3, 12):
        return
    VENVS.update(directory=directory, owner=owner)
    for server in (PLUGIN_SERVER, DBT_SERVER, MELTANO_SERVER):
        server.failed = True
    subprocess.Popen = WarmablePopen  # type: ignore[misc]
    asyncio.get_event_loop_policy().set_child_watcher(WarmChildWatcher())


class WarmChildWatcher(asyncio.ThreadedChildWatcher):
    """asyncio's default watcher (a thread per child, waiting by pid), except for a warm
    child, which is the monitor's and not this process's: its status comes from the
    monitor."""

    def add_child_handler(self, pid, callback, *args) -> None:
        process = getattr(args[0], "_proc", None) if args else None
        if not (isinstance(process, WarmablePopen) and process._warm_started):
            super().add_child_handler(pid, callback, *args)
            return
        loop = asyncio.get_running_loop()

        def wait() -> None:
            returncode = os.waitstatus_to_exitcode(process.warm_status(block=True))
            if not loop.is_closed():
                loop.call_soon_threadsafe(callback, pid, returncode, *args)

        threading.Thread(target=wait, name=f"warm-waitpid-{pid}", daemon=True).start()


def attach(socket_path: str) -> None:
    """In a process the dbt server forked (a PYTHON_SCRIPTS run): its own starts of dbt
    go to that server too, plugin scripts start cold."""
    DBT_SERVER.path = socket_path
    PLUGIN_SERVER.failed = True
    subprocess.Popen = WarmablePopen  # type: ignore[misc]


def warm_path(args, executable, preexec_fn, shell, pass_fds, env, rest) -> list[str] | None:
    """The argv of a plain start (no shell, `preexec_fn`, new session...), or None."""
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
    return argv


class WarmablePopen(subprocess.Popen):
    """`subprocess.Popen` that forks a warm process for a plain start of one of the
    SCRIPTS."""

    _warm: socket.socket | None = None  # the monitor's connection, until the status
    _warm_started = False
    _warm_result: int | None = None  # the child's raw wait status, once read

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
        path = socket_of(argv) if argv else None
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
        self._warm_lock = threading.Lock()
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

    def warm_status(self, block: bool) -> int | None:
        """The warm child's raw wait status from its monitor (read once, then kept; any
        thread may ask: asyncio's watcher waits in one while the loop polls); None while
        it runs, unless `block`."""
        conn = self._warm
        if self._warm_result is None and conn is not None:
            try:
                ready = select.select([conn], [], [], None if block else 0)[0]
            except (OSError, ValueError):  # another thread read it and closed it
                ready = []
            if not ready and not block:
                return None
            with self._warm_lock:
                if self._warm_result is None:
                    status = conn.recv(64)
                    conn.close()
                    self._warm = None
                    if not status.strip().lstrip(b"-").isdigit():
                        raise ChildProcessError(f"the warm start server lost process {self.pid}")
                    self._warm_result = int(status)
        if self._warm_result is None:
            raise ChildProcessError(f"the warm start server lost process {self.pid}")
        return self._warm_result

    def _try_wait(self, wait_flags):
        """(pid, wait status) as os.waitpid gives them, from the child's monitor."""
        if not self._warm_started:
            return super()._try_wait(wait_flags)
        status = self.warm_status(block=not wait_flags & os.WNOHANG)
        return (0, 0) if status is None else (self.pid, status)

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


@contextlib.contextmanager
def popen_as(popen: type) -> Iterator[None]:
    """`popen` as subprocess.Popen meanwhile (subprocess.run looks it up at each call)."""
    saved = subprocess.Popen
    subprocess.Popen = popen  # type: ignore[misc]
    try:
        yield
    finally:
        subprocess.Popen = saved  # type: ignore[misc]


def cold_starts() -> contextlib.AbstractContextManager[None]:
    """Every start in this block cold, as outside the tests."""
    return popen_as(COLD_POPEN)


def install() -> None:
    """Every `subprocess.Popen` (and so `subprocess.run`) of this process: warm where it can."""
    if os.environ.get("TEST_WARM_START", "1") != "0":
        subprocess.Popen = WarmablePopen  # type: ignore[misc]

"""The warm interpreter: imports console scripts' entry points (the plugins', or dbt's)
once, then forks one process per request, which runs the entry point as the console
script would.

Run as a script (`python server.py SOCKET NAME... [--scripts PATH...] [--owner PID]
[--venv-servers DIR]`), standard library only, so that its `sys.path` is a console
script's (the interpreter's `bin/` first, not the repository): a plugin cannot import a
module here that its own process could not; any interpreter runs it (a Meltano-installed
plugin's virtualenv's too). A `--scripts` run gets the script's directory first instead,
as `python SCRIPT` would.

It lives as long as the process that started it (EOF on its standard input), or with
`--owner`, as long as that process (a server a warm Meltano started, shared by the
test worker's later Meltano runs). With `--venv-servers`, each forked run (Meltano)
starts the plugins it runs from their own virtualenvs' servers, kept in DIR
(`__init__.py`'s `attach_meltano`).

Per request (one connection on the Unix socket): the client sends JSON (argv, env, cwd)
with its three standard file descriptors; the server forks a monitor, which forks the
child and reports two lines back: the child's pid, then its raw wait status. The server
itself stays single-threaded and never waits, so a fork never copies a held lock.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import json
import os
import runpy
import select
import signal
import socket
import sys
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path

MAX_REQUEST = 1 << 22


def import_entry_points(names: list[str]) -> dict:
    """Each console script's entry point, its module imported now (what the fork saves
    every run). The attribute is looked up in the child, as the script does: an SDK
    plugin's `cli` is built on access, and building it sets up the run's logging."""
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts") if ep.name in names}
    missing = sorted(set(names) - set(scripts))
    if missing:
        raise SystemExit(f"no console script named {', '.join(missing)}")
    for ep in scripts.values():
        importlib.import_module(ep.module)
    return scripts


# pyarrow's jemalloc purges in a thread of its own; jemalloc is fork-safe (its
# pthread_atfork handlers hold every arena lock across fork and restart the thread after)
FORK_SAFE_THREADS = {"jemalloc_bg_thd"}


def single_threaded() -> bool:
    """No thread but this one, Python's or native (an import may start either), except
    those that are fork-safe."""
    native = [
        Path(f"/proc/self/task/{task}/comm").read_text().strip()
        for task in os.listdir("/proc/self/task")
        if int(task) != threading.get_native_id()
    ]
    return threading.active_count() == 1 and set(native) <= FORK_SAFE_THREADS


def become(request: dict, fds: list[int]) -> None:
    """Take the run's standard streams, directory and environment."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # the run's TZ, as a new interpreter would read it


def load_client():
    """The tests' own client (`__init__.py`), loaded by path: this interpreter's
    `sys.path` has no repository on it."""
    spec = importlib.util.spec_from_file_location(
        "warm_start_client", Path(__file__).with_name("__init__.py")
    )
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    return client


def run_child(request: dict, fds: list[int], entry, venv_servers: tuple[str, int] | None) -> None:
    """Become the console script: its standard streams, directory, environment and argv;
    its exit (code, message or traceback) is the interpreter's own, as in a new process.
    With `venv_servers` (directory, owner pid), its own starts of plugins go to their
    virtualenvs' warm servers."""
    become(request, fds)
    if venv_servers is not None:
        load_client().attach_meltano(*venv_servers)
    sys.argv = list(request["argv"])
    sys.exit(entry.load()())


def run_script(request: dict, fds: list[int], script: str, socket_path: str) -> None:
    """Become `python SCRIPT ARGS...`: its argv and `sys.path[0]` (the script's directory)
    as the interpreter sets them; the console scripts it starts in turn (wap's dbt) are
    forked by this server too, through the tests' own client (`__init__.py`)."""
    become(request, fds)
    sys.argv = list(request["argv"][1:])
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    load_client().attach(socket_path)
    runpy.run_path(script, run_name="__main__")
    sys.exit(0)


def script_of(argv: list[str], scripts: list[str]) -> str | None:
    """The script of `python SCRIPT ...`, when it is one of `scripts` and the interpreter
    is this one (by its directory: a virtualenv's `bin/` may be reached through a link)."""
    if len(argv) < 2 or argv[1] not in scripts:
        return None
    if os.path.abspath(argv[0]) == sys.executable:
        return argv[1]
    same_bin = os.path.realpath(os.path.dirname(argv[0])) == os.path.realpath(
        os.path.dirname(sys.executable)
    )
    return argv[1] if same_bin and os.path.basename(argv[0]) == "python" else None


def owner_alive(owner: int) -> bool:
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve(
    socket_path: str,
    names: list[str],
    scripts: list[str],
    owner: int | None = None,
    venv_servers: str | None = None,
) -> None:
    entries = import_entry_points(names)
    # the test worker that started this server (its parent), which owns the servers of
    # the virtualenvs its warm Meltano runs start
    attached = (venv_servers, os.getppid()) if venv_servers else None
    if not single_threaded():
        raise SystemExit("an import started a thread: forking would copy its locks")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(socket_path)
    listener.listen(16)
    # the monitors are reaped by the kernel; each monitor waits for its own child
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    while True:
        if owner is None:
            readable, _, _ = select.select([listener, sys.stdin], [], [])
            if sys.stdin in readable:
                return  # EOF: the test process that started this server is gone
        else:
            readable, _, _ = select.select([listener], [], [], 2.0)
            if not readable:
                if not owner_alive(owner):
                    return
                continue
        conn, _ = listener.accept()
        message, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
        request = json.loads(message)
        name = os.path.basename(request["argv"][0])
        script = script_of(request["argv"], scripts)
        if (name not in entries and script is None) or len(fds) != 3:
            conn.sendall(b"refused\n")
        elif os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            if script is None:
                run = functools.partial(run_child, request, fds, entries[name], attached)
            else:
                run = functools.partial(run_script, request, fds, script, socket_path)
            monitor(conn, fds, run)
        for fd in fds:
            os.close(fd)
        conn.close()


def monitor(conn: socket.socket, fds: list[int], run) -> None:
    child = os.fork()
    if child == 0:
        conn.close()
        run()
    for fd in fds:
        os.close(fd)
    conn.sendall(f"{child}\n".encode())
    _, status = os.waitpid(child, 0)
    conn.sendall(f"{status}\n".encode())
    os._exit(0)


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="server.py")
    parser.add_argument("socket")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--scripts", nargs="*", default=[])
    parser.add_argument("--owner", type=int)
    parser.add_argument("--venv-servers")
    return parser.parse_args(argv)


if __name__ == "__main__":
    # a console script's path: its interpreter's bin/ first, not this file's directory
    sys.path[0] = os.path.dirname(sys.executable)
    args = arguments(sys.argv[1:])
    serve(args.socket, args.names, args.scripts, args.owner, args.venv_servers)

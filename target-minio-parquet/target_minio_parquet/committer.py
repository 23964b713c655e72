"""Buffers are converted and committed in one background thread, one at a time.

Arrow's JSON parse, its casts and the Parquet encoder release the GIL, so the next
buffer is read while the previous one is written. At most one job is in flight (memory:
one buffer filling, one being written), jobs run in the order they were handed over,
and a job's error is raised in the main thread at the next hand-over or wait: a STATE
that waits for the commits before it therefore never goes out after a failed one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class Committer:
    """Runs commit jobs serially in a background thread and surfaces their errors."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="committer")
        self._pending: Future | None = None
        self._lock = threading.Lock()  # hand-over and wait are atomic

    def submit(self, job: Callable[[], None]) -> None:
        """Hand a job over once the previous one has finished (raising its error)."""
        with self._lock:
            self._await()
            self._pending = self._executor.submit(job)

    def wait(self) -> None:
        """Block until every job handed over is done, or raise the first error."""
        with self._lock:
            self._await()

    def close(self) -> None:
        """Wait for the last job, then stop the thread."""
        self.wait()
        self._executor.shutdown()

    def _await(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

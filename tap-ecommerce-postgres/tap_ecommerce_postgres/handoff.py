"""The one hand-off between reader threads and the thread that writes their rows.

Both readers use it: the psycopg prefetch of the SDK record path (one lane) and the ADBC
key-range readers (one lane per session, drained strictly in order). What it guarantees:

- bounded memory: each lane holds at most `ahead` items; a reader waits while its lane is
  full and gives up (put returns False) once the consumer has stopped listening;
- end of stream is explicit per lane (`end`), so a lane that stops early is never taken
  for a finished one;
- the first failure of ANY lane is raised in the consumer at once (within `POLL_SECONDS`),
  even while it is waiting on another lane whose reader is slow, so the caller can cancel
  the other readers instead of waiting for them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

AHEAD = 2  # items waiting per lane
POLL_SECONDS = 0.05  # how often a waiting consumer looks for a failure in another lane
_END = object()


class Handoff:
    """Items from `lanes` reader threads to one consumer, lane by lane, in order."""

    def __init__(self, lanes: int = 1, ahead: int = AHEAD) -> None:
        self._lanes = [queue.Queue(maxsize=ahead) for _ in range(lanes)]
        self._stopped = threading.Event()
        self._failure: BaseException | None = None
        self._lock = threading.Lock()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def put(self, lane: int, item: object) -> bool:
        """Queue `item`, waiting while the lane is full; False once the consumer stopped
        (so a reader never blocks forever on a consumer that went away)."""
        items = self._lanes[lane]
        while not self._stopped.is_set():
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def end(self, lane: int) -> bool:
        """Mark the end of one unit of `lane` (e.g. one select); False once stopped."""
        return self.put(lane, _END)

    def fail(self, error: BaseException) -> None:
        """Hand `error` to the consumer; the first failure wins (later ones are usually
        the cancellations it caused)."""
        with self._lock:
            if self._failure is None:
                self._failure = error

    def stop(self) -> None:
        """The consumer is done (finished, failed or closed): readers stop putting."""
        self._stopped.set()

    def drain(self, lane: int) -> Iterator[object]:
        """Yield the items of `lane` up to its next end mark; raise the first failure of
        any lane as soon as it is known."""
        items = self._lanes[lane]
        while True:
            if self._failure is not None:
                raise self._failure
            try:
                item = items.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item

"""The memory budget and the background committer, each on its own."""

from __future__ import annotations

import threading
import time

import pytest
from target_minio_parquet.budget import MemoryBudget
from target_minio_parquet.committer import Committer


def test_the_budget_names_the_largest_holder_and_frees_what_is_released() -> None:
    budget = MemoryBudget(max_rows=10, max_bytes=1000)
    budget.reserve("a", 4, 100.0)
    budget.reserve("b", 2, 300.0)
    assert not budget.exhausted and budget.largest() == "b"
    budget.reserve("a", 4, 100.0)  # 10 rows held
    assert budget.exhausted
    budget.release("b")
    assert not budget.exhausted and budget.largest() == "a"
    budget.reserve("c", 1, 900.0)  # bytes limit reached
    assert budget.exhausted and budget.largest() == "c"
    budget.release("c")
    budget.release("a")
    assert budget.largest() is None and not budget.exhausted


def test_commits_run_one_at_a_time_in_order() -> None:
    committer = Committer()
    done: list[int] = []
    running = threading.Event()

    def job(n: int) -> None:
        assert not running.is_set()  # never two at once
        running.set()
        time.sleep(0.01)
        done.append(n)
        running.clear()

    for n in range(5):
        committer.submit(lambda n=n: job(n))
    committer.close()
    assert done == [0, 1, 2, 3, 4]


def test_a_failed_commit_is_raised_at_the_next_hand_over_or_wait() -> None:
    committer = Committer()

    def fail() -> None:
        raise ValueError("column 'amount' cannot hold 1.234")

    committer.submit(fail)
    with pytest.raises(ValueError, match=r"1\.234"):
        committer.submit(lambda: None)
    committer.submit(fail)
    with pytest.raises(ValueError, match="amount"):
        committer.wait()
    committer.close()

"""The parallel run's schedule (tests/conftest.py): whole work groups per worker, handed
out in the order the collection gives them (slowest groups first), not re-sorted by
xdist into "most tests first", which left the README and Spark groups to the end."""

from __future__ import annotations

from types import SimpleNamespace

from tests.conftest import pytest_xdist_make_scheduler


class Worker:
    """A stand-in for xdist's worker controller: records the test indexes it is sent."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[list[int]] = []

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.append(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


def test_groups_are_handed_out_whole_in_collection_order() -> None:
    # as the workers' collection is sorted: the slow groups (one or two tests) first,
    # then a module of many quick tests
    collection = [
        "tests/e2e/test_readme.py::test_pipeline",
        "tests/e2e/test_readme.py::test_spark",
        "tests/transform_engines/test_cross_engine.py::test_build",
        "tests/transform_engines/test_wap_spark.py::test_publish",
        *(f"tests/tap_csv_marketing/test_malformed_corpus.py::test_case[{i}]" for i in range(9)),
    ]
    options = SimpleNamespace(loadscopereorder=True, tx=["popen", "popen"])
    config = SimpleNamespace(option=options, getvalue=lambda name: getattr(options, name))
    scheduler = pytest_xdist_make_scheduler(config, None)
    workers = [Worker("gw0"), Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()

    def names(indexes: list[int]) -> list[str]:
        return [collection[i] for i in indexes]

    # each worker starts with one whole group, in collection order: the README on one,
    # the one Spark build's two modules together on the other
    assert names(workers[0].sent[0]) == collection[:2]
    assert names(workers[1].sent[0]) == collection[2:4]


def test_a_shared_group_runs_its_modules_in_its_own_order() -> None:
    """test_meltano_job adds nights to the runner test_pipeline reads after one night and
    the orchestration module reads after two: it runs last in its group, although it is
    collected first, in one process or in a worker."""
    from tests.conftest import pytest_collection_modifyitems

    collected = [
        "tests/e2e/test_meltano_job.py::test_nights",
        "tests/e2e/test_pipeline.py::test_first",
        "tests/e2e/test_pipeline.py::test_second",
        "tests/e2e/test_readme.py::test_pipeline",
        "tests/e2e/test_recovery.py::test_kill",
        "tests/orchestration/test_runs.py::test_daily",
    ]
    for config in (SimpleNamespace(), SimpleNamespace(workerinput={})):
        items = [SimpleNamespace(nodeid=nodeid, iter_markers=list) for nodeid in collected]
        pytest_collection_modifyitems(config, items)
        group = [item.nodeid for item in items if "readme" not in item.nodeid]
        assert group == [collected[1], collected[2], collected[4], collected[5], collected[0]]


def test_with_three_workers_the_last_takes_groups_from_the_tail() -> None:
    """The plugin tests (the tail, quick and waiting on servers) run beside the slow
    groups on a third worker; the first two take the slow groups from the head."""
    collection = [
        "tests/e2e/test_readme.py::test_pipeline",
        "tests/e2e/test_deletes.py::test_run",
        "tests/e2e/test_environments.py::test_minio",
        "tests/tap_legacy_crm/test_delivery.py::test_fault",
        "tests/tap_stripe_custom/test_faults.py::test_retry",
        "tests/tap_stripe_custom/test_incremental.py::test_resume",
    ]
    options = SimpleNamespace(loadscopereorder=True, tx=["popen"] * 3)
    config = SimpleNamespace(option=options, getvalue=lambda name: getattr(options, name))
    scheduler = pytest_xdist_make_scheduler(config, None)
    workers = [Worker(f"gw{i}") for i in range(3)]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()

    def modules(worker: Worker) -> list[str]:
        return [collection[i].split("::")[0].rsplit("/", 1)[1] for s in worker.sent for i in s]

    # each starts with two groups: its next one is known before its first one ends
    assert modules(workers[0]) == ["test_readme.py", "test_environments.py"]
    assert modules(workers[1]) == ["test_deletes.py", "test_delivery.py"]
    assert modules(workers[2]) == ["test_incremental.py", "test_faults.py"]


def test_slow_groups_come_longest_first_and_plugin_tests_shortest_first() -> None:
    from tests.conftest import GROUP_SECONDS, group_order

    slow = ["tests/transform/test_marts.py", "tests/transform/test_wap.py"]
    plugin = [
        "tests/tap_stripe_custom/test_incremental.py",
        "tests/tap_csv_marketing/test_grammar.py",
    ]
    rank = {**dict.fromkeys(slow, 2), **dict.fromkeys(plugin, 99)}
    assert GROUP_SECONDS[slow[1]] > GROUP_SECONDS[slow[0]]
    assert GROUP_SECONDS[plugin[0]] > GROUP_SECONDS.get(plugin[1], 0.0)
    ordered = sorted(slow + plugin, key=lambda module: group_order(rank, f"{module}::t"))
    assert ordered == [slow[1], slow[0], plugin[1], plugin[0]]

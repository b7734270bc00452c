"""`hub serve`'s workers each on a CPU of its own on SQLite, left to the scheduler on
PostgreSQL (hub.ops.cpus): which CPU each worker gunicorn starts takes, when the workers are
pinned, and what a served SQLite hub's workers may run on, as the system reports it."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub.ops.cpus import CPU, WorkerCpus, allowed_cpus, worker_cpus
from tests.support.factories import config_copy
from tests.support.served import ServedHub, children
from tests.support.waiting import wait_until

needs_two_cpus = pytest.mark.skipif(len(allowed_cpus()) < 2, reason="pinning needs two CPUs to spread workers over")


def started(cpus: WorkerCpus, server: SimpleNamespace, pid: int) -> SimpleNamespace:
    """A worker as gunicorn's master starts one: `pre_fork`, then it is among the living."""
    worker = SimpleNamespace(pid=pid)
    cpus.pre_fork(server, worker)
    server.WORKERS[pid] = worker
    return worker


def test_each_worker_started_takes_the_cpu_the_fewest_living_workers_have():
    cpus, server = WorkerCpus([2, 5]), SimpleNamespace(WORKERS={})
    workers = [started(cpus, server, pid) for pid in (101, 102, 103)]
    assert [getattr(w, CPU) for w in workers] == [2, 5, 2]
    del server.WORKERS[102]  # the worker on CPU 5 ended: the one started in its place takes CPU 5
    assert getattr(started(cpus, server, 104), CPU) == 5
    assert getattr(started(cpus, server, 105), CPU) == 5  # CPU 2 has two already


def test_a_worker_that_cannot_be_pinned_runs_unpinned_with_a_warning():
    """Raised in post_fork, the error would stop gunicorn and every worker with it."""
    warnings: list[str] = []
    server = SimpleNamespace(log=SimpleNamespace(warning=lambda message, *args: warnings.append(message % args)))
    before = os.sched_getaffinity(0)
    WorkerCpus.post_fork(server, SimpleNamespace(pid=4242, **{CPU: 99999}))  # no such CPU
    assert os.sched_getaffinity(0) == before
    assert len(warnings) == 1 and "worker 4242" in warnings[0] and "CPU 99999" in warnings[0], warnings


@pytest.mark.parametrize(
    ("asked", "on_sqlite", "workers", "cpus", "pinned"),
    [
        (None, True, 2, [0, 1], True),  # SQLite's default
        (None, True, 1, [0, 1], False),  # one worker hands its lock to nobody
        (None, False, 4, [0, 1], False),  # PostgreSQL's default: its server needs the CPUs too
        (True, False, 4, [0, 1], True),  # --pin-workers
        (False, True, 2, [0, 1], False),  # --no-pin-workers
        (True, True, 2, [3], False),  # one CPU: nothing to spread the workers over
    ],
)
def test_when_the_workers_are_pinned(asked, on_sqlite, workers, cpus, pinned):
    assert (worker_cpus(asked, on_sqlite, workers, cpus) is not None) is pinned


def running(pid: int) -> bool:
    """Whether a worker runs threads, so has passed gunicorn's post_fork (where it is pinned) and
    loaded the app: on SQLite its WAL checkpointer's thread starts then (on PostgreSQL no thread
    starts before the first request, so PostgreSQL's default is shown by `worker_cpus` alone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/task")) > 1
    except FileNotFoundError:
        return False


def affinities(served: ServedHub, gone: tuple[int, ...] = ()) -> dict[int, set[int]]:
    """The CPUs each of the served hub's workers may run on, once all of them run (none of `gone`)."""

    def all_running() -> list[int] | None:
        pids = [pid for pid in children(served.proc.pid) if pid not in gone]
        return pids if len(pids) == served.worker_count and all(running(pid) for pid in pids) else None

    return {pid: os.sched_getaffinity(pid) for pid in wait_until(all_running, 60, "every worker running", 0.05)}


def sqlite_config(tmp_path: Path, template: Path) -> Path:
    """The shipped config on a migrated SQLite database of the test's own."""
    shutil.copy(template, tmp_path / "hub.sqlite3")
    return config_copy(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite3'}")


@needs_two_cpus
def test_served_sqlite_workers_run_each_on_a_cpu_of_its_own(sqlite_template, tmp_path):
    served = ServedHub(sqlite_config(tmp_path, sqlite_template), tmp_path / "serve.log", workers=2)
    try:
        cpus = list(affinities(served).values())
    finally:
        served.stop()
    assert [len(c) for c in cpus] == [1, 1] and cpus[0] != cpus[1], cpus
    assert cpus[0] | cpus[1] <= set(allowed_cpus())


@needs_two_cpus
def test_no_pin_workers_leaves_sqlite_workers_to_the_scheduler(sqlite_template, tmp_path):
    config_dir = sqlite_config(tmp_path, sqlite_template)
    served = ServedHub(config_dir, tmp_path / "serve.log", workers=2, options=["--no-pin-workers"])
    try:
        assert list(affinities(served).values()) == [set(allowed_cpus())] * 2
    finally:
        served.stop()


@needs_two_cpus
def test_a_worker_started_again_takes_the_cpu_the_ended_one_left(sqlite_template, tmp_path):
    served = ServedHub(sqlite_config(tmp_path, sqlite_template), tmp_path / "serve.log", workers=2)
    try:
        before = affinities(served)
        ended = min(before)
        os.kill(ended, signal.SIGKILL)
        after = affinities(served, gone=(ended,))
        assert sorted(map(sorted, after.values())) == sorted(map(sorted, before.values())), (before, after)
        assert after[max(before)] == before[max(before)]  # the living worker kept its CPU
    finally:
        served.stop()

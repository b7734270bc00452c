"""Each `hub serve` worker on a CPU of its own: gunicorn's `pre_fork` and `post_fork` hooks.

On SQLite the database's work runs inside the workers, and they hand its writers' lock to
each other (hub.db.database). Left to the scheduler, which tends to wake a thread on the CPU
of the one that woke it, the workers' threads move between the CPUs and at times crowd onto
one while the other idles. With each worker kept on one CPU, a served SQLite RedeemCoupon ran
20% faster on two cores and left 9% of the machine idle instead of 18%; VerifyCoupon ran 11%
faster (BENCHMARKS.md, run 31). On PostgreSQL the server's own processes need those CPUs too:
pinned, the served hub gained less there (RedeemCoupon -2% to +5%) than the bare signed
service did (+8-10%), so `hub serve` pins its workers by default on SQLite only (`worker_cpus`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

CPU = "hub_cpu"  # the attribute of gunicorn's Worker object that holds its CPU


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order; none where the system cannot say."""
    get = getattr(os, "sched_getaffinity", None)
    return sorted(get(0)) if get is not None else []


class WorkerCpus:
    """A CPU for each worker gunicorn starts: the one of `cpus` the fewest living workers
    have (the lowest of those), so that a worker started again in place of one that ended
    takes the CPU it left. The worker and every thread it starts run on that CPU alone."""

    def __init__(self, cpus: Sequence[int]) -> None:
        self.cpus = list(cpus)

    def pre_fork(self, server: Any, worker: Any) -> None:
        """In gunicorn's master, before it forks `worker`: `server.WORKERS` are the living ones."""
        taken = Counter(getattr(living, CPU, None) for living in server.WORKERS.values())
        setattr(worker, CPU, min(self.cpus, key=lambda cpu: (taken[cpu], cpu)))

    @staticmethod
    def post_fork(server: Any, worker: Any) -> None:
        """In the worker, before it loads the app and starts its threads. A CPU the worker may
        no longer run on (taken offline, or out of a narrowed cpuset) leaves it unpinned, with
        a warning: raised here, it would stop gunicorn ("Worker failed to boot"), every worker."""
        cpu = getattr(worker, CPU)
        try:
            os.sched_setaffinity(0, {cpu})
        except OSError as error:
            server.log.warning("worker %s runs unpinned: it cannot be pinned to CPU %s (%s)", worker.pid, cpu, error)


def worker_cpus(
    asked: bool | None, on_sqlite: bool, workers: int, cpus: Sequence[int] | None = None
) -> WorkerCpus | None:
    """The hooks that pin `hub serve`'s workers, or None to leave them to the scheduler.
    `asked`: `--pin-workers` (True), `--no-pin-workers` (False), or neither (None: pinned
    on SQLite when there are two workers or more). Never with fewer than two CPUs to spread
    them over, where pinning changes nothing."""
    cpus = allowed_cpus() if cpus is None else list(cpus)
    if asked is False or len(cpus) < 2:
        return None
    if asked is None and not (on_sqlite and workers >= 2):
        return None
    return WorkerCpus(cpus)

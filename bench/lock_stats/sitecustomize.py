"""Loaded by every Python process started with this folder on PYTHONPATH (bench/served_lock.py
starts `hub serve` so): when HUB_BENCH_LOCK_STATS names a folder, each hold of the SQLite
writers' lock (hub.db.database._SqliteConnection) is timed, and a process that held it writes
its holds there as it exits, `<pid>.json`: [[taken at (Unix s), held (s)], ...]. The module is
patched as it is imported, before any connection exists; nothing else changes."""

from __future__ import annotations

import atexit
import importlib.machinery
import json
import os
import sys
import time

FOLDER = os.environ.get("HUB_BENCH_LOCK_STATS")
TARGET = "hub.db.database"


def _timed(module) -> None:
    connection = module._SqliteConnection
    take, give_back = connection.take_write_lock, connection.give_back_write_lock
    holds: list[tuple[float, float]] = []

    def timed_take(self) -> None:
        was = self._writing
        take(self)
        if self._writing and not was:
            self._bench_taken = (time.time(), time.perf_counter())

    def timed_give_back(self) -> None:
        was = self._writing
        give_back(self)
        taken = getattr(self, "_bench_taken", None)
        if was and not self._writing and taken is not None:
            holds.append((taken[0], time.perf_counter() - taken[1]))
            self._bench_taken = None

    def write_out() -> None:
        if holds:
            with open(os.path.join(FOLDER, f"{os.getpid()}.json"), "w") as out:
                json.dump(holds, out)

    connection.take_write_lock, connection.give_back_write_lock = timed_take, timed_give_back
    atexit.register(write_out)  # gunicorn's workers exit through sys.exit on a graceful stop


class _Finder:
    """Finds hub.db.database as Python would, and times the lock once the module has run."""

    @staticmethod
    def find_spec(name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def run_then_time(module) -> None:
                run(module)
                _timed(module)

            spec.loader.exec_module = run_then_time
        return spec


if FOLDER:
    sys.meta_path.insert(0, _Finder())

"""A measurement in a fresh process (bench/camt.py, bench/pdf.py): the parent runs a piece of
code with `run_child`, the code ends with `report`, one JSON line of what it measured. Also
what the bench scripts share besides: the CPU of a process tree and of PostgreSQL's
processes, and the `--backend` option of those that measure both databases."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
from contextlib import suppress
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgresql")


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """`--backend sqlite|postgresql|both`, both by default (`chosen_backends` reads it)."""
    parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both")


def chosen_backends(backend: str) -> list[str]:
    """The databases `--backend` names, in the order they are measured."""
    return list(BACKENDS) if backend == "both" else [backend]


def peak_mb(pid: int | str = "self") -> float:
    """VmHWM: the most memory the process (this one by default) has held resident, in MB."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


class ChildrenPeak:
    """The most memory any child of this process held resident (VmHWM), in MB, sampled every
    `every_s` while the block runs (the statement import's parsing process,
    hub.adapters.camt_process). Not getrusage's RUSAGE_CHILDREN: a child's ru_maxrss counts
    the parent's memory it was forked from before it ran its own program. For the same reason a
    child is sampled only once it runs its own program: between the fork and the exec its VmHWM
    is this process's (sampled there, an import's 128 MB was once reported as the parser's)."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s = every_s
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._own_command = Path("/proc/self/cmdline").read_bytes()

    def __enter__(self) -> ChildrenPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(self.every_s):
            for pid in _children():
                with suppress(OSError, StopIteration):  # gone meanwhile
                    # its command first: once it is not ours, the exec is done, and VmHWM is the child's own
                    if Path(f"/proc/{pid}/cmdline").read_bytes() != self._own_command:
                        self.mb = max(self.mb, peak_mb(pid))


def _children() -> set[int]:
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with suppress(OSError):
            pids.update(int(pid) for pid in Path(f"/proc/self/task/{task}/children").read_text().split())
    return pids


def children_cpu_s() -> float:
    """User and system CPU seconds of the children the process has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_s(pids: set[int]) -> float:
    """User and system CPU seconds of the live processes among `pids` (/proc: this machine's)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> set[int]:
    """`root` and every process under it (gunicorn's workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, grown = {root}, True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    return tree


def postgres_processes() -> set[int]:
    """PostgreSQL's server processes on this machine (its backends among them)."""
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/cmdline").read_bytes().startswith(b"postgres"):
                    pids.add(int(entry))
            except OSError:
                continue
    return pids


def machine_times() -> tuple[float, float]:
    """This machine's CPU seconds so far, all of them and those idle (/proc/stat's first line:
    idle and iowait of all the cores)."""
    with open("/proc/stat") as stat:
        fields = [int(f) for f in stat.readline().split()[1:8]]
    tick = os.sysconf("SC_CLK_TCK")
    return sum(fields) / tick, (fields[3] + fields[4]) / tick


def report(seconds: float, **measured: float) -> None:
    """The child's answer: the seconds it measured, what else it counted, its peak memory."""
    print(json.dumps({"seconds": seconds, **measured, "peak_mb": peak_mb()}))


def run_child(code: str, *args: str) -> dict:
    """Run `code` in a fresh interpreter in the repository (so it imports hub and bench) and
    return its report; its error output ends the benchmark if it fails."""
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}

"""Child processes whose output is read to its end by a thread of their own, so a chatty
child never blocks on a full pipe while the test waits for something else."""

from __future__ import annotations

import re
import subprocess
import threading

from tests.support.waiting import wait_until

READ_S = 60


class Drained:
    """One output pipe of a child, drained line by line into memory as it comes. Reads like
    the pipe it replaces: `readline()` waits for the next line, `read()` for the end."""

    def __init__(self, pipe) -> None:
        self._pipe = pipe
        self._nothing = pipe.read(0)  # b"" or "", as the pipe reads
        self._lines: list = []
        self._taken = 0  # lines already given out by readline()
        self._ended = threading.Event()
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            for line in iter(self._pipe.readline, self._nothing):
                with self._arrived:
                    self._lines.append(line)
                    self._arrived.notify_all()
        finally:
            self._ended.set()
            with self._arrived:
                self._arrived.notify_all()
            self._pipe.close()

    def readline(self):
        """The next line, or an empty one once the child has closed its output."""
        with self._arrived:
            self._arrived.wait_for(lambda: self._taken < len(self._lines) or self._ended.is_set(), READ_S)
            if self._taken == len(self._lines):
                return self._nothing
            self._taken += 1
            return self._lines[self._taken - 1]

    def read(self):
        """Everything not yet given out, once the child has closed its output."""
        wait_until(self._ended.is_set, READ_S, "a child process to close its output")
        return self.read1()

    def read1(self):
        """What has arrived and was not yet given out, without waiting."""
        with self._arrived:
            rest = self._lines[self._taken :]
            self._taken = len(self._lines)
        return self._nothing.join(rest) if rest else self._nothing

    def search(self, pattern: re.Pattern):
        """The first match of `pattern` in all that has arrived (read or not), or None."""
        with self._arrived:
            return pattern.search(self._nothing.join(self._lines))

    def close(self) -> None:
        pass  # the drain closes the pipe at its end


def drained(process: subprocess.Popen) -> subprocess.Popen:
    """`process` with each of its stdout and stderr pipes replaced by a `Drained` reader."""
    if process.stdout is not None:
        process.stdout = Drained(process.stdout)  # type: ignore[assignment]
    if process.stderr is not None:
        process.stderr = Drained(process.stderr)  # type: ignore[assignment]
    return process


def announced(process: subprocess.Popen, pattern: re.Pattern, timeout_s: float, what: str):
    """The match of `pattern` once the drained `process` has printed it on stdout (as a
    server prints the address it bound); fails with its stderr if it exits first."""

    def printed():
        found = process.stdout.search(pattern)
        if found is None and process.poll() is not None:
            errors = process.stderr.read1() if process.stderr else ""
            raise AssertionError(f"{what}: the process exited ({process.returncode}): {errors!r}")
        return found

    return wait_until(printed, timeout_s, what)

"""A time limit on receiving a request body, so a slow client cannot hold a worker.

gunicorn hands the application a blocking socket: a client sending its body one byte
every two seconds keeps `wsgi.input.read()` waiting, and a socket timeout would not help
(each byte arrives in time). So one thread per process keeps the deadlines of the bodies
being read, and at a deadline it shuts the reading side of that connection
(`shutdown(SHUT_RD)`): the blocked read returns what arrived so far, the endpoint answers
with a SOAP fault (the writing side still works), and the worker thread is free again.

Only servers that expose their socket (gunicorn's `gunicorn.socket`) are watched; for
others `watch` does nothing.

The thread looks at least every `LOOK_EVERY_S`, and a new watch wakes it only when its
deadline comes before the thread would look anyway. A body arrives in milliseconds and the
limit is seconds, so that is almost never: the thread was woken for every request, which
cost every SOAP exchange a switch to it and back (BENCHMARKS.md, run 20).
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

# How long the thread waits, at most, before it looks at the deadlines again.
LOOK_EVERY_S = 1.0


@dataclass(order=True)
class _Watch:
    deadline: float
    seq: int
    sock: socket.socket | None = field(compare=False)  # None once the read is over
    expired: bool = field(default=False, compare=False)


class ReadDeadlines:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[_Watch] = []
        self._seq = itertools.count()
        self._thread_pid: int | None = None  # the process the thread runs in (gunicorn forks after import)
        self._looks_at = 0.0  # when the waiting thread looks again by itself (time.monotonic())

    @contextmanager
    def watch(self, sock: socket.socket | None, timeout_s: float) -> Iterator[_Watch]:
        """While the body is read: at `timeout_s` from now, the reading side of `sock` is
        shut and the yielded watch says `expired`."""
        entry = _Watch(time.monotonic() + timeout_s, next(self._seq), sock)
        if sock is None:
            yield entry
            return
        with self._lock:
            self._start_thread()
            heapq.heappush(self._heap, entry)
            if entry.deadline < self._looks_at:  # due before the thread would look
                self._lock.notify()
        try:
            yield entry
        finally:
            with self._lock:  # under the lock: never shut after the read is over
                entry.sock = None

    def _start_thread(self) -> None:
        if self._thread_pid != os.getpid():
            self._thread_pid = os.getpid()
            self._heap.clear()  # entries of the parent process are not ours
            self._looks_at = 0.0  # the new thread looks as it starts
            threading.Thread(target=self._run, name="hub-body-deadlines", daemon=True).start()

    def _run(self) -> None:
        with self._lock:
            while True:
                while self._heap and self._heap[0].sock is None:
                    heapq.heappop(self._heap)  # finished in time
                now = time.monotonic()
                late = self._heap[0].deadline - now if self._heap else LOOK_EVERY_S
                if late > 0:
                    self._looks_at = now + min(late, LOOK_EVERY_S)
                    self._lock.wait(min(late, LOOK_EVERY_S))
                    continue
                entry = heapq.heappop(self._heap)
                # Not over: the loop's start dropped the watches whose read was, and `watch` ends
                # one (sock = None) under this lock only.
                assert entry.sock is not None
                entry.expired = True
                try:
                    entry.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass  # the client went away meanwhile

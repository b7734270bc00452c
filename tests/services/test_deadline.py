"""hub.services.deadline.ReadDeadlines on its own: a read past its deadline has its socket's
reading side shut, on time; reads that end in time do not wake the deadline thread each
(it looks every LOOK_EVERY_S), where it was once woken for every request.
tests/ops/test_slow_clients.py checks the same through a real `hub serve`."""

from __future__ import annotations

import socket
import time

from hub.services import deadline
from hub.services.deadline import ReadDeadlines


def counting_wakes(deadlines: ReadDeadlines) -> list[int]:
    woken = [0]
    notify = deadlines._lock.notify

    def counted(n: int = 1) -> None:
        woken[0] += 1
        notify(n)

    deadlines._lock.notify = counted  # type: ignore[method-assign]
    return woken


def test_reads_that_end_in_time_do_not_wake_the_deadline_thread_each():
    deadlines = ReadDeadlines()
    woken = counting_wakes(deadlines)
    reading, _sending = socket.socketpair()
    started = time.monotonic()
    for _ in range(2000):
        with deadlines.watch(reading, 10) as watch:
            pass
        assert not watch.expired
        time.sleep(0.0005)
    seconds = time.monotonic() - started
    assert woken[0] <= 2, f"woken {woken[0]} times for 2,000 reads in {seconds:.1f} s"


def test_a_read_past_its_deadline_is_shut_on_time_even_between_two_looks(monkeypatch):
    """A deadline sooner than the thread's next look wakes it: the read ends at its deadline."""
    monkeypatch.setattr(deadline, "LOOK_EVERY_S", 5.0)
    deadlines = ReadDeadlines()
    reading, sending = socket.socketpair()
    with deadlines.watch(reading, 30):  # the thread waits up to LOOK_EVERY_S now
        pass
    time.sleep(0.1)
    started = time.monotonic()
    with deadlines.watch(reading, 0.3) as watch:
        sending.sendall(b"<soap:Env")
        received = reading.recv(100)
        assert reading.recv(100) == b""  # blocks until the reading side is shut
    waited = time.monotonic() - started
    assert watch.expired and received == b"<soap:Env"
    assert 0.25 < waited < 2, waited


def test_a_read_that_ends_in_time_is_not_shut_later():
    deadlines = ReadDeadlines()
    reading, sending = socket.socketpair()
    with deadlines.watch(reading, 0.2) as watch:
        sending.sendall(b"whole")
        assert reading.recv(100) == b"whole"
    time.sleep(0.5)  # past the deadline: the watch is over, the socket is the caller's again
    sending.sendall(b"more")
    assert reading.recv(100) == b"more"
    assert not watch.expired

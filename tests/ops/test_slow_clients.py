"""A client sending its request body slowly (one byte every 2 s) to a real `hub serve`:
it gets a SOAP fault once `[security] request_body_timeout_s` has passed and the worker is
free again, and meanwhile /healthz answers within a second on another connection (the
threaded worker model: a slow client holds one thread, not the worker)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

import pytest
from click.testing import CliRunner
from lxml import etree

from hub import ns
from hub.app import cli
from hub.cli.portal import enable_portal
from hub.cli.serve import THREADS
from tests.support.factories import config_copy
from tests.support.served import ServedHub
from tests.support.waiting import wait_until

BODY_TIMEOUT_S = 3
TRICKLE_EVERY_S = 2


def serve(tmp_path, workers: int, threads: int = THREADS) -> ServedHub:
    config_dir = config_copy(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    hub_toml = config_dir / "hub.toml"
    hub_toml.write_text(
        hub_toml.read_text().replace("request_body_timeout_s = 10", f"request_body_timeout_s = {BODY_TIMEOUT_S}")
    )
    enable_portal(config_dir)

    assert CliRunner().invoke(cli, ["--config", str(config_dir), "init"]).exit_code == 0
    return ServedHub(config_dir, tmp_path / "serve.log", workers=workers, threads=threads)


@pytest.fixture
def served(tmp_path):
    hub = serve(tmp_path, workers=1)
    yield hub
    hub.stop()


@pytest.fixture
def two_workers_of_one_thread(tmp_path):
    hub = serve(tmp_path, workers=2, threads=1)
    hub.workers()  # both started, so that both take connections
    yield hub
    hub.stop()


class Trickler(threading.Thread):
    """POSTs a 1,000-byte body to /soap/office one byte every 2 s, and keeps the answer."""

    def __init__(self, url: str, path: str = "/soap/office") -> None:
        super().__init__(daemon=True)
        self.path = path
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.answer = b""
        self.answered_after_s: float | None = None
        self.closed_by_hub = False
        self.trickling = threading.Event()  # the head is sent and the body has begun

    def run(self) -> None:
        started = time.monotonic()
        self.sock.sendall(
            f"POST {self.path} HTTP/1.1\r\nHost: hub\r\n".encode()
            + b"Content-Type: text/xml; charset=utf-8\r\nContent-Length: 1000\r\n\r\n"
        )
        self.sock.setblocking(False)
        while time.monotonic() - started < 60:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                self.closed_by_hub = True  # after answering: what is left of the body is not read
                break
            if chunk:
                self.answer += chunk
                self.answered_after_s = self.answered_after_s or time.monotonic() - started
                continue
            try:
                self.sock.send(b"<")
            except OSError:
                break
            self.trickling.set()
            time.sleep(TRICKLE_EVERY_S)
        self.sock.close()


def healthz_seconds(url: str) -> float:
    started = time.monotonic()
    with urllib.request.urlopen(url + "/healthz", timeout=30) as answer:
        assert answer.status == 200
    return time.monotonic() - started


def test_a_trickling_body_gets_a_fault_and_healthz_answers_meanwhile(served):
    worker = served.workers()
    trickler = Trickler(served.url)
    trickler.start()
    wait_until(trickler.trickling.is_set, 10, "the request's body to begin trickling")
    waits = []
    while trickler.answered_after_s is None and len(waits) < 20:
        waits.append(healthz_seconds(served.url))
        time.sleep(0.5)
    assert max(waits) < 1, waits
    trickler.join(30)

    assert trickler.answered_after_s is not None and trickler.answered_after_s < BODY_TIMEOUT_S + TRICKLE_EVERY_S + 2
    head, _, body = trickler.answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 500") and trickler.closed_by_hub, head
    envelope = etree.fromstring(body)
    fault = envelope.find(f"{{{ns.SOAP_ENV_11}}}Body/{{{ns.SOAP_ENV_11}}}Fault")
    assert fault.findtext("faultcode").endswith("Client.InvalidRequest")
    assert f"did not arrive within {BODY_TIMEOUT_S} s" in fault.findtext("faultstring")
    assert served.workers() == worker  # the same worker: freed, not killed
    assert healthz_seconds(served.url) < 1


def test_several_trickling_clients_do_not_stop_the_hub(served):
    tricklers = [Trickler(served.url) for _ in range(3)]  # fewer than a worker's threads
    for t in tricklers:
        t.start()
    wait_until(lambda: all(t.trickling.is_set() for t in tricklers), 10, "three bodies trickling")
    assert healthz_seconds(served.url) < 1
    for t in tricklers:
        t.join(30)
        assert b"did not arrive within" in t.answer


def test_a_trickling_portal_form_gets_408(served):
    trickler = Trickler(served.url, "/portal/logowanie")
    trickler.start()
    wait_until(trickler.trickling.is_set, 10, "the form's body to begin trickling")
    assert healthz_seconds(served.url) < 1
    trickler.join(30)
    assert trickler.answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 3 s" in trickler.answer


def test_a_worker_with_no_thread_free_leaves_new_connections_to_the_other(two_workers_of_one_thread):
    """gunicorn's gthread worker takes every connection it is offered and queues it for its
    threads; `hub serve` has it take one only while a thread is free (`worker_connections` =
    threads). With one worker's only thread held by a trickling body, every request goes to
    the other worker and is answered at once, none waits behind the trickler."""
    served = two_workers_of_one_thread
    trickler = Trickler(served.url)
    trickler.start()
    wait_until(trickler.trickling.is_set, 10, "the request's body to begin trickling")
    waits = [healthz_seconds(served.url) for _ in range(12)]
    assert trickler.answered_after_s is None  # held all along
    assert max(waits) < 1, waits
    trickler.join(30)
    assert b"did not arrive within" in trickler.answer


def test_a_connection_that_sends_nothing_holds_a_thread_for_5_s_at_most(tmp_path):
    """A worker of one thread, and a connection that sends nothing: gunicorn (26+) gives up on
    it after 5 s and closes it (no keep-alive), so it cannot keep the worker from taking the
    next connection, which `worker_connections` = threads would otherwise let it do."""
    served = serve(tmp_path, workers=1, threads=1)
    try:
        host, port = served.url.removeprefix("http://").split(":")
        silent = socket.create_connection((host, int(port)), timeout=30)
        started = time.monotonic()
        time.sleep(0.2)  # taken by the worker's thread before the request below
        assert healthz_seconds(served.url) < 8
        assert silent.recv(1) == b""  # closed by the hub, with no answer
        assert time.monotonic() - started < 8
        silent.close()
    finally:
        served.stop()


@pytest.mark.parametrize(
    "value, problem",
    [
        ("0", "must be greater than 0, got 0"),
        ("301", "must be at most 300, got 301"),
        ('"10"', 'expected an integer, got "10"'),
    ],
)
def test_request_body_timeout_is_checked(tmp_path, value, problem):
    config_dir = config_copy(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    hub_toml = config_dir / "hub.toml"
    hub_toml.write_text(
        hub_toml.read_text().replace("request_body_timeout_s = 10", f"request_body_timeout_s = {value}")
    )
    result = CliRunner().invoke(cli, ["--config", str(config_dir), "config", "check"])
    assert result.exit_code != 0
    assert f"hub.toml: [security]: request_body_timeout_s: {problem}" in result.stderr

"""PostgreSQL restarted under load (issue 7): while client threads send signed
VerifyCoupon and RedeemCoupon through `hub serve` (gunicorn, two workers), the
database is restarted (`pg_ctl restart -m fast`), then stopped, left down until a
round of requests has met it, and started again. Every request gets an answer, a normal one or a
soap:Server fault a person can act on; none hangs, none is cut off. Once the
database is back the same processes serve again and /readyz says ready; the
ledger verifies, every coupon is captured at most once, a redeem retried with
its RequestId captures once, and the message log's chain is intact.

The database is a private cluster of the test's own (tests/support/pgcluster.py)."""

from __future__ import annotations

import functools
import http.client
import itertools
import json
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from hub import ns
from hub.coupons.models import Redemption
from hub.ledger.models import LedgerTransfer
from hub.ledger.service import Ledger
from hub.services.faults import server_fault
from hub.signing.sign import sign_envelope
from tests.support.factories import NIP, OPERATOR, funded_company, issue
from tests.support.pgcluster import PrivateCluster, migrated_url, running_cluster
from tests.support.served import HUB, REPO, ServedHub
from tests.support.soap import office_request
from tests.support.waiting import wait_until
from tests.support.wsgi import RunningHub

SOAP = f"{{{ns.SOAP_ENV_11}}}"
O = f"{{{ns.OFFICE}}}"  # noqa: E741 - the office namespace
OFFICE = "1465"
CLIENT = "pojazd-1465"
REJ_NEW = 161_50
CLIENTS = 4
CLIENT_TIMEOUT_S = 30  # no answer in this long is a hang
RECOVERY_S = 15  # after the database is back, requests succeed again within this long
DOWN_REQUESTS = 2 * CLIENTS  # the database stays down until this many requests have met it
DOWN_S_MAX = 60
TO_REDEEM = 400
# what an operator's faultstring must not show: SQL, driver and Python internals
LEAKS = (
    "select ",
    "insert ",
    "update ",
    "psycopg",
    "sqlalchemy",
    "operationalerror",
    "traceback",
    'file "',
    "sqlstate",
    "fatal:",
)


@pytest.fixture
def cluster():
    with running_cluster() as private:
        yield private


@pytest.fixture
def db_url(cluster) -> str:
    return migrated_url(cluster)


# -- `hub serve` and its callers ----------------------------------------------


class Served(ServedHub):
    """`hub serve --workers 2` on the test's config, with its /readyz."""

    def readyz(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=CLIENT_TIMEOUT_S) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


@pytest.fixture
def served(running_hub, tmp_path):
    server = Served(running_hub.config_dir, tmp_path / "serve.log", workers=2)
    yield server
    server.stop()


@dataclass
class Outcome:
    """One request as its caller saw it."""

    operation: str
    started: float
    ended: float
    status: int | None = None
    answer: etree._Element | None = None
    error: str | None = None  # no HTTP answer: a timeout, a reset, a body that is not XML
    request_id: str | None = None
    coupon: str | None = None

    @property
    def fault(self) -> tuple[str, str] | None:
        fault = self.answer.find(f"{SOAP}Body/{SOAP}Fault") if self.answer is not None else None
        if fault is None:
            return None
        prefix, _, local = (fault.findtext("faultcode") or "").rpartition(":")
        return f"{{{fault.nsmap.get(prefix)}}}{local}", fault.findtext("faultstring") or ""

    def payload(self) -> etree._Element:
        return self.answer.find(f"{SOAP}Body")[0]


def redeem_body(hub: RunningHub, request_id: str, coupon: str) -> bytes:
    envelope = office_request(
        "RedeemCoupon",
        RequestId=request_id,
        CouponId=coupon,
        OfficeCode=OFFICE,
        CaseNumber="WK.5410.7.2026",
        CaseType="REJ_NEW",
    )
    return etree.tostring(sign_envelope(envelope, hub.identity(CLIENT)))


def verify_body(hub: RunningHub, coupon: str) -> bytes:
    return etree.tostring(
        sign_envelope(
            office_request("VerifyCoupon", CouponId=coupon, OfficeCode=OFFICE, CaseType="REJ_NEW"), hub.identity(CLIENT)
        )
    )


def send(url: str, operation: str, body: bytes, **about) -> Outcome:
    outcome = Outcome(operation, time.monotonic(), 0.0, **about)
    request = urllib.request.Request(
        url + "/soap/office", data=body, headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    try:
        try:
            with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT_S) as response:
                outcome.status, data = response.status, response.read()
        except urllib.error.HTTPError as e:
            outcome.status, data = e.code, e.read()
        outcome.answer = etree.fromstring(data)
    except (OSError, http.client.HTTPException, etree.XMLSyntaxError) as e:
        outcome.error = f"{type(e).__name__}: {e}"
    outcome.ended = time.monotonic()
    return outcome


def sent_until_answered(url: str, operation: str, signed: Callable[[], bytes]) -> Outcome:
    """What a client does with a fault that says to try again shortly: sends the request
    again, signed anew, until it gets another answer or RECOVERY_S has passed. A worker
    whose last check for a restored database met the outage holds state changes (and says
    so) until its next check, a second later, whatever requests it served meanwhile."""
    deadline = time.monotonic() + RECOVERY_S
    while True:
        outcome = send(url, operation, signed())
        if outcome.fault is None or "try again" not in outcome.fault[1] or time.monotonic() > deadline:
            return outcome
        time.sleep(0.2)


class Load:
    """CLIENTS threads, each sending a VerifyCoupon of a coupon nobody redeems, then a
    RedeemCoupon of a fresh coupon, until stopped."""

    def __init__(self, hub: RunningHub, url: str, to_verify: list[str], to_redeem: list[str]) -> None:
        self.hub, self.url = hub, url
        self.to_verify = itertools.cycle(to_verify)
        self.to_redeem: queue.SimpleQueue[str] = queue.SimpleQueue()
        for coupon in to_redeem:
            self.to_redeem.put(coupon)
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT_S + 10)
        assert not any(t.is_alive() for t in self._threads), "a client thread never got its answer"

    def _client(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                coupon = next(self.to_verify)
            self._keep(send(self.url, "VerifyCoupon", verify_body(self.hub, coupon), coupon=coupon))
            try:
                coupon = self.to_redeem.get_nowait()
            except queue.Empty:
                continue
            request_id = str(uuid.uuid4())
            self._keep(
                send(
                    self.url,
                    "RedeemCoupon",
                    redeem_body(self.hub, request_id, coupon),
                    request_id=request_id,
                    coupon=coupon,
                )
            )

    def _keep(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def since(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.started >= moment]

    def wait_for_successes(self, since: float, count: int, seconds: float) -> float:
        """The moment `count` requests started after `since` were answered normally."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ok = sorted(o.ended for o in self.since(since) if o.status == 200)
            if len(ok) >= count:
                return ok[count - 1]
            time.sleep(0.1)
        raise AssertionError(
            f"no {count} normal answers within {seconds} s of the database coming back: "
            f"{[describe(o) for o in self.since(since)][-5:]}"
        )


def describe(outcome: Outcome) -> str:
    return f"{outcome.operation} {outcome.status} {outcome.error or outcome.fault}"


def check_answer(outcome: Outcome) -> None:
    """A normal answer, or a soap:Server fault whose faultstring a person can act on."""
    assert outcome.error is None, f"{outcome.operation} got no SOAP answer: {outcome.error}"
    assert outcome.ended - outcome.started < CLIENT_TIMEOUT_S
    assert outcome.answer.tag == f"{SOAP}Envelope", etree.tostring(outcome.answer)[:300]
    fault = outcome.fault
    if outcome.status == 200:
        assert fault is None
        payload = outcome.payload()
        if outcome.operation == "VerifyCoupon":
            assert (payload.findtext(O + "Valid"), payload.findtext(O + "Status")) == ("true", "ISSUED")
        else:
            assert payload.findtext(O + "RedemptionId") and payload.findtext(O + "CapturedAmount") == "161.50"
        return
    assert outcome.status == 500 and fault is not None, (
        f"HTTP {outcome.status} without a fault: {etree.tostring(outcome.answer)[:300]}"
    )
    code, text = fault
    assert code == f"{SOAP}Server", f"{outcome.operation} during the outage: {fault}"
    assert "try again" in text, f"the faultstring does not say what to do: {text}"
    assert not any(leak in text.lower() for leak in LEAKS), f"the faultstring shows internals: {text}"
    detail = outcome.answer.find(f"{SOAP}Body/{SOAP}Fault/detail/{{{ns.COMMON}}}FaultDetail")
    assert detail is not None and detail.findtext(f"{{{ns.COMMON}}}RequestId") in text


# -- the test -------------------------------------------------------------------


def outage(load: Load, served: Served, cluster: PrivateCluster, kind: str) -> list[Outcome]:
    """Break the database under `load`, bring it back, and wait until the hub serves again;
    the requests that met the outage."""
    load.wait_for_successes(time.monotonic(), 2 * CLIENTS, RECOVERY_S)  # under load before the outage
    began = time.monotonic()
    if kind == "restart":
        cluster.pg_ctl("restart", "-m", "fast")
    else:
        cluster.pg_ctl("stop", "-m", "fast")
        stopped = time.monotonic()
        wait_until(
            lambda: len(load.since(stopped)) >= DOWN_REQUESTS,
            DOWN_S_MAX,
            f"{DOWN_REQUESTS} requests to meet the stopped database",
        )
        status, body = served.readyz()
        assert status == 503 and "database" in body["failing"], body
        cluster.pg_ctl("start")
    back = time.monotonic()
    recovered = load.wait_for_successes(back, 2 * CLIENTS, RECOVERY_S)
    status, body = served.readyz()
    assert status == 200 and body["ready"], body
    return [o for o in load.since(began - CLIENT_TIMEOUT_S) if o.ended >= began and o.started <= recovered]


@pytest.mark.slow
@pytest.mark.postgresql
def test_postgresql_restarted_under_load_gives_faults_not_hangs_and_the_hub_recovers(running_hub, served, cluster):
    hub = running_hub.hub
    funded_company(hub, (TO_REDEEM + 8) * REJ_NEW)
    to_verify = [c.coupon_id for c in issue(hub, 8).coupons]
    to_redeem = [c.coupon_id for c in issue(hub, TO_REDEEM).coupons]

    workers = served.workers()
    assert len(workers) == 2
    with Load(running_hub, served.url, to_verify, to_redeem) as load:
        restarted = outage(load, served, cluster, "restart")
        stopped = outage(load, served, cluster, "stop-start")
        load.wait_for_successes(time.monotonic(), 2 * CLIENTS, RECOVERY_S)

    assert served.workers() == workers, "a worker was replaced: the hub recovered by a restart"
    assert restarted, "no request was in flight during the restart"
    assert any(o.fault for o in stopped), "no request met the stopped database: the test never tested it"
    for outcome in load.outcomes:
        check_answer(outcome)
    faulted = [o for o in load.outcomes if o.fault is not None]

    # state: each redeem answered normally captured its coupon once, a faulted one did not or
    # did (committed as the connection died); retried with its RequestId it captures once
    redeemed = {
        o.coupon: o.payload().findtext(O + "RedemptionId")
        for o in load.outcomes
        if o.operation == "RedeemCoupon" and o.status == 200
    }
    for outcome in [o for o in faulted if o.operation == "RedeemCoupon"] + [
        o for o in load.outcomes if o.operation == "RedeemCoupon"
    ][-1:]:
        signed = functools.partial(redeem_body, running_hub, outcome.request_id, outcome.coupon)
        answers = [sent_until_answered(served.url, "RedeemCoupon", signed) for _ in range(2)]
        for answer in answers:
            assert answer.status == 200, describe(answer)
        first, second = (a.payload().findtext(O + "RedemptionId") for a in answers)
        assert first == second == redeemed.setdefault(outcome.coupon, first)

    with hub.db.read() as s:
        Ledger(s).verify()
        posts = s.scalar(select(func.count()).select_from(LedgerTransfer).where(LedgerTransfer.kind == "POST"))
        rows = s.execute(select(Redemption.coupon_id, func.count()).group_by(Redemption.coupon_id)).all()
        assert {coupon: n for coupon, n in rows if n > 1} == {}
        assert {coupon for coupon, _ in rows} == {c.replace("-", "") for c in redeemed}
        assert posts == len(rows)
    account = hub.companies.account(NIP, actor=OPERATOR)
    assert account.posted_grosze == (TO_REDEEM + 8 - len(redeemed)) * REJ_NEW
    assert account.held_grosze == (TO_REDEEM + 8 - len(redeemed)) * REJ_NEW
    audit = subprocess.run(
        [*HUB, "--config", str(running_hub.config_dir), "audit", "verify"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert audit.returncode == 0, audit.stderr


def test_a_database_failure_in_a_request_is_a_server_fault_that_says_to_try_again():
    lost = OperationalError(
        "SELECT ledger_accounts.id FROM ledger_accounts", {}, Exception("server closed the connection unexpectedly")
    )
    fault = server_fault("4f0c", lost)
    assert (
        fault.code == "Server"
        and "try again" in fault.message
        and "same RequestId" in fault.message
        and "4f0c" in fault.message
    )
    assert not any(leak in fault.message.lower() for leak in LEAKS)
    assert "try again" not in server_fault("4f0c", ValueError("a bug")).message

"""kill -9 of a `hub serve` worker in the middle of a large IssueCoupons and of a
RedeemCoupon (the moment the hub has logged the request, when its business work begins):
nothing partial is left behind (no half batch, no half capture, the ledger verifies), and
the same RequestId retried at the restarted worker gets one result, the same on a second
retry."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from hub import ns
from hub.audit.messagelog import REQUEST, MessageRecord
from hub.coupons.models import Coupon, CouponBatch, Redemption
from hub.ledger.models import LedgerTransfer
from hub.ledger.service import Ledger
from hub.signing.sign import sign_envelope
from tests.support.factories import NIP, OPERATOR, funded_company, issue
from tests.support.served import ServedHub, children
from tests.support.soap import CLIENT_ID, MY_NIP, company_request, fault_of, office_request
from tests.support.waiting import wait_until
from tests.support.wsgi import RunningHub

SOAP = f"{{{ns.SOAP_ENV_11}}}"
C = f"{{{ns.COMPANY}}}"
O = f"{{{ns.OFFICE}}}"  # noqa: E741 - the office namespace, as C is the company's
COUNT = 1000
REJ_NEW = 161_50


class Served(ServedHub):
    """One `hub serve --workers 1` process (gunicorn master) on the test's config."""

    def __init__(self, running_hub: RunningHub, log_path: Path) -> None:
        self.running_hub = running_hub
        super().__init__(running_hub.config_dir, log_path)

    def worker(self) -> int:
        workers = self.workers()
        assert len(workers) == 1, f"no single worker under gunicorn {self.proc.pid}: {workers}"
        return workers[0]

    def wait_new_worker(self, old: int) -> None:
        wait_until(
            lambda: (workers := children(self.proc.pid)) and old not in workers, 60, f"gunicorn to replace worker {old}"
        )
        self.ready()


@pytest.fixture
def served(running_hub, tmp_path):
    server = Served(running_hub, tmp_path / "serve.log")
    yield server
    server.stop()


def requests_logged(hub) -> int:
    with hub.db.read() as s:
        return s.scalar(select(func.count()).select_from(MessageRecord).where(MessageRecord.direction == REQUEST))


def killed_in_flight(served: Served, body: bytes, path: str) -> bool:
    """Send `body`, SIGKILL the worker as soon as the hub has logged the request (its business
    code runs right after that, in the same worker); True when no answer came back (the kill
    hit the request), False when the answer arrived first."""
    result: list = []

    def send():
        try:
            result.append(served.post(body, path))
        except Exception as e:  # noqa: BLE001 - the connection dies with the worker
            result.append(e)

    hub = served.running_hub.hub
    worker = served.worker()
    logged = requests_logged(hub)
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    wait_until(lambda: result or requests_logged(hub) > logged, 60, "the hub to log the request", 0.001)
    answered_before = bool(result)
    os.kill(worker, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the client hung after the worker was killed"
    served.wait_new_worker(worker)
    if answered_before:
        return False
    outcome = result[0]
    return isinstance(outcome, Exception)


def ledger_verifies(hub) -> None:
    with hub.db.read() as s:
        Ledger(s).verify()


# -- (a) IssueCoupons of 1000 -------------------------------------------------


def issue_request(served: Served, request_id: str) -> bytes:
    envelope = company_request("IssueCoupons", RequestId=request_id, CompanyNip=MY_NIP, CaseType="REJ_NEW", Count=COUNT)
    return etree.tostring(sign_envelope(envelope, served.running_hub.identity(CLIENT_ID)))


def company_state(hub) -> tuple[int, int, int]:
    with hub.db.read() as s:
        coupons = s.scalar(select(func.count()).select_from(Coupon))
        batches = s.scalar(select(func.count()).select_from(CouponBatch))
    return coupons, batches, hub.companies.account(MY_NIP, actor=OPERATOR).held_grosze


def test_kill_during_a_1000_coupon_issue_leaves_no_partial_batch(running_hub, served):
    hub = running_hub.hub
    funded_company(hub, 7 * COUNT * REJ_NEW, nip=MY_NIP, name="Łódź Leasing Spółka z o.o.")
    issued_before = 0
    killed = None
    for _ in range(6):
        request_id = str(uuid.uuid4())
        hit = killed_in_flight(served, issue_request(served, request_id), "/soap/company")
        coupons, batches, held = company_state(hub)
        # all or nothing, whatever instant the kill hit
        assert (coupons - issued_before, held - issued_before * REJ_NEW) in ((0, 0), (COUNT, COUNT * REJ_NEW))
        assert batches * COUNT == coupons
        ledger_verifies(hub)
        if hit:
            killed = request_id
            break
        issued_before = coupons
    assert killed, "every IssueCoupons answered before the kill: the test never killed a request in flight"

    answers = []
    for retry in (served, running_hub):  # the restarted worker, then another server on the same database
        status, envelope = retry.post(issue_request(served, killed), "/soap/company")
        assert status == 200, fault_of(envelope)
        payload = envelope.find(f"{SOAP}Body")[0]
        answers.append(
            (payload.findtext(C + "BatchId"), len(payload.findall(C + "Coupon")), payload.findtext(C + "TotalHeld"))
        )
    assert answers[0] == answers[1]
    assert answers[0][1] == COUNT and answers[0][2] == f"{COUNT * REJ_NEW // 100}.{COUNT * REJ_NEW % 100:02d}"
    coupons, batches, held = company_state(hub)
    assert (coupons, batches, held) == (
        issued_before + COUNT,
        issued_before // COUNT + 1,
        (issued_before + COUNT) * REJ_NEW,
    )
    with hub.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Coupon).where(Coupon.batch_id == answers[0][0])) == COUNT
    ledger_verifies(hub)


# -- (b) RedeemCoupon ---------------------------------------------------------


def redeem_request(served: Served, request_id: str, coupon_id: str) -> bytes:
    envelope = office_request(
        "RedeemCoupon",
        RequestId=request_id,
        CouponId=coupon_id,
        OfficeCode="1465",
        CaseNumber="WK.5410.7.2026",
        CaseType="REJ_NEW",
    )
    return etree.tostring(sign_envelope(envelope, served.running_hub.identity("pojazd-1465")))


def captures(hub) -> tuple[int, int]:
    with hub.db.read() as s:
        posts = s.scalar(select(func.count()).select_from(LedgerTransfer).where(LedgerTransfer.kind == "POST"))
        redemptions = s.scalar(select(func.count()).select_from(Redemption))
    return posts, redemptions


def test_kill_during_a_redeem_captures_once_on_retry(running_hub, served):
    hub = running_hub.hub
    funded_company(hub, 10 * REJ_NEW)
    coupons = [c.coupon_id for c in issue(hub, 8).coupons]
    killed = []
    done = 0
    for coupon_id in coupons:
        request_id = str(uuid.uuid4())
        hit = killed_in_flight(served, redeem_request(served, request_id, coupon_id), "/soap/office")
        posts, redemptions = captures(hub)
        # a capture is whole or absent: the redemption row and its ledger POST together
        assert posts == redemptions and redemptions in (done, done + 1)
        account = hub.companies.account(NIP, actor=OPERATOR)
        assert account.posted_grosze == 10 * REJ_NEW - redemptions * REJ_NEW
        assert account.held_grosze == (8 - redemptions) * REJ_NEW
        ledger_verifies(hub)
        if hit:
            killed.append((request_id, coupon_id, redemptions - done))
        done = redemptions
        if len(killed) >= 3:
            break
    assert killed, "every RedeemCoupon answered before the kill: the test never killed a request in flight"

    for request_id, coupon_id, _ in killed:
        answers = []
        for retry in (served, running_hub):  # the restarted worker, then another server on the same database
            status, envelope = retry.post(redeem_request(served, request_id, coupon_id), "/soap/office")
            assert status == 200, fault_of(envelope)
            payload = envelope.find(f"{SOAP}Body")[0]
            answers.append((payload.findtext(O + "RedemptionId"), payload.findtext(O + "CapturedAmount")))
        assert answers[0] == answers[1] and answers[0][0] and answers[0][1] == "161.50"
        with hub.db.read() as s:
            assert (
                s.scalar(
                    select(func.count())
                    .select_from(Redemption)
                    .where(Redemption.coupon_id == coupon_id.replace("-", ""))
                )
                == 1
            )
            assert s.get(Redemption, answers[0][0]).coupon_id == coupon_id.replace("-", "")
        assert hub.coupons.verify(coupon_id, "1465", actor=OPERATOR).status != "ISSUED"
    posts, redemptions = captures(hub)
    assert posts == redemptions == done + sum(1 for *_, committed in killed if not committed)
    account = hub.companies.account(NIP, actor=OPERATOR)
    assert account.posted_grosze == 10 * REJ_NEW - redemptions * REJ_NEW
    ledger_verifies(hub)

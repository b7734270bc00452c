"""What one SOAP exchange costs the database (issue 18 point 2): one connection checkout
and at most two transactions, the request's record, then the business work together
with the answer's record. Counted with SQLAlchemy's pool and connection events."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from hub.audit.messagelog import MessageLog, MessageRecord
from hub.coupons.models import Redemption
from tests.support.factories import OPERATOR, funded_company, issue
from tests.support.soap import fault_of, redeem_fields, signed_request


@contextmanager
def counting(engine):
    counts: Counter[str] = Counter()
    listeners = [
        (engine.pool, "checkout", lambda *a: counts.update(["checkouts"])),
        (engine, "begin", lambda *a: counts.update(["transactions"])),
        (engine, "commit", lambda *a: counts.update(["commits"])),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield counts
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)


@pytest.fixture
def quiet_hub(running_hub):
    """The hub after one exchange: the replay cache's first purge and the restore guard's
    first check are done, and the guard does not check again during the test."""
    running_hub.hub.restore_guard.recheck_s = 3600
    funded_company(running_hub.hub, 2_000_00)
    identity = running_hub.identity("pojazd-1465")
    warm = issue(running_hub.hub, 1).coupons[0].coupon_id
    assert running_hub.post(signed_request(identity, "VerifyCoupon", CouponId=warm, OfficeCode="1465"))[0] == 200
    return running_hub


@pytest.mark.parametrize("operation", ["VerifyCoupon", "RedeemCoupon"])
def test_an_exchange_checks_out_one_connection_and_commits_twice(quiet_hub, operation):
    hub = quiet_hub.hub
    identity = quiet_hub.identity("pojazd-1465")
    coupons = [c.coupon_id for c in issue(hub, 3).coupons]
    requests = [
        signed_request(identity, "VerifyCoupon", CouponId=c, OfficeCode="1465")
        if operation == "VerifyCoupon"
        else signed_request(identity, "RedeemCoupon", **redeem_fields(c))
        for c in coupons
    ]
    for request in requests:
        with counting(hub.db.engine) as counts:
            status, answer = quiet_hub.post(request)
        assert status == 200, fault_of(answer)
        assert counts == Counter(checkouts=1, transactions=2, commits=2), operation


def test_a_redeem_whose_answer_cannot_be_logged_is_undone_and_answered_with_a_fault(quiet_hub, monkeypatch):
    """The answer's record commits with the capture: when it cannot be written, the capture
    rolls back too, and the caller is told so in a fault that is logged."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    log = quiet_hub.app.endpoints["/soap/office"].message_log
    real_append_in = MessageLog.append_in
    failed = []

    def append_in(self, session, *entries):
        if any(e.direction == "OUT" and b"RedeemCouponResponse" in e.payload for e in entries):
            failed.append(entries)
            raise RuntimeError("the disk is full")
        return real_append_in(self, session, *entries)

    monkeypatch.setattr(MessageLog, "append_in", append_in)
    status, answer = quiet_hub.post(
        signed_request(quiet_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
    )
    assert failed and status == 500
    assert "try again" in fault_of(answer)[1] or "quote" in fault_of(answer)[1]
    assert hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "ISSUED"
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Redemption)) == 0
        directions = session.scalars(select(MessageRecord.direction).order_by(MessageRecord.seq)).all()
    assert directions[-2:] == ["IN", "OUT"]  # the request, and the fault that was sent
    assert log.verify().ok

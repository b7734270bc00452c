"""What one SOAP exchange costs the database (issue 18 point 2): one connection checkout
and at most two transactions, the request's record, then the business work together
with the answer's record. Counted with SQLAlchemy's pool and connection events."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event, func, make_url, select, text
from sqlalchemy.exc import OperationalError

from hub.audit.messagelog import MessageLog, MessageRecord
from hub.coupons.models import Redemption
from hub.services import endpoint
from hub.signing.sign import sign_envelope
from tests.support.factories import OPERATOR, funded_company, issue
from tests.support.soap import CLIENT, fault_of, redeem_fields, signed_request


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


def ends_with_one_exchange(hub) -> bool:
    """Whether the message log ends with a request and its answer (one log id)."""
    with hub.db.read() as session:
        last = session.execute(
            select(MessageRecord.direction, MessageRecord.log_id).order_by(MessageRecord.seq.desc()).limit(2)
        ).all()
    return [d for d, _ in reversed(last)] == ["IN", "OUT"] and last[0].log_id == last[1].log_id


def _transaction_open_elsewhere(db_url: str) -> bool:
    """Whether some connection holds a transaction open on the hub's database now: on SQLite,
    whether the write lock is taken; on PostgreSQL, whether a session sits idle in one."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        probe = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    engine = create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as connection:
            return bool(
                connection.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
                    )
                )
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(("operation", "held_while_signing"), [("VerifyCoupon", False), ("RedeemCoupon", True)])
def test_a_read_holds_no_transaction_while_its_answer_is_signed(
    quiet_hub, db_url, monkeypatch, operation, held_while_signing
):
    """A read's request record and read commit before the answer is built and signed (on
    SQLite the write lock is free meanwhile); a redeem's capture waits, uncommitted, for
    its answer's record."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    seen = []

    def sign_and_look(*args, **kwargs):
        seen.append(_transaction_open_elsewhere(db_url))
        return sign_envelope(*args, **kwargs)

    monkeypatch.setattr(endpoint, "sign_envelope", sign_and_look)
    fields = redeem_fields(coupon) if operation == "RedeemCoupon" else {"CouponId": coupon, "OfficeCode": "1465"}
    status, answer = quiet_hub.post(signed_request(quiet_hub.identity("pojazd-1465"), operation, **fields))
    assert status == 200, fault_of(answer)
    assert seen == [held_while_signing]


def test_a_read_refused_before_it_ran_logs_request_and_fault_in_one_transaction(quiet_hub):
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    kasa = quiet_hub.identity("kasa-1465-01")  # a cash desk may not call the office service
    with counting(hub.db.engine) as counts:
        status, answer = quiet_hub.post(signed_request(kasa, "VerifyCoupon", CouponId=coupon, OfficeCode="1465"))
    assert (status, fault_of(answer)[0]) == (500, CLIENT("NotAuthorized"))
    assert counts == Counter(checkouts=1, transactions=1, commits=1)
    assert ends_with_one_exchange(hub)


def test_a_read_whose_request_record_was_rolled_back_logs_it_with_the_answer(quiet_hub, monkeypatch):
    """The request's transaction was lent to the read and could not commit with the answer:
    the request, its replay-cache row and the answer are written again, in one transaction;
    the same signed request sent again is a replay."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    kasa = quiet_hub.identity("kasa-1465-01")
    real_append_in = MessageLog.append_in
    failed = []

    def append_in(self, connection, *entries):
        if not failed and any(e.direction == "OUT" for e in entries):
            failed.append(entries)
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real_append_in(self, connection, *entries)

    monkeypatch.setattr(MessageLog, "append_in", append_in)
    request = signed_request(kasa, "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    status, answer = quiet_hub.post(request)
    assert failed and (status, fault_of(answer)[0]) == (500, CLIENT("NotAuthorized"))
    assert ends_with_one_exchange(hub)
    assert quiet_hub.app.endpoints["/soap/office"].message_log.verify().ok
    status, again = quiet_hub.post(request)
    assert status == 500 and "replay" in fault_of(again)[1].lower()


def test_on_sqlite_a_process_s_exchanges_take_turns_on_postgresql_they_overlap(db):
    """Database.exchange(): on SQLite one exchange of a process runs at a time (the write lock
    is let go as soon as its work is done, not held while another thread has the GIL); on
    PostgreSQL they run at once."""
    first_inside, first_may_end, second_inside = threading.Event(), threading.Event(), threading.Event()

    def first():
        with db.exchange():
            first_inside.set()
            first_may_end.wait(10)

    def second():
        with db.exchange():
            second_inside.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_inside.wait(10)
    threads[1].start()
    try:
        assert second_inside.wait(0.3) is not db.is_sqlite
    finally:
        first_may_end.set()
        for t in threads:
            t.join(10)
    assert second_inside.is_set()

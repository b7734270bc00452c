"""What one SOAP exchange costs the database (issue 18 point 2): at most one connection
checkout (none where an exchange before kept its connection) and at most two transactions,
the request's record, then the business work together with the answer's record; a read's
answer record is committed with other answers' records (hub.services.group_commit). Counted
with SQLAlchemy's pool and connection events."""

from __future__ import annotations

import fcntl
import logging
import re
import sqlite3
import threading
import time
from collections import Counter
from contextlib import contextmanager

import pytest
from lxml import etree
from sqlalchemy import create_engine, event, func, make_url, select, text

from hub import ns
from hub.audit import messagelog
from hub.audit.messagelog import MessageLog, MessageRecord
from hub.cashdesk.service import ItemRequest
from hub.coupons.models import Redemption
from hub.db.database import Database, driver_execute, pipelined
from hub.ledger import Ledger
from hub.ledger.chart import CLEARING
from hub.services import endpoint
from hub.signing.sign import Unsealed, prepare_signature
from tests.support.cashdesk import CASE, add_user, pay, void
from tests.support.factories import OPERATOR, config_copy, funded_company, issue
from tests.support.ops import sample, scrape
from tests.support.soap import CLIENT, fault_of, redeem_fields, signed_request
from tests.support.wsgi import serving


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


def request_record(hub) -> Counter[str]:
    """The request's record with its replay-cache row: a write transaction on SQLite; on
    PostgreSQL one statement in autocommit, no transaction."""
    return Counter(transactions=1, commits=1) if hub.db.is_sqlite else Counter()


@pytest.fixture
def quiet_hub(running_hub):
    """The hub after one exchange: the replay cache's first purge and the restore guard's
    first check are done, and the guard does not check again during the test; reads' answer
    records wait for `answer_records.flush()`, not for a timer."""
    running_hub.hub.restore_guard.recheck_s = 3600
    running_hub.hub.answer_records.within_s = 3600
    funded_company(running_hub.hub, 2_000_00)
    identity = running_hub.identity("pojazd-1465")
    warm = issue(running_hub.hub, 1).coupons[0].coupon_id
    assert running_hub.post(signed_request(identity, "VerifyCoupon", CouponId=warm, OfficeCode="1465"))[0] == 200
    running_hub.hub.answer_records.flush()
    return running_hub


@pytest.mark.parametrize("operation", ["VerifyCoupon", "RedeemCoupon"])
def test_an_exchange_checks_out_one_connection_and_commits_what_it_writes(quiet_hub, operation):
    """A read commits its request's record, and runs with no transaction of its own; a state
    change commits the request's record, then its work with its answer's record. On PostgreSQL
    the request's record is one statement in autocommit, with no transaction either."""
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
        work = Counter() if operation == "VerifyCoupon" else Counter(transactions=1, commits=1)
        assert counts == request_record(hub) + work, operation  # the connection the exchange before kept
    with counting(hub.db.engine) as counts:
        hub.answer_records.flush()
    # the three reads' answer records commit together; a redeem's went with its capture
    expected = Counter(checkouts=1, transactions=1, commits=1) if operation == "VerifyCoupon" else Counter()
    assert counts == expected
    assert answered_in_log(hub, coupons) == dict.fromkeys(coupons, True)
    assert quiet_hub.app.endpoints["/soap/office"].message_log.verify().ok


def _sent_at_once(running, requests: dict[str, bytes]) -> tuple[dict[str, int], Counter[str]]:
    """On SQLite: `requests` (by coupon) posted from threads of their own, each exchange held
    back behind the process's turn until all of them wait for it, then let go in that order.
    Their HTTP statuses, and what the database saw meanwhile (`counting`)."""
    hub = running.hub
    if not hub.db.is_sqlite:
        pytest.skip("PostgreSQL writes each request's record in a statement of its own, not in batches")
    statuses: dict[str, int] = {}

    def post(coupon: str) -> None:
        status, answer = running.post(requests[coupon])
        statuses[coupon] = status if status == 200 else fault_of(answer)

    threads = [threading.Thread(target=post, args=(coupon,)) for coupon in requests]
    with counting(hub.db.engine) as counts:
        with hub.db.exchange():  # the process's turn, held until every one waits for it
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 10
            while len(hub.db._turns._waiting) < len(threads) and time.monotonic() < deadline:
                time.sleep(0.01)
        for thread in threads:
            thread.join(10)
    return statuses, counts


def test_on_sqlite_reads_that_ran_while_one_waited_for_its_turn_commit_their_request_records_with_its(quiet_hub):
    """A VerifyCoupon asks for its request's record once its turn is over (MessageLog.
    send_claimed): the records of the exchanges that had their turns meanwhile are written with
    it, in one transaction. Three reads held back behind the turn: one transaction for the
    three records, each answered once its record is made, each answer in the log after it."""
    hub = quiet_hub.hub
    identity = quiet_hub.identity("pojazd-1465")
    coupons = [c.coupon_id for c in issue(hub, 3).coupons]
    requests = {c: signed_request(identity, "VerifyCoupon", CouponId=c, OfficeCode="1465") for c in coupons}
    statuses, counts = _sent_at_once(quiet_hub, requests)
    assert statuses == dict.fromkeys(coupons, 200)
    assert counts["transactions"] == counts["commits"] == 1
    hub.answer_records.flush()
    assert answered_in_log(hub, coupons) == dict.fromkeys(coupons, True)
    with hub.db.read() as session:
        order = session.execute(select(MessageRecord.log_id, MessageRecord.direction).order_by(MessageRecord.seq)).all()
    seen: set[str] = set()
    for log_id, direction in order:  # every answer after its request
        assert direction == "IN" or log_id in seen
        seen.add(log_id)
    assert hub.message_log.verify().ok


def test_on_sqlite_a_state_change_lets_the_exchanges_waiting_for_the_turn_add_their_records_to_its_own(quiet_hub):
    """A RedeemCoupon asks for its request's record inside its turn, before its work: it first
    lets in the exchanges waiting for the turn (Database.let_waiting_exchanges_in), and the
    records they sent meanwhile are written with its own, in one transaction, before its work
    begins. Two redeems held back behind the turn: one transaction for both records, then one
    for each redeem's work; both coupons redeemed once, each answer after its request."""
    hub = quiet_hub.hub
    identity = quiet_hub.identity("pojazd-1465")
    coupons = [c.coupon_id for c in issue(hub, 2).coupons]
    requests = {c: signed_request(identity, "RedeemCoupon", **redeem_fields(c)) for c in coupons}
    statuses, counts = _sent_at_once(quiet_hub, requests)
    assert statuses == dict.fromkeys(coupons, 200)
    assert counts["transactions"] == counts["commits"] == 1 + len(coupons)  # the records', then each redeem's
    assert answered_in_log(hub, coupons) == dict.fromkeys(coupons, True)
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Redemption)) == len(coupons)
    assert hub.message_log.verify().ok


def test_a_redeem_whose_answer_cannot_be_logged_is_undone_and_answered_with_a_fault(quiet_hub, monkeypatch):
    """The answer's record commits with the capture: when it cannot be written, the capture
    rolls back too, and the caller is told so in a fault that is logged."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    log = quiet_hub.app.endpoints["/soap/office"].message_log
    real_send_with_work = MessageLog.send_with_work
    failed = []

    def send_with_work(self, connection, *entries):
        if any(e.direction == "OUT" and b"RedeemCouponResponse" in e.payload for e in entries):
            failed.append(entries)
            raise RuntimeError("the disk is full")
        return real_send_with_work(self, connection, *entries)

    monkeypatch.setattr(MessageLog, "send_with_work", send_with_work)
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


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a pipeline is PostgreSQL's
def test_on_postgresql_an_answer_record_the_server_refuses_undoes_the_redeem_its_commit_went_with(
    quiet_hub, monkeypatch
):
    """A redeem's last writes, its answer's record and the COMMIT go to the server in one round
    trip (hub.db.database.BeforeCommit). When the server refuses the record (here: a direction
    too long for its column), the pipeline skips the COMMIT that follows it: the capture rolls
    back with the record, the caller gets a fault that is logged, and the same RequestId can
    be sent again and redeems the coupon."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    log = quiet_hub.app.endpoints["/soap/office"].message_log
    fields = redeem_fields(coupon)
    real_append_values = messagelog._append_values
    refused = []

    def append_values(entry):
        values = real_append_values(entry)
        if entry.direction == "OUT" and b"RedeemCouponResponse" in entry.payload:
            refused.append(entry.log_id)
            values["direction"] = "OUT, refused"
        return values

    with hub.db.read() as session:
        clearing_before = Ledger(session).balance(CLEARING)
    monkeypatch.setattr(messagelog, "_append_values", append_values)
    status, answer = quiet_hub.post(signed_request(quiet_hub.identity("pojazd-1465"), "RedeemCoupon", **fields))
    assert refused and status == 500, fault_of(answer)
    assert hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "ISSUED"
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Redemption)) == 0
        assert Ledger(session).balance(CLEARING) == clearing_before
        directions = session.scalars(select(MessageRecord.direction).order_by(MessageRecord.seq)).all()
    assert directions[-2:] == ["IN", "OUT"]  # the request, and the fault that was sent
    monkeypatch.undo()
    status, answer = quiet_hub.post(signed_request(quiet_hub.identity("pojazd-1465"), "RedeemCoupon", **fields))
    assert status == 200, fault_of(answer)
    assert hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "REDEEMED"
    assert log.verify().ok
    assert hub.ledger_checks.run(actor=OPERATOR).ok


def test_a_seal_due_at_a_redeem_s_answer_record_seals_it(quiet_hub, monkeypatch):
    """The answer's record commits with the redeem; a seal then due is made too: on PostgreSQL
    after the commit (whose COMMIT went with the record), in a transaction of its own, on
    SQLite within it. Sealing at every record, the log's head is sealed at the answer's record."""
    hub = quiet_hub.hub
    log = quiet_hub.app.endpoints["/soap/office"].message_log
    monkeypatch.setattr(log.sealer, "every_records", 1)
    coupon = issue(hub, 1).coupons[0].coupon_id
    status, answer = quiet_hub.post(
        signed_request(quiet_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
    )
    assert status == 200, fault_of(answer)
    with hub.db.read() as session:
        last = session.scalars(select(MessageRecord).order_by(MessageRecord.seq.desc()).limit(1)).one()
        head = MessageLog.lock_head(session.connection())
    assert last.direction == "OUT" and b"RedeemCouponResponse" in last.payload
    assert head.sealed_seq == head.seq == last.seq
    assert hub.message_archive.verify(1).ok


def requests_in_log(hub) -> dict[str, str]:
    """The log id of each office request in the log, by the coupon it named."""
    with hub.db.read() as session:
        records = session.execute(
            select(MessageRecord.log_id, MessageRecord.payload).where(MessageRecord.direction == "IN")
        )
        return {
            payload.split(b"CouponId>")[1].split(b"<")[0].decode(): log_id
            for log_id, payload in records
            if b"CouponId>" in payload
        }


def answered_in_log(hub, coupons: list[str]) -> dict[str, bool]:
    """For each of `coupons`, named by an office request: whether its answer record is in the log."""
    with hub.db.read() as session:
        answered = set(session.scalars(select(MessageRecord.log_id).where(MessageRecord.direction == "OUT")))
    requests = requests_in_log(hub)
    return {coupon: requests.get(coupon) in answered for coupon in coupons}


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
    its answer's record, which holds the answer signed but for its SignatureValue."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    seen = []

    def prepare_and_look(*args, **kwargs):
        seen.append(_transaction_open_elsewhere(db_url))
        return prepare_signature(*args, **kwargs)

    monkeypatch.setattr(endpoint, "prepare_signature", prepare_and_look)
    fields = redeem_fields(coupon) if operation == "RedeemCoupon" else {"CouponId": coupon, "OfficeCode": "1465"}
    status, answer = quiet_hub.post(signed_request(quiet_hub.identity("pojazd-1465"), operation, **fields))
    assert status == 200, fault_of(answer)
    assert seen == [held_while_signing]


@pytest.mark.parametrize("operation", ["VerifyCoupon", "RedeemCoupon"])
def test_the_answer_s_signature_value_is_computed_once_its_record_and_work_are_committed(
    quiet_hub, db_url, monkeypatch, operation
):
    """The key's work (RSA: two thirds of signing) is not done while the business work holds
    the database (on SQLite every process's writers): when it runs, no transaction is open,
    a redeem's redemption and its answer's record are committed, and the record is the answer
    as it then goes out, but for the SignatureValue's text (BENCHMARKS.md, run 19). Its
    exchange is over by then: on SQLite the process's next exchange takes its turn meanwhile,
    and runs beside the key's work, which lets go of the GIL (run 20). A read's on SQLite comes
    before its request's record is asked for, and goes out only once it is made (run 39)."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    seen = []
    seal = Unsealed.seal

    def answers_recorded() -> int:
        with hub.db.read() as session:
            return session.scalar(select(func.count()).where(MessageRecord.direction == "OUT"))

    def another_exchange_runs_now() -> bool:
        ran = threading.Event()

        def exchange() -> None:
            with hub.db.exchange():
                ran.set()

        threading.Thread(target=exchange, daemon=True).start()
        return ran.wait(2)

    def look_and_seal(self):
        with hub.db.read() as session:
            redeemed = session.scalar(select(func.count()).select_from(Redemption))
        seen.append((_transaction_open_elsewhere(db_url), redeemed, answers_recorded(), another_exchange_runs_now()))
        return seal(self)

    fields = redeem_fields(coupon) if operation == "RedeemCoupon" else {"CouponId": coupon, "OfficeCode": "1465"}
    request = signed_request(quiet_hub.identity("pojazd-1465"), operation, **fields)
    answered_before = answers_recorded()
    monkeypatch.setattr(Unsealed, "seal", look_and_seal)
    status, answer = quiet_hub.post_raw(request)
    assert status == 200, answer
    if operation == "RedeemCoupon":
        assert seen == [(False, 1, answered_before + 1, True)]
    else:  # a read's answer record waits for the group commit, which the test holds back
        assert seen == [(False, 0, answered_before, True)]
    hub.answer_records.flush()
    with hub.db.read() as session:
        recorded = session.scalars(select(MessageRecord.payload).order_by(MessageRecord.seq.desc())).first()
    value = re.search(rb"<ds:SignatureValue>([^<]+)</ds:SignatureValue>", answer)
    assert value is not None and b"<ds:SignatureValue/>" in recorded
    assert recorded.replace(b"<ds:SignatureValue/>", value.group(0)) == answer


def test_a_read_whose_record_is_refused_after_its_answer_was_sealed_gets_the_fault_alone(quiet_hub, monkeypatch):
    """On SQLite a read's answer is sealed before its request's record is asked for (run 39),
    so that the next exchange may write the record meanwhile: a replay, found when the
    record's claim fails, gets the replay fault, and the answer sealed for it never goes out
    nor into the log."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    request = signed_request(quiet_hub.identity("pojazd-1465"), "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    assert quiet_hub.post(request)[0] == 200
    hub.answer_records.flush()  # its answer's record before the replay's
    sealed = []
    seal = Unsealed.seal

    def sealing(self):
        sealed.append(self)
        return seal(self)

    monkeypatch.setattr(Unsealed, "seal", sealing)
    status, answer = quiet_hub.post_raw(request)
    code, text = fault_of(etree.fromstring(answer))
    assert status == 500 and "replay" in text.lower(), (code, text)
    assert b"VerifyCouponResponse" not in answer
    assert len(sealed) == (2 if hub.db.is_sqlite else 1)  # on SQLite the answer's, then the fault's
    hub.answer_records.flush()
    with hub.db.read() as session:
        last = session.scalars(select(MessageRecord).order_by(MessageRecord.seq.desc())).first()
    assert last.direction == "OUT" and b"VerifyCouponResponse" not in last.payload
    assert last.payload.replace(b"<ds:SignatureValue/>", b"") in answer.replace(
        re.search(rb"<ds:SignatureValue>[^<]+</ds:SignatureValue>", answer).group(0), b""
    )


def test_a_read_refused_after_its_request_was_logged_has_its_fault_recorded_with_other_answers(quiet_hub):
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    kasa = quiet_hub.identity("kasa-1465-01")  # a cash desk may not call the office service
    with counting(hub.db.engine) as counts:
        status, answer = quiet_hub.post(signed_request(kasa, "VerifyCoupon", CouponId=coupon, OfficeCode="1465"))
    assert (status, fault_of(answer)[0]) == (500, CLIENT("NotAuthorized"))
    assert counts == request_record(hub)
    assert not ends_with_one_exchange(hub)
    hub.answer_records.flush()
    assert ends_with_one_exchange(hub)


@pytest.mark.parametrize(
    ("fields", "fault"),
    [
        ({"CouponId": "--"}, "CouponNotRedeemable"),  # malformed: refused before the work's transaction
        ({"OfficeCode": "9999"}, "NotAuthorized"),  # not this client's office
        ({"Amount": "0.00"}, "InvalidRequest"),
    ],
)
def test_a_state_change_refused_before_its_work_began_has_its_fault_recorded_at_once(quiet_hub, fields, fault):
    """A RedeemCoupon refused by its own checks before its transaction opened: its fault's
    record commits at once, after the request's, as any state change's answer does (it was
    once taken for the business work's held transaction, and rolled back with it at the
    exchange's end, so `hub audit verify` found a request with no answer)."""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    request = signed_request(quiet_hub.identity("pojazd-1465"), "RedeemCoupon", **{**redeem_fields(coupon), **fields})
    with counting(hub.db.engine) as counts:
        status, answer = quiet_hub.post(request)
    assert (status, fault_of(answer)[0]) == (500, CLIENT(fault))
    assert counts == Counter(transactions=1, commits=1) + request_record(hub)  # then the fault's
    assert ends_with_one_exchange(hub)
    assert hub.message_log.verify().ok


def test_a_request_refused_before_it_was_logged_is_logged_with_its_fault_in_one_transaction(quiet_hub):
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    request = signed_request(quiet_hub.identity("pojazd-1465"), "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    tampered = request.replace(coupon.encode(), issue(hub, 1).coupons[0].coupon_id.encode())
    with counting(hub.db.engine) as counts:
        status, answer = quiet_hub.post(tampered)
    assert (status, fault_of(answer)[0]) == (500, f"{{{ns.WSSE}}}FailedCheck")
    assert counts == Counter(transactions=1, commits=1)
    assert ends_with_one_exchange(hub)


def test_answer_records_are_in_the_log_within_their_time_without_a_flush(quiet_hub):
    hub = quiet_hub.hub
    hub.answer_records.within_s = 0.05
    coupons = [c.coupon_id for c in issue(hub, 2).coupons]
    identity = quiet_hub.identity("pojazd-1465")
    for c in coupons:
        assert quiet_hub.post(signed_request(identity, "VerifyCoupon", CouponId=c, OfficeCode="1465"))[0] == 200
    deadline = time.monotonic() + 10
    while not all(answered_in_log(hub, coupons).values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert answered_in_log(hub, coupons) == dict.fromkeys(coupons, True)


def test_answer_records_that_cannot_be_written_are_reported_by_request(quiet_hub, monkeypatch, caplog):
    """The batch fails as a whole: one error line naming each request whose answer went out
    unlogged, the failure counted once per record, and `hub audit verify` lists each request
    as having no answer record. The next batch is written. (On PostgreSQL the first answer
    rode with the second request's record, MessageLog.send_claimed: only the second waits.)"""
    hub = quiet_hub.hub
    coupons = [c.coupon_id for c in issue(hub, 3).coupons]
    identity = quiet_hub.identity("pojazd-1465")
    for c in coupons[:2]:
        assert quiet_hub.post(signed_request(identity, "VerifyCoupon", CouponId=c, OfficeCode="1465"))[0] == 200
    rode = coupons[:1] if not hub.db.is_sqlite else []
    assert answered_in_log(hub, coupons[:2]) == {c: c in rode for c in coupons[:2]}
    coupons_waiting = [c for c in coupons[:2] if c not in rode]
    ids = [requests_in_log(hub)[c] for c in coupons_waiting]
    failures_before = sample(scrape(quiet_hub.url), "hub_message_log_failures_total", direction="OUT")
    real_append = MessageLog.append
    monkeypatch.setattr(MessageLog, "append", lambda self, *e: (_ for _ in ()).throw(RuntimeError("the disk is full")))
    with caplog.at_level(logging.ERROR, logger="hub.soap"):
        hub.answer_records.flush()
    monkeypatch.setattr(MessageLog, "append", real_append)
    lines = [r.getMessage() for r in caplog.records if "went out unlogged" in r.getMessage()]
    assert len(lines) == 1 and all(i in lines[0] for i in ids), lines
    failures = sample(scrape(quiet_hub.url), "hub_message_log_failures_total", direction="OUT")
    assert failures == failures_before + len(ids)
    assert answered_in_log(hub, coupons_waiting) == dict.fromkeys(coupons_waiting, False)
    report = hub.message_archive.verify(hub.config.audit.seal_every_records)
    assert report.ok and {u.log_id for u in report.unanswered} >= set(ids)
    assert quiet_hub.post(signed_request(identity, "VerifyCoupon", CouponId=coupons[2], OfficeCode="1465"))[0] == 200
    hub.answer_records.flush()
    assert answered_in_log(hub, coupons[2:]) == {coupons[2]: True}


def test_closing_the_hub_writes_the_answer_records_it_holds(tmp_path, db_url):
    with serving(config_copy(tmp_path, db_url)) as running:
        hub = running.hub
        hub.answer_records.within_s = 3600
        funded_company(hub, 500_00)
        coupon = issue(hub, 1).coupons[0].coupon_id
        identity = running.identity("pojazd-1465")
        assert running.post(signed_request(identity, "VerifyCoupon", CouponId=coupon, OfficeCode="1465"))[0] == 200
        assert answered_in_log(hub, [coupon]) == {coupon: False}
    # served() closed the hub
    with Database(db_url).read() as session:
        directions = session.scalars(select(MessageRecord.direction).order_by(MessageRecord.seq)).all()
    assert directions[-2:] == ["IN", "OUT"]


def test_a_process_s_exchanges_take_turns(db):
    """Database.exchange(): one exchange of a process runs at a time, on SQLite and on
    PostgreSQL (the locks its work takes are let go as soon as it is done, not held while
    another thread of the process has the GIL)."""
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
        assert not second_inside.wait(0.3)
    finally:
        first_may_end.set()
        for t in threads:
            t.join(10)
    assert second_inside.is_set()


def test_on_sqlite_an_exchange_can_let_those_waiting_for_the_turn_have_theirs_and_then_go_on(tmp_path):
    """Database.let_waiting_exchanges_in(): the exchanges waiting for the turn when it is called
    have theirs, in their order, then the one that let them in goes on, before an exchange
    that came meanwhile; with nobody waiting it goes on at once."""
    db = Database(f"sqlite:///{tmp_path / 'turns.sqlite3'}")
    order: list[str] = []
    holding, may_go_on = threading.Event(), threading.Event()

    def first():
        with db.exchange():
            db.let_waiting_exchanges_in()  # nobody waits yet
            order.append("first alone")
            holding.set()
            may_go_on.wait(10)
            db.let_waiting_exchanges_in()
            order.append("first again")

    def later(name: str, then: threading.Thread | None = None):
        def run():
            with db.exchange():
                order.append(name)
                if then is not None:  # comes while "first" waits for its turn back
                    then.start()
                    time.sleep(0.05)

        return run

    latecomer = threading.Thread(target=later("latecomer"))
    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(10)
    for name, then in (("a", None), ("b", latecomer)):
        threads.append(threading.Thread(target=later(name, then)))
        threads[-1].start()
        time.sleep(0.05)  # waiting before the next comes
    may_go_on.set()
    for t in [*threads, latecomer]:
        t.join(10)
    assert order == ["first alone", "a", "b", "first again", "latecomer"]


def test_on_sqlite_exchanges_waiting_for_their_turn_get_it_in_the_order_they_came(tmp_path):
    """Database.exchange() on SQLite hands the turn to the thread that has waited longest, so no
    exchange waits behind ones that came after it. With a plain lock a thread that gives the
    turn up and asks again at once (a worker thread's next request) takes it back before the
    threads already waiting: a tail of slow answers. A thread with the turn may take it again
    inside; an exchange that raises hands it on all the same."""
    db = Database(f"sqlite:///{tmp_path / 'turns.sqlite3'}")
    order: list[str] = []
    holding, may_end = threading.Event(), threading.Event()

    def first():
        with db.exchange(), db.exchange():  # reentrant
            holding.set()
            may_end.wait(10)
        with pytest.raises(ZeroDivisionError), db.exchange():
            raise ZeroDivisionError

    def twice(name: str):
        def run():
            for round_ in (1, 2):  # the second asks again the moment the first ends
                with db.exchange():
                    order.append(f"{name}{round_}")

        return run

    threads = [threading.Thread(target=first)]
    threads[0].start()
    assert holding.wait(10)
    for name in ("a", "b", "c"):
        threads.append(threading.Thread(target=twice(name)))
        threads[-1].start()
        time.sleep(0.05)  # each one waiting before the next comes
    may_end.set()
    for t in threads:
        t.join(10)
    try:
        assert order == ["a1", "b1", "c1", "a2", "b2", "c2"]
        other = threading.Thread(target=twice("after"))
        other.start()
        other.join(10)
        assert order[-2:] == ["after1", "after2"]  # the turn was free again
    finally:
        db.dispose()


def _driver_closed(driver) -> bool:
    if isinstance(driver, sqlite3.Connection):
        try:
            driver.execute("SELECT 1")
        except sqlite3.ProgrammingError:
            return True
        return False
    return driver.closed


def test_an_exchange_keeps_its_connection_for_the_next_one(db):
    """Exchanges keep their connection from one to the next instead of checking one out of the
    pool and back each time: the first checks it out, the next ones find it kept. An exchange
    begun inside another gets one of its own; the two are kept. A lost connection is not
    kept, and `dispose()` closes the ones kept."""
    with counting(db.engine) as counts:
        with db.exchange(), db.writing() as connection:
            first = connection.connection.driver_connection
        for _ in range(3):
            with db.exchange(), db.reading() as connection:
                assert connection.connection.driver_connection is first
    assert counts == Counter(checkouts=1, transactions=1, commits=1)
    with counting(db.engine) as counts, db.exchange(), db.reading() as outer:
        with db.exchange(), db.reading() as inner:
            nested = inner.connection.driver_connection
            assert nested is not first
        assert outer.connection.driver_connection is first
    assert counts == Counter(checkouts=1)
    with counting(db.engine) as counts:
        for _ in range(2):
            with db.exchange(), db.reading() as connection:
                assert connection.connection.driver_connection is first  # the last kept first
        with db.exchange(), db.reading() as outer, db.exchange(), db.reading() as inner:
            assert {outer.connection.driver_connection, inner.connection.driver_connection} == {first, nested}
    assert counts == Counter()
    with db.exchange():
        with db.reading() as connection:
            assert connection.connection.driver_connection is first
        connection.invalidate()  # lost (a disk error, a dropped socket): not kept
    with counting(db.engine) as counts, db.exchange(), db.reading() as outer, db.exchange(), db.reading() as inner:
        assert outer.connection.driver_connection is nested
        assert inner.connection.driver_connection not in (first, nested)
    assert counts == Counter(checkouts=1)
    kept = [outer.connection.driver_connection, inner.connection.driver_connection]
    db.dispose()
    assert all(_driver_closed(driver) for driver in kept)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_kept_sqlite_connection_carries_nothing_over_from_the_exchange_before(db):
    """What the pool's reset did for a connection given back, an exchange does for the one it
    keeps: work held and never committed (its answer never recorded) rolls back and the
    writers' lock is given back, so another process writes at once; a transaction the driver
    began behind SQLAlchemy's back rolls back too."""
    database = make_url(db.url).database
    with db.exchange() as exchange:
        exchange.hold_next()
        with db.writing() as connection:
            connection.execute(text("CREATE TABLE held_never_committed (x INTEGER)"))
        assert exchange.holding
    with open(f"{database}.writers", "rb") as writers:
        fcntl.flock(writers, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if it were still held
    other = sqlite3.connect(database, timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # "database is locked" if the held work were still open
    other.execute("ROLLBACK")
    with db.exchange(), db.writing() as connection:  # a transaction of its own, committed
        connection.execute(text("CREATE TABLE written_after (x INTEGER)"))
    assert other.execute("SELECT name FROM sqlite_master WHERE name LIKE '%_after'").fetchall() == [("written_after",)]
    with db.exchange():
        with db.reading() as connection:
            assert not _in_transaction(connection)
            held = driver_execute(connection, "SELECT name FROM sqlite_master WHERE name = 'held_never_committed'", ())
            assert held == []
            connection.connection.driver_connection.execute("BEGIN")
    with db.exchange(), db.reading() as connection:
        assert not _in_transaction(connection)
    other.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_connection_that_cannot_be_rolled_back_after_an_exchange_is_dropped_not_kept(db, caplog):
    with db.exchange(), db.reading() as connection:
        broken = connection.connection.driver_connection

    def refuse() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with db.exchange() as exchange, db.reading() as connection:
        assert connection.connection.driver_connection is broken
        broken.rollback = refuse  # as the exchange ends
    assert not exchange.holding
    assert "could not be rolled back after an exchange: dropped" in caplog.text
    with db.exchange(), db.reading() as connection:
        assert connection.connection.driver_connection is not broken
        assert driver_execute(connection, "SELECT 1", ()) == [(1,)]


def _in_transaction(connection) -> bool:
    """Whether the server (PostgreSQL) or the library (SQLite) has a transaction open on it now."""
    driver = connection.connection.driver_connection
    return driver.in_transaction if isinstance(driver, sqlite3.Connection) else driver.info.transaction_status != 0


def test_on_postgresql_an_exchange_s_reads_run_in_autocommit_and_its_writes_and_snapshots_in_transactions(db):
    """An exchange's read sends no BEGIN or COMMIT to PostgreSQL (two round trips a read, for
    nothing under READ COMMITTED); a write after it is a transaction again, undone whole when
    it fails, and a snapshot keeps its REPEATABLE READ transaction. On SQLite a read is a
    deferred transaction, which takes no write lock."""
    with db.exchange():
        with db.reading() as connection:
            connection.execute(text("SELECT 1"))
            assert _in_transaction(connection) is db.is_sqlite
            connection.execute(text("CREATE TEMP TABLE exchange_notes (note TEXT)"))  # autocommitted on PostgreSQL
        with pytest.raises(ZeroDivisionError), db.writing() as connection:
            connection.execute(text("INSERT INTO exchange_notes VALUES ('undone')"))
            assert _in_transaction(connection)
            raise ZeroDivisionError
        with db.snapshot() as session:
            session.execute(text("SELECT 1"))
            assert _in_transaction(session.connection())
            if not db.is_sqlite:
                assert session.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
        with db.reading() as connection:
            assert connection.execute(text("SELECT count(*) FROM exchange_notes")).scalar() == 0
            assert _in_transaction(connection) is db.is_sqlite
        with db.writing() as connection:
            connection.execute(text("INSERT INTO exchange_notes VALUES ('kept')"))
        with db.reading() as connection:
            assert connection.execute(text("SELECT note FROM exchange_notes")).scalars().all() == ["kept"]


def test_an_exchange_s_write_begins_with_its_first_statement_however_it_is_sent(db):
    """On PostgreSQL a write's BEGIN goes with its first statement (in a pipeline, in its round
    trip): a statement on the driver's cursor, in a pipeline or not, and one SQLAlchemy runs,
    each begins the transaction, which is undone whole when the block fails; a write block
    that sent nothing leaves nothing begun, nor anything to begin for the read after it."""
    with db.exchange():
        with db.writing() as connection:
            connection.execute(text("CREATE TEMP TABLE exchange_notes (note TEXT)"))
        for send in (
            lambda c: driver_execute(c, "INSERT INTO exchange_notes VALUES ('undone')", ()),
            lambda c: _pipelined_insert(c, "undone"),
            lambda c: c.execute(text("INSERT INTO exchange_notes VALUES ('undone')")),
        ):
            with pytest.raises(ZeroDivisionError), db.writing() as connection:
                send(connection)
                driver_execute(connection, "INSERT INTO exchange_notes VALUES ('undone too')", ())
                assert _in_transaction(connection)
                raise ZeroDivisionError
        with db.writing() as connection:
            pass
        with db.reading() as connection:
            assert connection.execute(text("SELECT count(*) FROM exchange_notes")).scalar() == 0
            assert _in_transaction(connection) is db.is_sqlite  # no BEGIN left over from the empty write
        with db.writing() as connection:
            _pipelined_insert(connection, "kept")
        with db.reading() as connection:
            assert connection.execute(text("SELECT note FROM exchange_notes")).scalars().all() == ["kept"]


def _pipelined_insert(connection, note: str) -> None:
    with pipelined(connection):
        driver_execute(connection, f"INSERT INTO exchange_notes VALUES ('{note}')", ())


def test_a_redeem_locks_the_coupon_clearing_account_only_from_its_answer_s_record_to_the_commit(
    quiet_hub, db_url, monkeypatch
):
    """Every capture moves the clearing account, so its row must stay locked as briefly as
    possible: the capture's moves wait for the commit (hub.ledger.service._HeldMoves). While the
    answer is signed, another connection can lock that row at once (PostgreSQL: NOWAIT) and sees
    the clearing account's totals as before the redeem; after the answer, they have moved. (On
    SQLite the one write lock is held by the whole transaction: only the totals are compared.)"""
    hub = quiet_hub.hub
    coupon = issue(hub, 1).coupons[0].coupon_id
    other = create_engine(db_url)
    lock = "" if make_url(db_url).get_backend_name() == "sqlite" else " FOR NO KEY UPDATE NOWAIT"
    lock_clearing = text(f"SELECT credits_pending, credits_posted FROM ledger_accounts WHERE code = :code{lock}")
    seen = []

    def prepare_and_look(*args, **kwargs):
        with other.begin() as connection:
            seen.append(tuple(connection.execute(lock_clearing, {"code": CLEARING}).one()))
        return prepare_signature(*args, **kwargs)

    with other.begin() as connection:
        before = tuple(connection.execute(lock_clearing, {"code": CLEARING}).one())
    monkeypatch.setattr(endpoint, "prepare_signature", prepare_and_look)
    status, answer = quiet_hub.post(
        signed_request(quiet_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
    )
    assert status == 200, fault_of(answer)
    with other.begin() as connection:
        after = tuple(connection.execute(lock_clearing, {"code": CLEARING}).one())
    other.dispose()
    assert seen == [before]  # not locked, not yet moved, while the answer was signed
    assert after != before


def _round_trips(trace: str) -> list[list[str]]:
    """What a libpq trace shows the client sent, one list a round trip (up to each Sync, or a
    simple Query on its own): each statement run, by its SQL (a Bind's statement, as its
    Parse gave it, prepared or unnamed; a Query's)."""
    trips: list[list[str]] = [[]]
    parsed: dict[str, str] = {}
    for parts in (line.split("\t") for line in trace.splitlines()):
        if len(parts) < 4 or parts[1] != "F":
            continue
        message, rest = parts[3], parts[4] if len(parts) > 4 else ""
        if message == "Parse":
            name, sql = rest.split('"')[1], rest.split('"')[3]  # Parse\t "name" "sql" ...
            parsed[name] = sql
        elif message == "Bind":
            trips[-1].append(parsed[rest.split('"')[3]])  # Bind\t "portal" "statement" ...
        elif message == "Query":
            trips[-1].append(rest.strip().strip('"'))
            trips.append([])
        elif message == "Sync":
            trips.append([])
    return [trip for trip in trips if trip]


def _from_the_request_record(trace: str) -> tuple[list[str], list[str]]:
    """What a libpq trace shows from the request's record (its statement, `WITH claim AS`) on:
    the turns of the connection (F the client sending, B the server answering, each run of
    one direction once: [F, B] is one round trip) and each statement's first word."""
    lines = trace.splitlines()
    first = next(i for i, line in enumerate(lines) if "\tF\t" in line and "WITH claim AS" in line)
    sent = [parts for parts in (line.split("\t") for line in lines[first:]) if len(parts) > 3 and parts[1] in "FB"]
    directions = [parts[1] for parts in sent if parts[3] != "Terminate"]  # the connection closed after the test
    turns = [d for i, d in enumerate(directions) if i == 0 or directions[i - 1] != d]
    return turns, [sql.split(" ")[0] for trip in _round_trips("\n".join(lines[first:])) for sql in trip]


def _traced_post(running, tmp_path, request: bytes):
    """`request` posted on a connection made anew for its exchange, with libpq's trace of it
    (so each statement's SQL is in the trace, where it was parsed): the status, the answer and
    the trace, written out as the connection closes after the exchange."""
    database = running.app.endpoints["/soap/office"].message_log.db
    trace = tmp_path / "libpq.trace"
    out = trace.open("w")

    def traced(dbapi_connection, _record):
        dbapi_connection.pgconn.trace(out.fileno())

    database.dispose()  # the connections kept and pooled: the exchange's is made anew
    event.listen(database.engine, "connect", traced)
    try:
        status, answer = running.post(request)
    finally:
        event.remove(database.engine, "connect", traced)
        database.dispose()
        out.close()
    return status, answer, trace.read_text()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # round trips are PostgreSQL's
def test_on_postgresql_a_redeem_claims_and_locks_together_and_sends_its_last_writes_with_its_commit(
    quiet_hub, tmp_path
):
    """RedeemCoupon's round trips (issue 18 point 3): BEGIN, the RequestId's claim and the
    coupon's lock go together; so do the hold's read and the office's account (`Ledger.expect`);
    the capture and the office's payment are one insert (`Ledger.post(..., onward=...)`); the
    coupon marked REDEEMED, its redemption, the RequestId's answer, the account moves held
    for the commit and the answer's record go together too, in that order (the rows most
    transactions lock, last), and COMMIT with them. Read from
    libpq's trace of the exchange's fresh connection (so each statement's SQL is in the trace,
    where it was parsed)."""
    opening, coupon = (c.coupon_id for c in issue(quiet_hub.hub, 2).coupons)
    identity = quiet_hub.identity("pojazd-1465")
    assert (
        quiet_hub.post(signed_request(identity, "RedeemCoupon", **redeem_fields(opening)))[0] == 200
    )  # office's account made
    status, answer, trace = _traced_post(
        quiet_hub, tmp_path, signed_request(identity, "RedeemCoupon", **redeem_fields(coupon))
    )
    assert status == 200, fault_of(answer)
    trips = _round_trips(trace)

    def trip_of(start: str) -> list[str]:
        (trip,) = [t for t in trips if any(sql.startswith(start) for sql in t)]
        return trip

    claim = trip_of("INSERT INTO idempotency_keys")
    assert claim[0] == "BEGIN" and len(claim) == 3, claim  # the transaction begins with its first statements
    assert claim[2].startswith("SELECT coupons.id"), claim  # (libpq's trace cuts long SQL)
    last = trip_of("UPDATE coupons")
    assert [sql.split(" (")[0].split(" SET")[0].strip() for sql in last] == [
        "UPDATE coupons",
        "INSERT INTO redemptions",
        "UPDATE idempotency_keys",
        "UPDATE ledger_accounts",  # the rows every redeem locks last: the clearing account's,
        "UPDATE ledger_accounts",
        "UPDATE ledger_accounts",
        "WITH",  # then the log's head (`BeforeCommit.add(..., hot=True)`)
        "COMMIT",  # no hook reads them back before it: the server's errors are the check
    ], last
    hold = trip_of("SELECT ledger_transfers.id")
    assert len(hold) == 2 and hold[1].startswith("SELECT ledger_accounts.id"), hold  # the office's account comes along
    capture = trip_of("INSERT INTO ledger_transfers")
    assert len(capture) == 1, capture  # the capture and the office's payment: one statement
    # the request's record, BEGIN with the claim and the lock, the hold read with the office's
    # account, the capture with the earning, what went with the COMMIT
    assert len(trips) == 5, trips
    assert ["COMMIT"] not in trips
    assert ["BEGIN"] not in trips  # never a round trip of its own


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # round trips are PostgreSQL's
def test_on_postgresql_a_verify_reads_its_coupon_in_the_round_trip_of_its_request_record(quiet_hub, tmp_path):
    """VerifyCoupon's request record (with its replay-cache row) is sent and not waited for:
    the coupon's read joins it, after it, and the exchange waits once for both. Each has its
    own Sync in autocommit, so the server commits the record before it runs the read."""
    coupon = issue(quiet_hub.hub, 1).coupons[0].coupon_id
    request = signed_request(quiet_hub.identity("pojazd-1465"), "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    status, answer, trace = _traced_post(quiet_hub, tmp_path, request)
    assert status == 200, fault_of(answer)
    assert answer.findtext(f".//{{{ns.OFFICE}}}Valid") == "true"
    assert _from_the_request_record(trace) == (["F", "B"], ["WITH", "SELECT"])  # one round trip, two statements


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # round trips are PostgreSQL's
def test_on_postgresql_a_verify_payment_reads_the_case_in_the_round_trip_of_its_request_record(quiet_hub, tmp_path):
    """VerifyPayment reads as VerifyCoupon does: the case's payments with their items, one
    statement, joining the request's record sent ahead; the exchange waits once for both.
    Its answer has the payments in order, each with its items, and no voided one."""
    hub = quiet_hub.hub
    first = pay(hub, ItemRequest("DR"), ItemRequest("EWID"), case_number=CASE)
    second = pay(hub, ItemRequest("DR"), case_number=CASE)
    voided = pay(hub, ItemRequest("DR"), case_number=CASE)
    void(hub, voided.payment_id, "wrong case", add_user(hub, "ewa.wisniewska"))
    request = signed_request(
        quiet_hub.identity("pojazd-1465"), "VerifyPayment", System="POJAZD", OfficeCode="1465", CaseNumber=CASE
    )
    status, answer, trace = _traced_post(quiet_hub, tmp_path, request)
    assert status == 200, fault_of(answer)
    o = f"{{{ns.OFFICE}}}"
    assert answer.findtext(f".//{o}Paid") == "true"
    paid = [
        (p.findtext(f"{o}PaymentId"), [i.findtext(f"{o}FeeCode") for i in p.iter(f"{o}Item")])
        for p in answer.iter(f"{o}Payment")
    ]
    assert paid == [(first.payment_id, ["DR", "EWID"]), (second.payment_id, ["DR"])]
    assert _from_the_request_record(trace) == (["F", "B"], ["WITH", "SELECT"])  # one round trip, two statements


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # autocommit is PostgreSQL's
def test_a_kept_connection_left_in_autocommit_still_gives_a_snapshot_its_transaction(db):
    """A connection is kept as its exchange left it, in autocommit after a read: the next
    exchange knows, and switches it back for a snapshot, which must see one moment."""
    with db.exchange(), db.reading() as connection:
        driver_execute(connection, "SELECT 1", ())
        assert connection.connection.driver_connection.autocommit
    with db.exchange(), db.snapshot() as session:
        assert session.execute(text("SHOW transaction_isolation")).scalar_one() == "repeatable read"
        assert _in_transaction(session.connection())


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the BEGIN sent late is PostgreSQL's
def test_a_connection_kept_or_back_in_the_pool_has_no_begin_left_to_send(db):
    """An exchange that ends with a write held and nothing sent (its answer never recorded)
    keeps its connection, or gives it back to the pool, with nothing begun: its next user
    starts clean. Held work that was sent rolls back."""
    for sent in (False, True):
        with db.exchange() as exchange:
            exchange.hold_next()
            with db.writing() as connection:
                if sent:
                    connection.execute(text("CREATE TABLE held_never_committed (x integer)"))
            assert exchange.holding
        with db.exchange(), db.reading() as connection:  # the connection kept
            assert "hub.begin_pending" not in connection.info
            assert not _in_transaction(connection)
            assert not driver_execute(connection, "SELECT to_regclass('held_never_committed')", ())[0][0]
        with db.exchange(), db.writing() as connection:  # a transaction of its own (the process's
            # PostgreSQL database is shared by the tests: nothing is left in it)
            assert driver_execute(connection, "SELECT 1", ()) == [(1,)]
            assert _in_transaction(connection)
    db._kept.most = 0  # none kept: back to the pool
    with db.exchange() as exchange:
        exchange.hold_next()
        with db.writing() as connection:
            pass
    with db.engine.connect() as connection:
        assert "hub.begin_pending" not in connection.info


def test_a_read_in_an_exchange_runs_with_no_transaction_of_its_own(db):
    """An exchange's read sends no BEGIN or COMMIT: each statement sees the database as of its
    own start, on SQLite as under PostgreSQL's READ COMMITTED. A statement SQLAlchemy runs
    itself (an ORM query) begins a transaction, which the block's end commits."""
    with counting(db.engine) as counts, db.exchange():
        with db.reading() as connection:
            assert driver_execute(connection, "SELECT 1", ()) == [(1,)]
        assert counts == Counter(checkouts=1)
        with db.reading() as connection:
            assert connection.execute(text("SELECT 2")).scalar_one() == 2
        assert not connection.in_transaction()
        with db.writing() as connection:  # a write still has its transaction
            driver_execute(connection, "SELECT 3", ())
    assert counts == Counter(checkouts=1, transactions=2, commits=2)
    with db.engine.connect() as connection, pytest.raises(RuntimeError, match="inside a transaction"):
        driver_execute(connection, "SELECT 4", ())  # outside an exchange's read, still refused


def test_autocommitted_work_in_an_exchange_is_a_write_transaction_on_sqlite_alone(db):
    """`autocommitted()` in an exchange: on PostgreSQL each statement on its own, with no
    transaction; on SQLite, where such work takes several statements, a write transaction
    that takes the write lock at its BEGIN (IMMEDIATE), as `writing()`'s does."""
    sent: list[str] = []
    if db.is_sqlite:
        event.listen(
            db.engine, "connect", lambda dbapi_connection, _record: dbapi_connection.set_trace_callback(sent.append)
        )
    with counting(db.engine) as counts, db.exchange():
        with db.autocommitted() as connection:
            assert driver_execute(connection, "SELECT 1", ()) == [(1,)]
    if db.is_sqlite:
        assert counts == Counter(checkouts=1, transactions=1, commits=1)
        assert sent[sent.index("BEGIN IMMEDIATE") :] == ["BEGIN IMMEDIATE", "SELECT 1", "COMMIT"]
    else:
        assert counts == Counter(checkouts=1)

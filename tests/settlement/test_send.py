"""`send`: the outbox delivers settlements to the fake bank over real HTTP, signed both
ways; what fails for now is retried with backoff, what is refused is final, and no
transfer reaches the bank twice at once or is booked twice."""

from __future__ import annotations

from datetime import timedelta

from cryptography import x509
from lxml import etree
from sqlalchemy import select

from hub.app import Hub
from hub.audit.messagelog import MessageRecord
from hub.config import load_config
from hub.fakebank.bank import FakeBank
from hub.fakebank.server import FakePartners, FakeServer
from hub.outbox import Outbox
from hub.outbox.models import FAILED, PENDING, REJECTED, SENT
from hub.outbox.service import ATTEMPTS_MAX, DeliveryRun, backoff_s
from hub.settlement.models import Settlement
from hub.signing.keys import SigningIdentity
from tests.support import SHIPPED_CONFIG
from tests.support.concurrency import in_threads
from tests.support.settlement import DAY, E2E, OPERATOR, books_balance, configure, settled, settlement

CAMT = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def transfer_record(hub):
    return next(r for r in Outbox(hub.db).list(kind="bank.transfer") if r.key == E2E)


def statement_debits(bank, day) -> list[tuple[str, str]]:
    """(EndToEndId, amount) of every debit on the fake bank's statement of that day."""
    document = etree.fromstring(bank.statement(day))
    n = {"c": CAMT}
    return [
        (entry.findtext("c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId", namespaces=n), entry.findtext("c:Amt", namespaces=n))
        for entry in document.iterfind(".//c:Ntry", n)
        if entry.findtext("c:CdtDbtInd", namespaces=n) == "DBIT"
    ]


def test_a_settlement_reaches_the_bank_once_signed_both_ways(hub, clock, bank):
    settled(hub, clock)
    run = hub.settlements.send(actor=OPERATOR)
    assert (run.sent, run.refused, run.retried, run.failed) == (2, 0, 0, 0)  # the transfer and office 1465's FK journal
    transfer = bank.transfers()[E2E]
    assert (transfer["amount"], transfer["status"], transfer["deliveries"]) == ("161.50", "ACCEPTED", 1)
    assert (transfer["creditor_account"], transfer["debtor_account"]) == (
        hub.config.office("1465").account,
        hub.config.bank.escrow_account,
    )
    s = settlement(hub)
    assert (s.status, s.bank_reference) == (SENT, transfer["bank_reference"])
    # The bank verified the hub's signature (its message log names the client it trusted).
    assert {(e.service, e.client_id) for e in bank_log(bank)} == {("bank", "hub"), ("fk", "hub")}

    again = hub.settlements.send(actor=OPERATOR)
    assert again.attempted == 0
    assert bank.transfers()[E2E]["deliveries"] == 1
    assert statement_debits(bank, DAY + timedelta(days=1)) == [(E2E, "161.50")]
    books_balance(hub)


def bank_log(bank):
    with bank.partners.db.read() as session:
        return session.scalars(select(MessageRecord)).all()


def test_bank_down_nothing_lost_nothing_sent_twice(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="down")
    run = hub.settlements.send(actor=OPERATOR)
    assert (run.sent, run.retried) == (1, 1)  # the FK system is up; the bank answers 503
    record = transfer_record(hub)
    assert (record.status, record.attempts, record.next_attempt_at) == (
        PENDING,
        1,
        clock.now + timedelta(seconds=backoff_s(1)),
    )
    assert "HTTP 503" in record.last_error
    assert settlement(hub).status == PENDING
    assert hub.settlements.send(actor=OPERATOR).attempted == 0  # not due yet

    clock.advance(seconds=backoff_s(1))
    assert hub.settlements.send(actor=OPERATOR).retried == 1
    assert transfer_record(hub).next_attempt_at == clock.now + timedelta(seconds=backoff_s(2))
    assert E2E not in bank.transfers()

    bank.control(mode="ok")
    clock.advance(seconds=backoff_s(2))
    assert hub.settlements.send(actor=OPERATOR).sent == 1
    assert bank.transfers()[E2E]["deliveries"] == 1
    assert (transfer_record(hub).status, transfer_record(hub).attempts, settlement(hub).status) == (SENT, 3, SENT)
    books_balance(hub)


def test_connection_refused_then_back(hub, clock, bank):
    settled(hub, clock)
    bank.server.stop()
    run = hub.settlements.send(actor=OPERATOR)
    assert (run.sent, run.retried) == (0, 2)
    assert "unreachable" in transfer_record(hub).last_error
    bank.server.start()  # the same port
    clock.advance(seconds=backoff_s(1))
    assert hub.settlements.send(actor=OPERATOR).sent == 2
    assert bank.transfers()[E2E]["deliveries"] == 1


def test_backoff_doubles_up_to_its_cap():
    assert [backoff_s(n) for n in (1, 2, 3, 6, 7, 8, 30)] == [60, 120, 240, 1920, 3600, 3600, 3600]


def test_given_up_after_attempts_max_and_sent_when_asked_again(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="down")
    outbox = Outbox(hub.db, clock, attempts_max=3)
    for attempt in range(1, 4):
        run = hub.settlements.send(actor=OPERATOR, outbox=outbox)
        assert transfer_record(hub).attempts == attempt
        clock.advance(hours=2)
    assert (run.failed, transfer_record(hub).status) == (1, FAILED)
    assert hub.settlements.send(actor=OPERATOR, outbox=outbox).attempted == 0  # given up stays given up
    assert settlement(hub).status == PENDING  # the money waits in transit, nothing is lost

    bank.control(mode="ok")
    run = hub.settlements.send(actor=OPERATOR, outbox=outbox, retry_failed=True)
    assert (run.sent, transfer_record(hub).status, settlement(hub).status) == (1, SENT, SENT)
    assert bank.transfers()[E2E]["deliveries"] == 1


def test_the_default_cap_is_eight_attempts():
    assert ATTEMPTS_MAX == 8


def test_a_timeout_is_retried_and_the_bank_answers_the_first_answer_again(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="slow", seconds=3)
    run = hub.settlements.send(actor=OPERATOR, timeout_s=1)
    assert run.retried >= 1 and "did not answer within 1 s" in transfer_record(hub).last_error
    booked = bank.transfers()[E2E]  # the bank took it; the hub never heard
    assert booked["deliveries"] == 1 and settlement(hub).status == PENDING

    bank.control(mode="ok")
    clock.advance(seconds=backoff_s(1))
    hub.settlements.send(actor=OPERATOR)
    again = bank.transfers()[E2E]
    assert (again["deliveries"], again["bank_reference"]) == (2, booked["bank_reference"])
    assert (settlement(hub).status, settlement(hub).bank_reference) == (SENT, booked["bank_reference"])
    assert statement_debits(bank, DAY + timedelta(days=1)) == [(E2E, "161.50")]  # booked once


def test_a_lost_answer_is_delivered_twice_and_booked_once(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="twice")
    hub.settlements.send(actor=OPERATOR)
    assert "HTTP 502" in transfer_record(hub).last_error
    first = bank.transfers()[E2E]
    bank.control(mode="ok")
    clock.advance(seconds=backoff_s(1))
    assert hub.settlements.send(actor=OPERATOR).sent == 1
    assert bank.transfers()[E2E]["deliveries"] == 2
    assert settlement(hub).bank_reference == first["bank_reference"]
    assert statement_debits(bank, DAY + timedelta(days=1)) == [(E2E, "161.50")]


def test_a_rejected_transfer_returns_the_money_and_goes_out_again_next_day(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="reject", reason="Rachunek odbiorcy zamknięty")
    run = hub.settlements.send(actor=OPERATOR)
    assert run.refused == 1
    s = settlement(hub)
    assert (s.status, transfer_record(hub).status) == (REJECTED, REJECTED)
    assert "Rachunek odbiorcy zamknięty" in s.reject_reason
    balances = books_balance(hub)
    assert (balances["office:1465"], balances["bank:transit"]) == (161_50, 0)
    assert [x.end_to_end_id for x in hub.settlements.list(actor=OPERATOR, status=REJECTED)] == [E2E]

    bank.control(mode="ok")
    assert hub.settlements.send(actor=OPERATOR).attempted == 0  # final: not sent again
    clock.advance(days=1)
    next_day = {x.office_code: x for x in hub.settlements.settle(DAY + timedelta(days=1), actor=OPERATOR).settlements}[
        "1465"
    ]
    assert (next_day.status, next_day.amount_grosze, next_day.end_to_end_id) == (PENDING, 161_50, "HUB-1465-20260311-1")
    hub.settlements.send(actor=OPERATOR)
    assert settlement(hub, "HUB-1465-20260311-1").status == SENT
    assert bank.transfers()[E2E]["status"] == "REJECTED"
    books_balance(hub)


def test_a_client_fault_is_final_and_returns_the_money(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="fault", reason="Tytuł przelewu nieczytelny")
    assert hub.settlements.send(actor=OPERATOR).refused == 1
    s = settlement(hub)
    assert (
        s.status == REJECTED
        and "Client.InvalidRequest" in s.reject_reason
        and "Tytuł przelewu nieczytelny" in s.reject_reason
    )
    assert books_balance(hub)["office:1465"] == 161_50
    assert E2E not in bank.transfers()


def test_a_server_fault_is_retried(hub, clock, bank):
    settled(hub, clock)
    bank.control(mode="error")
    assert hub.settlements.send(actor=OPERATOR).retried == 1
    assert ":Server: The hub could not complete" in transfer_record(hub).last_error
    bank.control(mode="ok")
    clock.advance(seconds=backoff_s(1))
    assert hub.settlements.send(actor=OPERATOR).sent == 1


def test_two_senders_never_deliver_one_record_at_once(hub, clock, bank):
    settled(hub, clock, offices=("1465", "1261", "3064", "0264"))
    bank.control(mode="slow", seconds=0.5)
    runs = in_threads(lambda: hub.settlements.send(actor=OPERATOR), 3)
    assert sum(r.sent for r in runs) == 5  # four transfers and one FK journal, each by one sender
    transfers = bank.transfers()
    assert sorted(transfers) == sorted(f"HUB-{o}-20260310-1" for o in ("1465", "1261", "3064", "0264"))
    assert {t["deliveries"] for t in transfers.values()} == {1}
    assert {j["deliveries"] for j in bank.journals().values()} == {1}


def test_a_sender_that_died_is_replaced_when_its_lease_ends(hub, clock, bank):
    settled(hub, clock)
    dead = Outbox(hub.db, clock, lease_s=300)
    claimed = dead._claim("dead-sender", ["bank.transfer"], 10)  # claims, then never finishes
    assert [kind for _, kind, _ in claimed] == ["bank.transfer"]
    assert hub.settlements.send(actor=OPERATOR).sent == 1  # only the FK journal: the transfer is leased
    assert E2E not in bank.transfers()

    clock.advance(seconds=301)
    assert hub.settlements.send(actor=OPERATOR).sent == 1
    assert (transfer_record(hub).status, bank.transfers()[E2E]["deliveries"]) == (SENT, 1)
    # The dead sender wakes up and reports: its outcome no longer counts.
    late = DeliveryRun()
    dead._finish("dead-sender", claimed[0][0], lambda session, record: None, late, "sent")
    assert late.sent == 0 and "lease lost" in late.errors[0]


def test_an_impostor_banks_answer_is_not_trusted(tmp_path, db, clock):
    """A server that signs with a key other than the BANK client's: the hub keeps the
    transfer pending and says why."""
    shipped = load_config(SHIPPED_CONFIG)
    keys = SHIPPED_CONFIG / "keys"
    impostor = SigningIdentity.load(keys / "pojazd-1465.key", keys / "pojazd-1465.crt")
    hub_cert = x509.load_pem_x509_certificate(shipped.signing.cert.read_bytes())
    (tmp_path / "impostor").mkdir()
    partners = FakePartners(FakeBank(shipped.bank.escrow_account), impostor, hub_cert, tmp_path / "impostor")
    server = FakeServer(partners).start()
    try:
        hub = Hub(configure(tmp_path / "hub", db.url, server.url, fk=False), clock=clock, db=db)
        settled(hub, clock)
        assert hub.settlements.send(actor=OPERATOR).retried == 1
        assert "signature check" in transfer_record(hub).last_error
        assert settlement(hub).status == PENDING
    finally:
        server.stop()
        partners.close()


def test_settlement_rows_keep_the_outbox_record(hub, clock, bank):
    settled(hub, clock)
    with hub.db.read() as session:
        row = session.scalars(select(Settlement).where(Settlement.end_to_end_id == E2E)).one()
    assert row.outbox_id == transfer_record(hub).id

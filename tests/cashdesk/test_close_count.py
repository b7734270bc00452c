"""Closing a desk day with a cash count (issue 20): the count against the day's cash,
a difference confirmed by a supervisor and booked; a day more than one day back
only with force and a supervisor, audited (issue 16); the payer on a payment."""

from __future__ import annotations

from datetime import date

import pytest

from hub.cashdesk.service import CashCount, ItemRequest
from hub.errors import InvalidRequest, NotAuthorized
from hub.ledger import Ledger
from tests.support.cashdesk import TODAY, add_user, balance, events, pay, payments, transfers
from tests.support.factories import OPERATOR, rid


def close(hub, **kw):
    fields = {"request_id": rid(), "office_code": "1465", "desk_id": "01", "day": TODAY, "actor": OPERATOR, **kw}
    return hub.cashdesk.close_day(**fields)


def day_is_open(hub, day=TODAY) -> bool:
    return hub.cashdesk.closed_day(office_code="1465", desk_id="01", day=day, actor=OPERATOR) is None


def test_a_count_equal_to_the_days_cash_closes_without_a_supervisor(hub):
    pay(hub)  # 54.00 cash (DR, no cash handling fee at 1465)
    pay(hub, method="CARD", card_auth_code="A1")
    assert hub.cashdesk.expected_cash(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR) == 54_00
    before = transfers(hub)
    closed = close(hub, counted_cash_grosze=54_00)
    assert closed.count == CashCount(expected_grosze=54_00, counted_grosze=54_00, confirmed_by=None)
    assert closed.count.difference_grosze == 0
    assert transfers(hub) == before  # nothing to book
    assert events(hub, "cashdesk.close")[0]["difference"] == "0.00"


def test_a_shortage_needs_a_supervisor_and_is_booked_out_of_the_drawer(hub):
    add_user(hub, "anna.nowak", role="cashier")
    supervisor = add_user(hub, "ewa.wisniewska")
    pay(hub)
    pay(hub, ItemRequest("PJ"))
    expected = hub.cashdesk.expected_cash(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    before = transfers(hub)
    with pytest.raises(NotAuthorized, match="differs from the expected .* by -10.00 PLN; a supervisor must confirm"):
        close(hub, counted_cash_grosze=expected - 10_00)
    with pytest.raises(NotAuthorized, match="may not confirm cash differences of office 1465"):
        close(hub, counted_cash_grosze=expected - 10_00, supervisor="anna.nowak")
    assert day_is_open(hub) and transfers(hub) == before

    closed = close(hub, counted_cash_grosze=expected - 10_00, supervisor=supervisor)
    assert closed.count == CashCount(expected, expected - 10_00, "ewa.wisniewska")
    assert closed.count.difference_grosze == -10_00
    assert balance(hub, "office:1465:cash_differences").posted == -10_00  # credit-normal: a shortage is a debit
    assert (
        balance(hub, "desk:1465:01:CASH").debits_posted - balance(hub, "desk:1465:01:CASH").credits_posted
        == expected - 10_00
    )
    event = events(hub, "cashdesk.close")[0]
    assert (event["counted"], event["difference"], event["confirmed_by"]) == (
        f"{(expected - 10_00) / 100:.2f}",
        "-10.00",
        "ewa.wisniewska",
    )
    with hub.db.read() as s:
        Ledger(s).verify()


def test_a_surplus_is_booked_into_the_drawer(hub):
    supervisor = add_user(hub, "ewa.wisniewska")
    pay(hub)
    closed = close(hub, counted_cash_grosze=54_20, supervisor=supervisor)
    assert closed.count.difference_grosze == 20
    cash = balance(hub, "desk:1465:01:CASH")
    assert cash.debits_posted - cash.credits_posted == 54_20


def test_a_negative_count_is_refused(hub):
    with pytest.raises(InvalidRequest, match="CountedCash cannot be below zero"):
        close(hub, counted_cash_grosze=-1)
    assert day_is_open(hub)


def test_yesterday_closes_as_before_but_a_day_further_back_needs_force_and_a_supervisor(hub):
    add_user(hub, "anna.nowak", role="cashier")
    supervisor = add_user(hub, "ewa.wisniewska")
    assert close(hub, day=date(2026, 3, 9)).late_close_supervisor is None
    old = date(2026, 3, 8)
    with pytest.raises(
        InvalidRequest, match="more than 1 day back; closing it needs a supervisor's approval and force"
    ):
        close(hub, day=old)
    with pytest.raises(InvalidRequest, match="needs a supervisor's approval and force"):
        close(hub, day=old, force=True)
    with pytest.raises(InvalidRequest, match="needs a supervisor's approval and force"):
        close(hub, day=old, supervisor=supervisor)
    with pytest.raises(NotAuthorized, match="may not close a past day of the desks of office 1465"):
        close(hub, day=old, force=True, supervisor="anna.nowak")
    assert day_is_open(hub, old)
    assert len(events(hub, "cashdesk.close")) == 1

    closed = close(hub, day=old, force=True, supervisor=supervisor)
    assert closed.late_close_supervisor == "ewa.wisniewska"
    audited = [e for e in events(hub, "cashdesk.close") if e["day"] == "2026-03-08"]
    assert audited == [audited[0]] and (audited[0]["forced"], audited[0]["supervisor"], audited[0]["late_by_days"]) == (
        True,
        "ewa.wisniewska",
        2,
    )


def test_the_payer_is_kept_on_one_line_and_limited(hub):
    r = pay(hub, payer_name="  Jan   Kowalski ", payer_address="ul. Długa 5\n00-001 Warszawa")
    record = hub.cashdesk.payment(r.payment_id, OPERATOR)
    assert (record.payer_name, record.payer_address) == ("Jan Kowalski", "ul. Długa 5 00-001 Warszawa")
    assert hub.cashdesk.payment(pay(hub).payment_id, OPERATOR).payer_name is None
    with pytest.raises(InvalidRequest, match="PayerName is 201 characters long; at most 200"):
        pay(hub, payer_name="x" * 201)
    assert len(payments(hub)) == 2


def test_a_closed_day_is_known_before_a_payment_starts(hub):
    assert day_is_open(hub)
    closed = close(hub)
    assert hub.cashdesk.closed_day(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR) == closed

"""The cash desk domain: payments, receipt numbers, the ledger, voids, day close,
VerifyPayment's lookup, the daily report and day_takings. Every refusal is a
specific error and changes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from hub.access import Actor
from hub.cashdesk.service import ITEMS_COUNT_MAX, DayTakings, DeskTotals, ItemRequest
from hub.errors import DayClosed, IdempotencyConflict, InvalidRequest, NotAuthorized, NotFound
from hub.ledger import Ledger
from tests.support.cashdesk import TODAY, add_user, balance, events, pay, payments, transfers, void
from tests.support.factories import OPERATOR, company_actor, rid


def office_actor(office: str = "1465", *permissions: str) -> Actor:
    return Actor(
        f"user:test@{office}", permissions=frozenset(permissions) if permissions else None, offices=frozenset({office})
    )


# -- register ---------------------------------------------------------------


def test_a_card_payment_takes_the_fee_schedule_and_the_offices_card_fee(hub):
    r = pay(hub, ItemRequest("DR"), ItemRequest("EWID"), method="CARD", card_auth_code="A1B2C3")
    assert r.receipt_number == "KP/1465/01/2026/000001"
    assert (r.items_total_grosze, r.handling_fee_grosze, r.total_grosze) == (54_50, 1_50, 56_00)
    assert r.paid_at == hub.clock()
    [p] = payments(hub)
    assert (p.id, p.method, p.card_auth_code, p.business_day, p.cashier) == (
        r.payment_id,
        "CARD",
        "A1B2C3",
        TODAY,
        "anna.nowak",
    )
    assert balance(hub, "desk:1465:01:CARD").debits_posted == 56_00
    assert balance(hub, "office:1465:takings").credits_posted == 56_00
    with hub.db.read() as s:
        Ledger(s).verify()
    [event] = events(hub, "cashdesk.pay")
    assert (event["receipt"], event["total"], event["actor"]) == (r.receipt_number, "56.00", OPERATOR.name)


def test_explicit_amounts_and_the_cash_fee_of_another_office(hub):
    r = pay(hub, ItemRequest("WORD_T", 45_00), ItemRequest("EWID"), office_code="3064", desk_id="02", system="WORD")
    assert r.receipt_number == "KP/3064/02/2026/000001"
    assert (r.items_total_grosze, r.handling_fee_grosze, r.total_grosze) == (45_50, 1_00, 46_50)
    assert balance(hub, "desk:3064:02:CASH").debits_posted == 46_50


def test_receipt_numbers_run_per_desk_and_restart_with_the_warsaw_year(hub, clock):
    assert [pay(hub).receipt_number for _ in range(3)] == [f"KP/1465/01/2026/00000{n}" for n in (1, 2, 3)]
    assert pay(hub, desk_id="02").receipt_number == "KP/1465/02/2026/000001"
    assert pay(hub, office_code="1261").receipt_number == "KP/1261/01/2026/000001"
    clock.now = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 in Warsaw
    assert pay(hub).receipt_number == "KP/1465/01/2027/000001"
    assert pay(hub).receipt_number == "KP/1465/01/2027/000002"


def test_a_rolled_back_payment_leaves_no_gap(hub, monkeypatch):
    pay(hub)
    real = Ledger.transfer

    def failing(self, *args, **kwargs):
        raise RuntimeError("the database went away after the number was taken")

    monkeypatch.setattr(Ledger, "transfer", failing)
    with pytest.raises(RuntimeError):
        pay(hub)
    monkeypatch.setattr(Ledger, "transfer", real)
    assert pay(hub).receipt_number == "KP/1465/01/2026/000002"
    assert [p.number for p in payments(hub)] == [1, 2]


def test_the_same_request_id_gives_the_first_answer_and_one_payment(hub):
    key = rid()
    first = pay(hub, ItemRequest("PJ"), request_id=key)
    again = pay(hub, ItemRequest("PJ"), request_id=key)
    assert again == first
    assert len(payments(hub)) == 1 and balance(hub, "office:1465:takings").credits_posted == 100_00
    with pytest.raises(IdempotencyConflict):
        pay(hub, ItemRequest("PJ", 99_00), request_id=key)
    assert len(payments(hub)) == 1


@pytest.mark.parametrize(
    "fields, error, words",
    [
        ({"office_code": "9999"}, InvalidRequest, "Unknown office"),
        ({"desk_id": "07"}, InvalidRequest, "no desk '07'"),
        ({"method": "CARD"}, InvalidRequest, "CardAuthCode is required"),
        ({"card_auth_code": "A1B2"}, InvalidRequest, "CardAuthCode is given for a CASH"),
        ({"method": "CARD", "card_auth_code": "A1 B2"}, InvalidRequest, "not 1 to 32"),
        ({"method": "CHEQUE"}, InvalidRequest, "Method must be CASH or CARD"),
        ({"system": "SKARBOWY"}, InvalidRequest, "System must be one of"),
        ({"case_number": "  "}, InvalidRequest, "CaseNumber is empty"),
        ({"cashier": ""}, InvalidRequest, "Cashier is empty"),
        ({"items": []}, InvalidRequest, "1 to"),
        ({"items": [ItemRequest("DR")] * (ITEMS_COUNT_MAX + 1)}, InvalidRequest, "1 to"),
        ({"items": [ItemRequest("NOPE")]}, InvalidRequest, "Unknown fee code 'NOPE'"),
        ({"items": [ItemRequest("DR", 0)]}, InvalidRequest, "at least 0.01"),
        ({"actor": office_actor("1261")}, NotAuthorized, "does not act for office 1465"),
        ({"actor": company_actor()}, NotAuthorized, "does not act for office 1465"),
        ({"actor": office_actor("1465", "payments:read")}, NotAuthorized, "payments:register"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(hub, fields, error, words):
    pay(hub)
    before = transfers(hub)
    with pytest.raises(error) as refused:
        pay(hub, **fields)
    assert words in refused.value.message
    assert len(payments(hub)) == 1 and transfers(hub) == before
    assert pay(hub).receipt_number == "KP/1465/01/2026/000002"  # no number was used up


def test_an_office_cashier_may_take_payments_but_not_void_or_close(hub):
    add_user(hub, "anna.nowak", role="cashier")
    cashier = hub.users.actor("anna.nowak")
    r = pay(hub, actor=cashier)
    add_user(hub, "ewa.wisniewska")
    with pytest.raises(NotAuthorized, match="payments:void"):
        void(hub, r.payment_id, "pomyłka", "ewa.wisniewska", actor=cashier)
    with pytest.raises(NotAuthorized, match="desk:close"):
        hub.cashdesk.close_day(request_id=rid(), office_code="1465", desk_id="01", day=TODAY, actor=cashier)
    assert events(hub, "cashdesk.pay")[0]["actor"] == "user:anna.nowak"


# -- void ---------------------------------------------------------------------


def test_a_supervisor_voids_a_payment_with_the_reverse_transfer(hub, clock):
    supervisor = add_user(hub, "ewa.wisniewska")
    r = pay(hub, method="CARD", card_auth_code="X9")
    clock.advance(minutes=5)
    key = rid()
    voided_at = hub.cashdesk.void(
        request_id=key,
        payment_id=r.payment_id,
        reason="Pomyłka kasjera: zła sprawa.",
        supervisor=supervisor,
        actor=OPERATOR,
    )
    assert voided_at == clock.now
    desk = balance(hub, "desk:1465:01:CARD")
    assert (desk.debits_posted, desk.credits_posted) == (55_50, 55_50)
    assert balance(hub, "office:1465:takings").posted == 0
    [p] = payments(hub)
    assert (p.voided_at, p.voided_by, p.void_reason) == (clock.now, supervisor, "Pomyłka kasjera: zła sprawa.")
    [event] = events(hub, "cashdesk.void")
    assert (event["supervisor"], event["reason"], event["receipt"]) == (
        supervisor,
        "Pomyłka kasjera: zła sprawa.",
        r.receipt_number,
    )
    # the same RequestId answers again; another void of it is refused
    assert (
        hub.cashdesk.void(
            request_id=key,
            payment_id=r.payment_id,
            reason="Pomyłka kasjera: zła sprawa.",
            supervisor=supervisor,
            actor=OPERATOR,
        )
        == voided_at
    )
    with pytest.raises(InvalidRequest, match="already voided"):
        void(hub, r.payment_id, "jeszcze raz", supervisor)
    with hub.db.read() as s:
        Ledger(s).verify()


def test_a_supervisor_acting_with_the_cli_voids_under_their_own_name(hub):
    add_user(hub, "ewa.wisniewska")
    r = pay(hub)
    void(hub, r.payment_id, "klient zrezygnował", "ewa.wisniewska", actor=hub.users.actor("ewa.wisniewska"))
    assert events(hub, "cashdesk.void")[0]["actor"] == "user:ewa.wisniewska"


@pytest.mark.parametrize(
    "setup, supervisor, words",
    [
        (lambda hub: None, "nobody.here", "not an active hub user"),
        (lambda hub: add_user(hub, "anna.nowak", role="cashier"), "anna.nowak", "may not void payments of office 1465"),
        (
            lambda hub: add_user(hub, "jan.kowalski", office_code="1261"),
            "jan.kowalski",
            "may not void payments of office 1465",
        ),
        (
            lambda hub: (add_user(hub, "ewa.wisniewska"), hub.users.set_active(OPERATOR, "ewa.wisniewska", False)),
            "ewa.wisniewska",
            "not an active hub user",
        ),
    ],
    ids=["unknown", "a cashier", "of another office", "deactivated"],
)
def test_only_an_active_supervisor_of_the_office_may_approve_a_void(hub, setup, supervisor, words):
    r = pay(hub)
    setup(hub)
    with pytest.raises(NotAuthorized, match=words):
        void(hub, r.payment_id, "pomyłka", supervisor)
    assert payments(hub)[0].voided_at is None and balance(hub, "office:1465:takings").posted == 54_00


def test_void_refusals_change_nothing(hub, clock):
    supervisor = add_user(hub, "ewa.wisniewska")
    r = pay(hub)

    def void(**kw):
        return hub.cashdesk.void(
            **{
                "request_id": rid(),
                "payment_id": r.payment_id,
                "reason": "pomyłka",
                "supervisor": supervisor,
                "actor": OPERATOR,
                **kw,
            }
        )

    with pytest.raises(InvalidRequest, match="Reason is empty"):
        void(reason="   ")
    with pytest.raises(NotFound):
        void(payment_id="no-such-payment")
    with pytest.raises(NotFound):  # another office's payment does not exist for this caller
        void(actor=office_actor("1261"))
    clock.advance(days=1)
    with pytest.raises(DayClosed, match="only on the day it was taken"):
        void()
    assert payments(hub)[0].voided_at is None and balance(hub, "office:1465:takings").posted == 54_00


# -- close the day --------------------------------------------------------------


def test_close_day_freezes_the_desk_day_and_keeps_its_report(hub, clock):
    supervisor = add_user(hub, "ewa.wisniewska")
    kept = [pay(hub), pay(hub, ItemRequest("PJ"), ItemRequest("EWID"), method="CARD", card_auth_code="777")]
    voided = pay(hub, ItemRequest("TAB_SAM"))
    void(hub, voided.payment_id, "zła kwota", supervisor)
    other_desk = pay(hub, desk_id="02")
    clock.advance(hours=8)
    key = rid()
    closed = hub.cashdesk.close_day(request_id=key, office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    assert closed.report_id == "RK/1465/01/2026-03-10" and closed.closed_at == clock.now
    assert closed.totals == DeskTotals(
        payment_count=2,
        voided_count=1,
        cash_total_grosze=54_00,
        card_total_grosze=102_00,
        handling_fee_total_grosze=1_50,
    )
    assert hub.cashdesk.close_day(request_id=key, office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR) == closed

    with pytest.raises(DayClosed, match="closed for 2026-03-10"):
        pay(hub)
    with pytest.raises(DayClosed):
        void(hub, kept[0].payment_id, "za późno", supervisor)
    with pytest.raises(DayClosed):
        hub.cashdesk.close_day(request_id=rid(), office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    assert len(payments(hub)) == 4
    # the other desk is still open, and the next day the closed desk takes payments again
    void(hub, other_desk.payment_id, "pomyłka", supervisor)
    clock.advance(days=1)
    assert pay(hub).receipt_number == "KP/1465/01/2026/000004"
    assert events(hub, "cashdesk.close")[0]["report"] == "RK/1465/01/2026-03-10"


def test_a_past_day_can_be_closed_and_a_future_one_cannot(hub):
    closed = hub.cashdesk.close_day(
        request_id=rid(), office_code="1465", desk_id="02", day=date(2026, 3, 9), actor=OPERATOR
    )
    assert closed.totals == DeskTotals(0, 0, 0, 0, 0)
    with pytest.raises(InvalidRequest, match="has not begun"):
        hub.cashdesk.close_day(
            request_id=rid(), office_code="1465", desk_id="02", day=date(2026, 3, 11), actor=OPERATOR
        )
    with pytest.raises(NotAuthorized):
        hub.cashdesk.close_day(
            request_id=rid(), office_code="1465", desk_id="02", day=TODAY, actor=office_actor("1261")
        )


# -- reading ------------------------------------------------------------------


def test_verify_payment_lists_the_cases_payments_that_count(hub):
    supervisor = add_user(hub, "ewa.wisniewska")
    case = "KM.5410.1.124.2026"
    first = pay(hub, ItemRequest("DR"), ItemRequest("EWID"), case_number=case, method="CARD", card_auth_code="A1")
    second = pay(hub, ItemRequest("TAB_SAM"), case_number=case, desk_id="02")
    voided = pay(hub, ItemRequest("NAL"), case_number=case)
    void(hub, voided.payment_id, "pomyłka", supervisor)
    pay(hub, ItemRequest("PJ"), case_number=case, system="KIEROWCA")  # another system's case of the same number
    pay(hub, case_number=case, office_code="1261")  # another office

    check = hub.cashdesk.verify_payment(
        system="POJAZD", office_code="1465", case_number=case, actor=office_actor("1465")
    )
    assert check.paid and check.total_paid_grosze == 54_50 + 80_00
    assert [p.payment_id for p in check.payments] == [first.payment_id, second.payment_id]
    assert [(i.fee_code, i.amount_grosze) for i in check.payments[0].items] == [("DR", 54_00), ("EWID", 50)]
    assert check.payments[0].handling_fee_grosze == 1_50

    unpaid = hub.cashdesk.verify_payment(system="WORD", office_code="1465", case_number=case, actor=OPERATOR)
    assert (unpaid.paid, unpaid.total_paid_grosze, unpaid.payments) == (False, 0, ())
    with pytest.raises(NotAuthorized):
        hub.cashdesk.verify_payment(system="POJAZD", office_code="1465", case_number=case, actor=office_actor("1261"))


def test_the_days_report_totals_are_the_payments_by_method_less_voids(hub, clock):
    supervisor = add_user(hub, "ewa.wisniewska")
    made = []
    fees = ["DR", "PC", "TAB_SAM", "TAB_MOT", "NAL", "EWID", "PJ"]
    for n in range(14):
        method = "CARD" if n % 3 == 0 else "CASH"
        items = [ItemRequest(fees[n % len(fees)]), ItemRequest("EWID", 50 + n)]
        made.append(
            (
                method,
                pay(
                    hub,
                    *items,
                    method=method,
                    card_auth_code="C0DE" if method == "CARD" else None,
                    case_number=f"KM/{n}",
                ),
            )
        )
        clock.advance(minutes=7)
    voided = {made[i][1].payment_id for i in (2, 3, 9)}
    for payment_id in voided:
        void(hub, payment_id, "pomyłka", supervisor)

    counted = [(m, r) for m, r in made if r.payment_id not in voided]
    expected = DeskTotals(
        payment_count=len(counted),
        voided_count=3,
        cash_total_grosze=sum(r.total_grosze for m, r in counted if m == "CASH"),
        card_total_grosze=sum(r.total_grosze for m, r in counted if m == "CARD"),
        handling_fee_total_grosze=sum(r.handling_fee_grosze for _, r in counted),
    )
    open_report = hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    assert open_report.closed is None and open_report.totals == expected
    assert [p.receipt_number for p in open_report.payments] == [r.receipt_number for _, r in made]
    assert {p.payment_id for p in open_report.payments if p.voided} == voided

    closed = hub.cashdesk.close_day(request_id=rid(), office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    assert closed.totals == expected
    report = hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    assert report.closed == closed and report.totals == expected
    in_drawer = {m: balance(hub, f"desk:1465:01:{m}") for m in ("CASH", "CARD")}  # the ledger agrees
    assert {m: b.debits_posted - b.credits_posted for m, b in in_drawer.items()} == {
        "CASH": expected.cash_total_grosze,
        "CARD": expected.card_total_grosze,
    }


def test_reports_need_reports_read_for_the_office(hub):
    with pytest.raises(NotAuthorized, match="reports:read"):
        hub.cashdesk.cash_report(
            office_code="1465", desk_id="01", day=TODAY, actor=office_actor("1465", "payments:register")
        )
    with pytest.raises(NotAuthorized):
        hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=office_actor("1261"))


def test_day_takings_sums_every_desk_of_the_office_less_voids(hub, clock):
    supervisor = add_user(hub, "ewa.wisniewska")
    pay(hub, ItemRequest("DR"), ItemRequest("EWID"))
    pay(hub, ItemRequest("DR"), ItemRequest("EWID"), desk_id="02", method="CARD", card_auth_code="A1")
    gone = pay(hub, ItemRequest("PJ"))
    void(hub, gone.payment_id, "pomyłka", supervisor)
    pay(hub, ItemRequest("PJ"), office_code="1261")  # another office
    clock.advance(days=1)
    pay(hub, ItemRequest("NAL"))  # another day

    takings = hub.cashdesk.day_takings("1465", TODAY, actor=OPERATOR)
    assert takings == DayTakings(
        office_code="1465",
        day=TODAY,
        by_fee_code={"DR": 108_00, "EWID": 1_00},
        handling_fees={"CASH": 0, "CARD": 1_50},
        by_method={"CASH": 54_50, "CARD": 56_00},
    )
    assert hub.cashdesk.day_takings("3064", TODAY, actor=OPERATOR) == DayTakings(
        "3064", TODAY, {}, {"CASH": 0, "CARD": 0}, {"CASH": 0, "CARD": 0}
    )


@pytest.mark.parametrize("actor", [office_actor("1261"), office_actor("1465", "payments:register")], ids=str)
def test_day_takings_are_refused_to_another_office_and_to_a_cashier(hub, actor):
    with pytest.raises(NotAuthorized):
        hub.cashdesk.day_takings("1465", TODAY, actor=actor)
    hub.cashdesk.day_takings("1465", TODAY, actor=office_actor("1465", "reports:read"))

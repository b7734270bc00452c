"""Acceptance over signed SOAP on 127.0.0.1: the cash desk application of office
1465 (kasa-1465-01) takes payments, Pojazd (pojazd-1465) asks VerifyPayment, a
supervisor's void unpays the case, CloseDay refuses later payments; and every
refusal is the contract's fault. Answers validate against the published XSD."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
import zeep

from hub import ns
from hub.clock import business_day
from tests.support.cashdesk import CASE, OTHER_KASA, Client, add_user, close_day_request, payment, void_request
from tests.support.factories import OPERATOR


def fault(call, **fields) -> tuple[str, str]:
    """(code, faultstring) of a call that must fail; the detail's Code agrees with the faultcode."""
    with pytest.raises(zeep.exceptions.Fault) as raised:
        call(**fields)
    code = raised.value.code.split(":")[-1].removeprefix("Client.")
    detail = raised.value.detail.find(f"{{{ns.COMMON}}}FaultDetail") if raised.value.detail is not None else None
    if detail is not None:
        assert detail.findtext(f"{{{ns.COMMON}}}Code") == code
    return code, raised.value.message


@pytest.fixture
def kasa(cashdesk_hub):
    return Client(cashdesk_hub, "kasa-1465-01", "cashdesk")


@pytest.fixture
def pojazd(cashdesk_hub):
    return Client(cashdesk_hub, "pojazd-1465", "office")


def test_pay_verify_void_and_close_over_signed_soap(cashdesk_hub, kasa, pojazd):
    supervisor = add_user(cashdesk_hub.hub, "ewa.wisniewska")
    paid = kasa.RegisterPayment(**payment())
    today = business_day(datetime.now(UTC))
    assert paid.ReceiptNumber == f"KP/1465/01/{today.year}/000001"
    assert (paid.ItemsTotal, paid.HandlingFee, paid.Total) == (Decimal("54.50"), Decimal("1.50"), Decimal("56.00"))

    check = pojazd.VerifyPayment(System="POJAZD", OfficeCode="1465", CaseNumber=CASE)
    assert (check.Paid, check.TotalPaid) == (True, Decimal("54.50"))
    [p] = check.Payment
    assert (p.PaymentId, p.ReceiptNumber, p.Amount, p.HandlingFee, p.Method) == (
        paid.PaymentId,
        paid.ReceiptNumber,
        Decimal("54.50"),
        Decimal("1.50"),
        "CARD",
    )
    assert [(i.FeeCode, i.Amount) for i in p.Item] == [("DR", Decimal("54.00")), ("EWID", Decimal("0.50"))]
    assert p.PaidAt == paid.PaidAt

    pdf = kasa.GetReceiptPdf(PaymentId=paid.PaymentId)  # zeep decodes the base64
    text = "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf))
    assert paid.ReceiptNumber in text and "Kasa przyjęła" in text

    voided = kasa.VoidPayment(**void_request(paid.PaymentId, "Pomyłka kasjera: zła sprawa.", supervisor))
    assert paid.PaidAt <= voided <= datetime.now(UTC)
    check = pojazd.VerifyPayment(System="POJAZD", OfficeCode="1465", CaseNumber=CASE)
    assert (check.Paid, check.TotalPaid, check.Payment) == (False, Decimal("0.00"), [])

    cash = kasa.RegisterPayment(**payment(Method="CASH", CardAuthCode=None, Item=[{"FeeCode": "TAB_SAM"}]))
    closed = kasa.CloseDay(**close_day_request(today))
    assert closed.ReportId == f"RK/1465/01/{today.isoformat()}"
    assert (closed.PaymentCount, closed.VoidedCount, closed.CashTotal, closed.CardTotal, closed.HandlingFeeTotal) == (
        1,
        1,
        Decimal("80.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )

    code, message = fault(kasa.RegisterPayment, **payment())
    assert code == "DayClosed" and "closed" in message
    assert fault(kasa.VoidPayment, **void_request(cash.PaymentId, "za późno", supervisor))[0] == "DayClosed"
    assert pojazd.VerifyPayment(System="POJAZD", OfficeCode="1465", CaseNumber=CASE).TotalPaid == Decimal("80.00")


def test_a_retry_with_the_same_request_id_gets_the_same_payment(cashdesk_hub, kasa):
    fields = payment()
    first = kasa.RegisterPayment(**fields)
    again = kasa.RegisterPayment(**fields)
    assert (again.PaymentId, again.ReceiptNumber) == (first.PaymentId, first.ReceiptNumber)
    assert fault(kasa.RegisterPayment, **{**fields, "CaseNumber": "KM.1"})[0] == "IdempotencyConflict"


def test_a_cash_desk_client_acts_only_for_its_own_office(cashdesk_hub, kasa):
    other = Client(cashdesk_hub, OTHER_KASA, "cashdesk")
    paid = kasa.RegisterPayment(**payment())
    assert fault(kasa.RegisterPayment, **payment(OfficeCode="1261"))[0] == "NotAuthorized"
    assert fault(other.RegisterPayment, **payment())[0] == "NotAuthorized"
    assert fault(other.GetReceiptPdf, PaymentId=paid.PaymentId)[0] == "NotFound"
    add_user(cashdesk_hub.hub, "jan.kowalski", office_code="1261")
    assert fault(other.VoidPayment, **void_request(paid.PaymentId, "cudza", "jan.kowalski"))[0] == "NotFound"
    assert fault(other.CloseDay, **close_day_request(business_day(datetime.now(UTC))))[0] == "NotAuthorized"
    assert cashdesk_hub.hub.cashdesk.payment(paid.PaymentId, OPERATOR).voided_at is None
    # at its own office it works
    assert other.RegisterPayment(**payment(OfficeCode="1261")).ReceiptNumber.startswith("KP/1261/01/")


def test_other_kinds_of_clients_are_refused_and_offices_are_checked(cashdesk_hub, kasa):
    kasa.RegisterPayment(**payment())
    assert fault(Client(cashdesk_hub, "pojazd-1465", "cashdesk").RegisterPayment, **payment())[0] == "NotAuthorized"
    # the cash desk's certificate on the office service, and Pojazd of another office
    for asker in (Client(cashdesk_hub, "kasa-1465-01", "office"), Client(cashdesk_hub, "pojazd-1261", "office")):
        assert fault(asker.VerifyPayment, System="POJAZD", OfficeCode="1465", CaseNumber=CASE)[0] == "NotAuthorized"


def test_bad_requests_get_the_contracts_faults(cashdesk_hub, kasa):
    assert fault(kasa.RegisterPayment, **payment(CardAuthCode=None))[0] == "InvalidRequest"
    assert fault(kasa.RegisterPayment, **payment(Method="CASH"))[0] == "InvalidRequest"
    assert fault(kasa.RegisterPayment, **payment(DeskId="07"))[0] == "InvalidRequest"
    assert fault(kasa.RegisterPayment, **payment(Item=[{"FeeCode": "NOPE"}]))[0] == "InvalidRequest"
    assert fault(kasa.RegisterPayment, **payment(Method="CHEQUE"))[0] == "SchemaViolation"
    assert fault(kasa.GetReceiptPdf, PaymentId="no-such-payment")[0] == "NotFound"
    paid = kasa.RegisterPayment(**payment())
    code, message = fault(kasa.VoidPayment, **void_request(paid.PaymentId, "pomyłka", "nobody.here"))
    assert code == "NotAuthorized" and "nobody.here" in message
    assert paid.ReceiptNumber.endswith("/000001")  # the refusals used up no number


def test_close_day_with_a_cash_count_and_a_payer_over_soap(cashdesk_hub, kasa):
    """The optional elements added after the existing ones: a client that sends none of
    them gets the old answer (see the test above); one that counts gets the difference."""
    supervisor = add_user(cashdesk_hub.hub, "ewa.wisniewska")
    today = business_day(datetime.now(UTC))
    paid = kasa.RegisterPayment(
        **payment(Method="CASH", CardAuthCode=None, PayerName="Zofia Żółkiewska", PayerAddress="ul. Długa 5, Gdańsk")
    )
    record = cashdesk_hub.hub.cashdesk.payment(paid.PaymentId, OPERATOR)
    assert (record.payer_name, record.payer_address) == ("Zofia Żółkiewska", "ul. Długa 5, Gdańsk")

    def close(**kw):
        return kasa.CloseDay(**close_day_request(today, **kw))

    code, message = fault(close, CountedCash=Decimal("50.00"))
    assert code == "NotAuthorized" and "a supervisor must confirm the difference" in message
    closed = close(CountedCash=Decimal("50.00"), Supervisor=supervisor)
    assert (
        closed.CashTotal,
        closed.ExpectedCash,
        closed.CountedCash,
        closed.CashDifference,
        closed.DifferenceConfirmedBy,
    ) == (Decimal("54.50"), Decimal("54.50"), Decimal("50.00"), Decimal("-4.50"), "ewa.wisniewska")


def test_close_day_over_soap_refuses_a_day_more_than_one_day_back(cashdesk_hub, kasa):
    supervisor = add_user(cashdesk_hub.hub, "ewa.wisniewska")
    today = business_day(datetime.now(UTC))
    old = date.fromordinal(today.toordinal() - 2)
    code, message = fault(kasa.CloseDay, **close_day_request(old, Supervisor=supervisor))
    assert code == "InvalidRequest" and "more than 1 day back" in message
    yesterday = kasa.CloseDay(**close_day_request(date.fromordinal(today.toordinal() - 1)))
    assert yesterday.ExpectedCash is None and yesterday.CashDifference is None

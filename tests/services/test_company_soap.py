"""CompanyService over real HTTP on 127.0.0.1, signed as the shipped COMPANY client
(leasing-7010254361): every operation for its own company, answers valid to the
contract, and another company's NIP, coupon or batch refused with nothing changed."""

from __future__ import annotations

import base64
from datetime import timedelta
from decimal import Decimal

import pytest
import zeep
from lxml import etree
from sqlalchemy import func, select
from zeep.plugins import HistoryPlugin

from hub import ns
from hub.clock import business_day
from hub.coupons.models import Coupon, CouponBatch
from hub.coupons.qr import verify_qr
from hub.services.endpoint import contract_schema
from hub.signing.zeep_plugin import HubSignature
from tests.support.documents import pdf_pages, sheet_codes
from tests.support.factories import NIP as OTHER_NIP
from tests.support.factories import OPERATOR, funded_company, issue, rid
from tests.support.soap import CLIENT, CLIENT_ID, MY_NIP, C, call, fault_of, issue_fields, ok

SOAP = f"{{{ns.SOAP_ENV_11}}}"


def refused(running_hub, operation: str, **fields) -> str:
    status, response = call(running_hub, operation, **fields)
    assert status == 500
    code, text = fault_of(response)
    assert text and "Traceback" not in text
    return code


def text_of(payload: etree._Element, name: str) -> str:
    return payload.findtext(C + name)


@pytest.fixture
def companies(running_hub):
    """The client's company with 1000.00 PLN, and another company with 500.00 PLN and one coupon."""
    hub = running_hub.hub
    funded_company(hub, 1000_00, nip=MY_NIP, name="Łódź Leasing Spółka z o.o.")
    funded_company(hub, 500_00, nip=OTHER_NIP, name="Inny Leasing S.A.")
    return issue(hub, 1, nip=OTHER_NIP)


def days_around_today(running_hub) -> dict:
    """From yesterday to tomorrow (Warsaw): everything this test did, whatever the hour."""
    today = business_day(running_hub.hub.clock())
    return {"From": (today - timedelta(days=1)).isoformat(), "To": (today + timedelta(days=1)).isoformat()}


def snapshot(hub) -> tuple:
    """Everything a refused request must leave as it was."""
    with hub.db.read() as s:
        coupons = tuple(s.execute(select(Coupon.id, Coupon.status).order_by(Coupon.id)).all())
        batches = s.scalar(select(func.count()).select_from(CouponBatch))
    accounts = tuple(
        (a.nip, a.available_grosze, a.held_grosze, a.posted_grosze) for a in hub.companies.list(actor=OPERATOR)
    )
    return coupons, batches, accounts


def test_the_companys_own_zeep_client_does_everything(running_hub, companies):
    history = HistoryPlugin()
    wsse = HubSignature.pinned(running_hub.identity(CLIENT_ID), running_hub.hub_cert, "hub")
    client = zeep.Client(running_hub.url + "/soap/company?wsdl", wsse=wsse, plugins=[history])

    def valid():
        contract_schema("company").assertValid(history.last_received["envelope"].find(f"{SOAP}Body")[0])

    account = client.service.GetAccount(CompanyNip=MY_NIP)
    valid()
    assert (account.CompanyName, account.Available, account.Held) == (
        "Łódź Leasing Spółka z o.o.",
        Decimal("1000.00"),
        Decimal("0.00"),
    )
    assert account.VirtualAccount == running_hub.hub.companies.account(MY_NIP, actor=OPERATOR).virtual_account
    assert account.TopUpTitle == f"Zasilenie konta NIP {MY_NIP}"

    batch = client.service.IssueCoupons(
        RequestId=rid(), CompanyNip=MY_NIP, CaseType="REJ_NEW", Count=3, IssuedBy="jan.kowalski"
    )
    valid()
    assert batch.TotalHeld == Decimal("484.50") and len(batch.Coupon) == 3
    assert {(c.Amount, c.CaseType) for c in batch.Coupon} == {(Decimal("161.50"), "REJ_NEW")}
    with running_hub.hub.db.read() as s:
        assert s.get(CouponBatch, batch.BatchId).issued_by == "jan.kowalski"

    listed = client.service.ListCoupons(CompanyNip=MY_NIP, Status="ISSUED")
    valid()
    assert listed.Total == 3 and [c.CouponId for c in listed.Coupon] == [c.CouponId for c in batch.Coupon]

    released = client.service.CancelCoupon(RequestId=rid(), CouponId=batch.Coupon[0].CouponId.lower())
    valid()
    assert released == Decimal("161.50")

    pdf = client.service.GetCouponsPdf(BatchId=batch.BatchId)
    valid()
    pages = pdf_pages(pdf)
    assert [verify_qr(qr, [running_hub.hub_cert]).coupon_id for qr, _ in pages] == [c.CouponId for c in batch.Coupon]

    statement = client.service.GetStatement(CompanyNip=MY_NIP, **days_around_today(running_hub))
    valid()
    account = client.service.GetAccount(CompanyNip=MY_NIP)
    assert statement.ClosingBalance == account.Available == Decimal("677.00")
    assert [(e.Kind, e.Amount) for e in statement.Entry][-1] == ("RELEASE", Decimal("161.50"))


def test_each_operation_over_signed_soap(running_hub, companies):
    batch = ok(running_hub, "IssueCoupons", **issue_fields(2, Amount="200.00", OfficeCode="1465"))
    ids = [c.findtext(C + "CouponId") for c in batch.findall(C + "Coupon")]
    assert text_of(batch, "TotalHeld") == "400.00" and len(ids) == 2

    redeemed = running_hub.hub.coupons.redeem(
        request_id=rid(),
        coupon_text=ids[1],
        office_code="1465",
        case_number="WK.5410.9.2026",
        case_type="REJ_NEW",
        amount_grosze=60_00,
        actor=OPERATOR,
    )
    page = ok(running_hub, "ListCoupons", CompanyNip=MY_NIP, Offset=1, Limit=1)
    assert text_of(page, "Total") == "2"
    (row,) = page.findall(C + "Coupon")
    assert [row.findtext(C + n) for n in ("CouponId", "Status", "Amount", "OfficeCode", "CaseNumber")] == [
        ids[1],
        "REDEEMED",
        "200.00",
        "1465",
        "WK.5410.9.2026",
    ]
    assert row.findtext(C + "RedeemedAt") == redeemed.redeemed_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    pdf = ok(running_hub, "GetCouponsPdf", CouponId=[ids[1], ids[0]])
    pages = pdf_pages(base64.b64decode(text_of(pdf, "Pdf")))
    assert [verify_qr(qr, [running_hub.hub_cert]).coupon_id for qr, _ in pages] == [ids[1], ids[0]]
    pdf = ok(running_hub, "GetCouponsPdf", CouponId=[ids[1], ids[0]], PerPage="2")  # one sheet, two coupons
    (sheet,) = sheet_codes(base64.b64decode(text_of(pdf, "Pdf")))
    assert sorted(verify_qr(qr, [running_hub.hub_cert]).coupon_id for qr in sheet[:-1]) == sorted(ids)
    assert refused(running_hub, "GetCouponsPdf", CouponId=[ids[0]], PerPage="3").endswith("SchemaViolation")

    assert text_of(ok(running_hub, "CancelCoupon", RequestId=rid(), CouponId=ids[0]), "ReleasedAmount") == "200.00"

    statement = ok(running_hub, "GetStatement", CompanyNip=MY_NIP, **days_around_today(running_hub))
    entries = [
        (e.findtext(C + "Kind"), e.findtext(C + "Amount"), e.findtext(C + "CouponId"))
        for e in statement.findall(C + "Entry")
    ]
    assert entries[0] == ("ADJUSTMENT", "1000.00", None)
    assert sorted(entries[1:3]) == sorted([("HOLD", "-200.00", ids[0]), ("HOLD", "-200.00", ids[1])])
    assert entries[3:] == [("RELEASE", "200.00", ids[1]), ("CAPTURE", "-60.00", ids[1]), ("RELEASE", "200.00", ids[0])]
    account = ok(running_hub, "GetAccount", CompanyNip=MY_NIP)
    assert (text_of(statement, "OpeningBalance"), text_of(statement, "ClosingBalance")) == ("0.00", "940.00")
    assert text_of(account, "Available") == "940.00" and text_of(account, "Held") == "0.00"


def test_issue_is_idempotent_by_request_id_and_all_or_nothing(running_hub, companies):
    key = rid()
    first = ok(running_hub, "IssueCoupons", **issue_fields(2, RequestId=key))
    again = ok(running_hub, "IssueCoupons", **issue_fields(2, RequestId=key))
    assert etree.tostring(first, method="c14n") == etree.tostring(again, method="c14n")
    assert running_hub.hub.companies.account(MY_NIP, actor=OPERATOR).held_grosze == 323_00
    assert refused(running_hub, "IssueCoupons", **issue_fields(3, RequestId=key)) == CLIENT("IdempotencyConflict")

    before = snapshot(running_hub.hub)
    status, response = call(running_hub, "IssueCoupons", **issue_fields(5))
    code, text = fault_of(response)
    assert (status, code) == (500, CLIENT("InsufficientFunds")) and "nothing was held" in text
    detail = response.find(f".//{{{ns.COMMON}}}FaultDetail")
    assert (detail.findtext(f"{{{ns.COMMON}}}Available"), detail.findtext(f"{{{ns.COMMON}}}Required")) == (
        "677.00",
        "807.50",
    )
    assert snapshot(running_hub.hub) == before


def test_another_companys_nip_coupon_or_batch_is_refused_and_nothing_changes(running_hub, companies):
    theirs = companies.coupons[0].coupon_id
    mine = issue(running_hub.hub, 1, nip=MY_NIP, actor=OPERATOR)
    before = snapshot(running_hub.hub)
    attempts = [
        ("GetAccount", dict(CompanyNip=OTHER_NIP), "NotAuthorized"),
        ("IssueCoupons", issue_fields(1, CompanyNip=OTHER_NIP), "NotAuthorized"),
        ("ListCoupons", dict(CompanyNip=OTHER_NIP), "NotAuthorized"),
        ("GetStatement", dict(CompanyNip=OTHER_NIP, From="2026-01-01", To="2026-12-31"), "NotAuthorized"),
        ("CancelCoupon", dict(RequestId=rid(), CouponId=theirs), "NotFound"),
        ("GetCouponsPdf", dict(BatchId=companies.batch_id), "NotFound"),
        ("GetCouponsPdf", dict(CouponId=[mine.coupons[0].coupon_id, theirs]), "NotFound"),
        (
            "CancelCoupon",
            dict(RequestId=rid(), CouponId=theirs[:-1] + ("0" if theirs[-1] != "0" else "1")),
            "InvalidRequest",
        ),
        ("ListCoupons", dict(CompanyNip=MY_NIP, Limit=0), "InvalidRequest"),
        ("GetStatement", dict(CompanyNip=MY_NIP, From="2026-03-10", To="2026-03-09"), "InvalidRequest"),
        ("IssueCoupons", issue_fields(1, CaseType="NOPE"), "InvalidRequest"),
        ("IssueCoupons", issue_fields(1, Amount="0.01"), "InvalidRequest"),
        ("IssueCoupons", issue_fields(1, Amount="161.49"), "InvalidRequest"),
        ("IssueCoupons", issue_fields(1001), "SchemaViolation"),
        ("GetCouponsPdf", dict(BatchId=mine.batch_id, CouponId=[mine.coupons[0].coupon_id]), "SchemaViolation"),
    ]
    for operation, fields, expected in attempts:
        assert refused(running_hub, operation, **fields) == CLIENT(expected), (operation, fields)
    assert snapshot(running_hub.hub) == before


def test_only_company_clients_may_call(running_hub, companies):
    before = snapshot(running_hub.hub)
    for client_id in ("pojazd-1465", "kasa-1465-01"):
        status, response = call(running_hub, "IssueCoupons", client_id=client_id, **issue_fields(1))
        code, text = fault_of(response)
        assert (status, code) == (500, CLIENT("NotAuthorized")) and "company service" in text
    assert snapshot(running_hub.hub) == before


def test_days_the_schema_lets_through_but_the_hub_cannot_handle_are_client_faults(running_hub, companies):
    """0001-01-01 and 9999-12-31 are valid xs:date; they were an OverflowError and soap:Server,
    which trips the "Server fault" alert. They are the caller's mistake: InvalidRequest."""
    before = snapshot(running_hub.hub)
    for first, last in (("0001-01-01", "2026-03-10"), ("2026-03-10", "9999-12-31"), ("0001-01-01", "9999-12-31")):
        assert refused(running_hub, "GetStatement", CompanyNip=MY_NIP, From=first, To=last) == CLIENT(
            "InvalidRequest"
        ), (first, last)
        assert refused(running_hub, "ListCoupons", CompanyNip=MY_NIP, IssuedFrom=first, IssuedTo=last) == CLIENT(
            "InvalidRequest"
        ), (first, last)
    status, response = call(running_hub, "ListCoupons", CompanyNip=MY_NIP, IssuedFrom="9999-12-31")
    assert (status, fault_of(response)[0]) == (500, CLIENT("InvalidRequest"))
    assert "out of range" in fault_of(response)[1]
    assert snapshot(running_hub.hub) == before


def test_issue_takes_an_optional_company_reference_after_the_existing_elements(running_hub, companies):
    batch = ok(running_hub, "IssueCoupons", **issue_fields(1, IssuedBy="jan.kowalski", Reference="UM/2026/0042"))
    batch_id = batch.find(C + "BatchId").text
    with running_hub.hub.db.read() as session:
        assert session.scalar(select(CouponBatch.reference).where(CouponBatch.id == batch_id)) == "UM/2026/0042"
    assert refused(running_hub, "IssueCoupons", **issue_fields(1, Reference="x" * 65)) == CLIENT("SchemaViolation")

"""The receipt (KP) and the daily cash report as documents: what a person reads
(text extracted from the PDF, Polish diacritics included), the receipt's QR code
decoded from a rendered page, and the CSV's rows and totals."""

from __future__ import annotations

import csv
import io
from datetime import date

import pypdfium2 as pdfium
import pytest

from hub.access import Actor
from hub.adapters.pdf.cash_report import cash_report_pdf
from hub.cashdesk.receipt_qr import QrReceipt, verify_receipt_qr
from hub.cashdesk.report_csv import cash_report_csv
from hub.cashdesk.service import ItemRequest
from hub.errors import NotFound
from hub.reports.csvout import RFC4180
from hub.signing.devcerts import self_signed
from hub.signing.payload import BAD_SIGNATURE, MALFORMED, UNKNOWN_VERSION, QrRejected
from tests.support.cashdesk import add_user, pay, void
from tests.support.documents import each_one_character_changed, hub_cert, qr_codes
from tests.support.factories import OPERATOR, rid

TODAY = date(2026, 3, 10)


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    text = "\n".join(page.get_textpage().get_text_range() for page in pdf)
    return text.replace("\u00a0", " ")  # amounts are printed with no-break spaces; extraction varies


def test_the_receipt_shows_the_payment_in_polish_and_its_qr_is_signed(hub):
    r = pay(
        hub,
        ItemRequest("DR"),
        ItemRequest("EWID"),
        ItemRequest("TAB_SAM", 75_00),
        method="CARD",
        card_auth_code="A1B2C3",
        case_number="KM.5410.1.124.2026",
        payer_name="Zofia Żółkiewska",
        payer_address="ul. Świętokrzyska 14, 00-050 Warszawa",
    )
    pdf = hub.cashdesk.receipt_pdf(r.payment_id, OPERATOR)
    text = pdf_text(pdf)
    for expected in (
        r.receipt_number,
        "Kasa przyjęła",
        "Opłata manipulacyjna",
        "Razem",
        "zł",
        "Wydział Komunikacji Urzędu m.st. Warszawy",
        "anna.nowak",
        "KM.5410.1.124.2026",
        "POJAZD",
        "Wydanie dowodu rejestracyjnego",
        "Opłata ewidencyjna",
        "54,00 zł",
        "75,00 zł",
        "1,50 zł",
        "129,50 zł",
        "131,00 zł",
        "A1B2C3",
        "karta płatnicza",
        "10.03.2026 10:30:00",  # 09:30 UTC is 10:30 in Warsaw in March
        "Wpłacający",
        "Zofia Żółkiewska",
        "ul. Świętokrzyska 14, 00-050 Warszawa",
        "Słownie",
        "sto trzydzieści jeden złotych 00/100",
        "podpis kasjera",
        "podpis wpłacającego",
    ):
        assert expected in text, expected
    assert "ANULOWANO" not in text
    (qr,) = qr_codes(pdf)
    assert verify_receipt_qr(qr, [hub_cert()]) == QrReceipt(r.receipt_number, 131_00, TODAY)
    assert qr.startswith(f"KP1.{r.receipt_number}.13100.2026-03-10.")


def test_a_receipt_qr_fails_the_check_on_any_changed_character(hub):
    r = pay(hub)
    (qr,) = qr_codes(hub.cashdesk.receipt_pdf(r.payment_id, OPERATOR))
    for changed in each_one_character_changed(qr):
        with pytest.raises(QrRejected):
            verify_receipt_qr(changed, [hub_cert()])
    with pytest.raises(QrRejected) as rejected:
        verify_receipt_qr(qr, [self_signed("someone.example")[1]])
    assert rejected.value.reason == BAD_SIGNATURE
    with pytest.raises(QrRejected) as rejected:
        verify_receipt_qr("KP2" + qr[3:], [hub_cert()])
    assert rejected.value.reason == UNKNOWN_VERSION
    with pytest.raises(QrRejected) as rejected:  # a coupon's payload is not a receipt's
        verify_receipt_qr("HUB1.ABCD-EFGH-JKMN-PQRS.16150.2026-06-08.AAAA", [hub_cert()])
    assert rejected.value.reason == MALFORMED


def test_a_receipt_without_a_payer_leaves_a_line_to_write_on(hub):
    text = pdf_text(hub.cashdesk.receipt_pdf(pay(hub).payment_id, OPERATOR))
    assert "Wpłacający" in text and "pięćdziesiąt cztery złote 00/100" in text


def test_a_voided_payments_receipt_says_so(hub):
    add_user(hub, "ewa.wisniewska")
    r = pay(hub)
    void(hub, r.payment_id, "Pomyłka kasjera: zła sprawa.", "ewa.wisniewska")
    text = pdf_text(hub.cashdesk.receipt_pdf(r.payment_id, OPERATOR))
    assert "ANULOWANO" in text and "ewa.wisniewska" in text and "Pomyłka kasjera: zła sprawa." in text


def test_a_receipt_of_another_office_is_not_found(hub):
    r = pay(hub)
    with pytest.raises(NotFound):
        hub.cashdesk.receipt_pdf(r.payment_id, Actor("client:kasa-1261-01", offices=frozenset({"1261"})))


def test_a_long_receipt_runs_onto_more_pages(hub):
    r = pay(hub, *[ItemRequest("WORD_PB")] * 50, system="WORD")
    pdf = hub.cashdesk.receipt_pdf(r.payment_id, OPERATOR)
    pages = [page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf)]
    assert len(pages) > 1 and all(f"strona {n}" in text for n, text in enumerate(pages, start=1))
    assert "50." in pdf_text(pdf) and "10 000,00 zł" in pages[-1].replace("\u00a0", " ")


def _day_with_a_void(hub):
    add_user(hub, "ewa.wisniewska")
    made = [
        pay(hub, ItemRequest("DR"), ItemRequest("EWID")),
        pay(hub, ItemRequest("PJ"), method="CARD", card_auth_code="777"),
        pay(hub, ItemRequest("TAB_SAM"), case_number="KM.9"),
        pay(hub, ItemRequest("NAL"), method="CARD", card_auth_code="778"),
    ]
    void(hub, made[2].payment_id, "zła kwota", "ewa.wisniewska")
    return made


def test_the_report_csv_lists_every_payment_and_totals_by_method_less_voids(hub):
    made = _day_with_a_void(hub)
    report = hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    rows = list(csv.DictReader(io.StringIO(cash_report_csv(report, RFC4180))))
    lines = [r for r in rows if r["row"] == "payment"]
    assert [r["receipt_number"] for r in lines] == [m.receipt_number for m in made]
    assert [r["status"] for r in lines] == ["PAID", "PAID", "VOIDED", "PAID"]
    assert lines[2]["void_reason"] == "zła kwota" and lines[2]["voided_by"] == "ewa.wisniewska"
    totals = {
        r["method"]: (r["items_total"], r["handling_fee"], r["total"], r["count"]) for r in rows if r["row"] == "total"
    }
    assert totals == {
        "CASH": ("54.50", "0.00", "54.50", "1"),
        "CARD": ("112.50", "3.00", "115.50", "2"),
        "ALL": ("167.00", "3.00", "170.00", "3"),
    }
    # the same figures as the payments' own, summed by method less voids
    by_method = {
        m: sum(int(p.total_grosze) for p in report.payments if p.method == m and not p.voided) for m in ("CASH", "CARD")
    }
    assert by_method == {"CASH": 54_50, "CARD": 115_50}


def test_the_report_pdf_marks_voids_and_shows_the_closed_days_report_id(hub):
    made = _day_with_a_void(hub)
    open_text = pdf_text(
        cash_report_pdf(hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR))
    )
    assert "raport wstępny" in open_text
    hub.cashdesk.close_day(request_id=rid(), office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    text = pdf_text(
        cash_report_pdf(hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR))
    )
    for expected in (
        "Raport kasowy",
        "RK/1465/01/2026-03-10",
        "Dzień zamknięty",
        "UNIEWAŻNIONA",
        "zła kwota",
        "Gotówka",
        "Karta płatnicza",
        "54,50 zł",
        "115,50 zł",
        "170,00 zł",
        "w tym anulowanych: 1",
        *(m.receipt_number for m in made),
    ):
        assert expected in text, expected


def test_acceptance_a_day_closed_with_a_cash_difference_shows_it_on_the_cash_report(hub):
    _day_with_a_void(hub)  # 54.50 in cash counts; the supervisor ewa.wisniewska exists
    hub.cashdesk.close_day(
        request_id=rid(),
        office_code="1465",
        desk_id="01",
        day=TODAY,
        actor=OPERATOR,
        counted_cash_grosze=50_00,
        supervisor="ewa.wisniewska",
    )
    report = hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    text = pdf_text(cash_report_pdf(report))
    for expected in (
        "Uzgodnienie gotówki w kasie",
        "Gotówka według wpłat",
        "54,50 zł",
        "Gotówka policzona",
        "50,00 zł",
        "Różnica (niedobór)",
        "-4,50 zł",
        "Różnicę zatwierdził(a): ewa.wisniewska",
    ):
        assert expected in text, expected
    rows = {
        r["row"]: r["total"]
        for r in csv.DictReader(io.StringIO(cash_report_csv(report, RFC4180)))
        if r["row"].startswith("cash_")
    }
    assert rows == {"cash_expected": "54.50", "cash_counted": "50.00", "cash_difference": "-4.50"}
    excel = cash_report_csv(report)  # the default: for a Polish Excel
    assert excel.startswith("\ufeff") and "różnica w kasie;" in excel and ";-4,50;" in excel


def test_a_day_closed_without_a_count_says_so(hub):
    hub.cashdesk.close_day(request_id=rid(), office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    report = hub.cashdesk.cash_report(office_code="1465", desk_id="01", day=TODAY, actor=OPERATOR)
    assert "Dzień zamknięto bez liczenia gotówki." in pdf_text(cash_report_pdf(report))
    assert not [
        r for r in csv.DictReader(io.StringIO(cash_report_csv(report, RFC4180))) if r["row"].startswith("cash_")
    ]

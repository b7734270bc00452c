"""The cash desk in a real browser: a cashier takes a card payment, Pojazd's
VerifyPayment (signed SOAP, zeep) then reports the case paid; a supervisor voids
it and closes the day with the daily cash report."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pypdfium2
import zeep
from playwright.sync_api import expect

from hub.clock import business_day
from hub.signing.zeep_plugin import HubSignature
from tests.support.factories import OPERATOR
from tests.support.portal import OFFICE, PASSWORDS, login, menu, nav, new_page, screenshot

CASE = "WK.5410.77.2026"


def verify_payment(running_portal, case_number: str = CASE):
    """As Pojazd of office 1465: a plain zeep client signing with its dev certificate."""
    wsse = HubSignature.pinned(running_portal.identity("pojazd-1465"), running_portal.hub_cert, "hub")
    client = zeep.Client(running_portal.url + "/soap/office?wsdl", wsse=wsse)
    return client.service.VerifyPayment(System="POJAZD", OfficeCode=OFFICE, CaseNumber=case_number)


def pdf_text(path) -> str:
    pdf = pypdfium2.PdfDocument(path)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def register_card_payment(page, db_url: str | None = None) -> str:
    nav(page, "Nowa wpłata")
    page.get_by_label("System").select_option("POJAZD")
    page.get_by_label("Znak sprawy").fill(CASE)
    page.get_by_label("Wydanie dowodu rejestracyjnego").fill("1")
    page.get_by_label("Opłata ewidencyjna (za każdy wydany dokument)").fill("1")
    page.get_by_label("karta płatnicza").check()
    page.get_by_label("Kod autoryzacji karty").fill("AB12CD")
    totals = page.locator("#payment-totals")
    expect(totals.locator("[data-total=items]")).to_have_text("54,50\u00a0zł")  # live, as typed
    expect(totals.locator("[data-total=handling]")).to_have_text("1,50\u00a0zł")  # office 1465's card fee
    expect(totals.locator("[data-total=total]")).to_have_text("56,00\u00a0zł")
    if db_url is not None:
        screenshot(page, db_url, "kasa-nowa-wplata")
    page.get_by_role("button", name="Dalej: podsumowanie").click()
    expect(page.get_by_test_id("total")).to_have_text("56,00\u00a0zł")
    page.get_by_role("button", name=re.compile("^Przyjmij wpłatę")).click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Przyjęto wpłatę KP/1465/01/")
    return re.search(r"KP/1465/01/\d{4}/\d{6}", status.inner_text()).group(0)


def test_a_card_payment_is_verified_by_pojazd_then_voided_by_a_supervisor_and_the_day_closed(
    desk_portal, page, browser, db_url
):
    login(page, "kasjer@1465")
    assert menu(page) == ["Nowa wpłata", "Wpłaty dnia", "Moje konto"]
    receipt = register_card_payment(page, db_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Wpłata {receipt}")
    screenshot(page, db_url, "kasa-wplata")

    with page.expect_download() as download:
        page.get_by_role("link", name="Drukuj potwierdzenie (PDF)").click()
    text = pdf_text(download.value.path())
    assert receipt in text and CASE in text and "56,00" in text

    answer = verify_payment(desk_portal)
    assert answer.Paid is True and answer.TotalPaid == Decimal("54.50")
    assert [p.ReceiptNumber for p in answer.Payment] == [receipt]
    assert answer.Payment[0].Method == "CARD" and answer.Payment[0].HandlingFee == Decimal("1.50")

    # A cashier may not void alone: the supervisor confirms with their own login and password.
    page.get_by_label("Powód unieważnienia").fill("Pomyłka w znaku sprawy")
    page.get_by_role("button", name="Unieważnij wpłatę").click()
    expect(page.get_by_role("alert")).to_contain_text("wpisz jego login i hasło")
    page.get_by_label("Powód unieważnienia").fill("Pomyłka w znaku sprawy")
    page.get_by_label("Login kierownika").fill("kierownik@1465")
    page.get_by_label("Hasło kierownika").fill("nie-to-haslo-kierownika")
    page.get_by_role("button", name="Unieważnij wpłatę").click()
    expect(page.get_by_role("alert")).to_contain_text("Nie udało się potwierdzić kierownika")
    assert verify_payment(desk_portal).Paid is True  # still paid: nothing changed

    page.get_by_label("Powód unieważnienia").fill("Pomyłka w znaku sprawy")
    page.get_by_label("Login kierownika").fill("kierownik@1465")
    page.get_by_label("Hasło kierownika").fill(PASSWORDS["kierownik@1465"])
    page.get_by_role("button", name="Unieważnij wpłatę").click()
    expect(page.get_by_role("status").first).to_have_text("Wpłatę unieważnił(a) kierownik@1465.")
    expect(page.get_by_role("status").nth(1)).to_contain_text("Wpłata unieważniona")
    answer = verify_payment(desk_portal)
    assert answer.Paid is False and answer.TotalPaid == Decimal("0.00")

    nav(page, "Wpłaty dnia")
    expect(page.locator("tbody tr.voided")).to_have_count(1)

    supervisor = new_page(browser, desk_portal)
    login(supervisor, "kierownik@1465")
    assert menu(supervisor) == [
        "Nowa wpłata",
        "Wpłaty dnia",
        "Zamknięcie dnia",
        "Raport kasowy",
        "Raporty",
        "Użytkownicy i role",
        "Moje konto",
    ]
    nav(supervisor, "Zamknięcie dnia")
    supervisor.get_by_label("Stanowisko kasowe").select_option("01")
    supervisor.get_by_label("Gotówka policzona w kasie (zł)").fill(
        "10,00"
    )  # the only cash payment was voided: 0,00 expected
    supervisor.get_by_role("button", name="Dalej: porównaj z wpłatami").click()
    expect(supervisor.get_by_test_id("expected-cash")).to_have_text("0,00\u00a0zł")
    expect(supervisor.get_by_test_id("cash-difference")).to_have_text("10,00\u00a0zł")
    expect(supervisor.get_by_role("alert")).to_contain_text("zatwierdzasz różnicę jako kierownik (kierownik@1465)")
    supervisor.get_by_role("button", name="Zamknij dzień i sporządź raport kasowy").click()
    expect(supervisor.get_by_role("status")).to_contain_text("Zamknięto dzień")
    expect(supervisor.get_by_role("status")).to_contain_text("Różnica w kasie: 10,00")
    expect(supervisor.get_by_test_id("report-state")).to_have_text("Dzień zamknięty")
    expect(supervisor.get_by_test_id("payment-count")).to_have_text("0")
    expect(supervisor.get_by_test_id("voided-count")).to_have_text("1")
    expect(supervisor.get_by_test_id("cash-difference")).to_have_text("10,00\u00a0zł")
    screenshot(supervisor, db_url, "kasa-raport-dzienny")
    with supervisor.expect_download() as download:
        supervisor.get_by_role("link", name="Pobierz PDF").click()
    report = pdf_text(download.value.path()).replace("\u00a0", " ")
    assert receipt in report and "Różnica (nadwyżka)" in report and "Różnicę zatwierdził(a): kierownik@1465" in report
    supervisor.context.close()

    # The cashier sees the closed day before starting a payment, and cannot go on with that desk.
    nav(page, "Nowa wpłata")
    expect(page.get_by_test_id("day-closed")).to_contain_text("Stanowisko 01: dzień kasowy zamknięty")
    page.get_by_label("Znak sprawy").fill("WK.5410.78.2026")
    page.get_by_label("Wydanie dowodu rejestracyjnego").fill("1")
    expect(page.get_by_role("alert")).to_have_count(0)  # the notice above, not yet a form error
    page.get_by_role("button", name="Dalej: podsumowanie").click()
    expect(page.get_by_role("alert")).to_contain_text("Wybierz inne stanowisko")
    expect(page.get_by_role("button", name=re.compile("^Przyjmij wpłatę"))).to_have_count(0)
    assert verify_payment(desk_portal, "WK.5410.78.2026").Paid is False


def test_a_cash_payment_with_its_payer_on_the_receipt(desk_portal, page):
    login(page, "kasjer@1465")
    nav(page, "Nowa wpłata")
    page.get_by_label("Znak sprawy").fill(CASE)
    page.get_by_label("Wydanie dowodu rejestracyjnego").fill("1")
    page.get_by_label("Wpłacający (imię i nazwisko lub nazwa)").fill("Zofia Żółkiewska")
    page.get_by_label("Adres wpłacającego").fill("ul. Długa 5, 00-001 Warszawa")
    page.get_by_role("button", name="Dalej: podsumowanie").click()
    expect(page.locator("dl.summary")).to_contain_text("Zofia Żółkiewska, ul. Długa 5, 00-001 Warszawa")
    page.get_by_role("button", name=re.compile("^Przyjmij wpłatę")).click()
    expect(page.locator("main")).to_contain_text("Zofia Żółkiewska, ul. Długa 5, 00-001 Warszawa")  # the payment page
    with page.expect_download() as download:
        page.get_by_role("link", name="Drukuj potwierdzenie (PDF)").click()
    text = pdf_text(download.value.path())
    assert "Zofia Żółkiewska" in text and "pięćdziesiąt cztery złote 00/100" in text and "podpis wpłacającego" in text


def test_a_supervisor_closes_an_older_day_only_with_the_explicit_confirmation(desk_portal, page):
    hub = desk_portal.hub
    old = date.fromordinal(business_day(hub.clock()).toordinal() - 3)
    login(page, "kierownik@1465")
    nav(page, "Zamknięcie dnia")
    page.get_by_label("Dzień").fill(old.isoformat())
    page.get_by_label("Gotówka policzona w kasie (zł)").fill("0")
    page.get_by_role("button", name="Dalej: porównaj z wpłatami").click()
    page.get_by_role("button", name="Zamknij dzień i sporządź raport kasowy").click()
    expect(page.get_by_role("alert")).to_contain_text("zaznacz potwierdzenie")
    assert hub.cashdesk.closed_day(office_code=OFFICE, desk_id="01", day=old, actor=OPERATOR) is None
    page.get_by_label("Gotówka policzona w kasie (zł)").fill("0")
    page.get_by_role("button", name="Dalej: porównaj z wpłatami").click()
    page.get_by_label(re.compile("Potwierdzam zamknięcie dnia sprzed ponad jednego dnia")).check()
    page.get_by_role("button", name="Zamknij dzień i sporządź raport kasowy").click()
    expect(page.get_by_role("status")).to_contain_text("Zamknięto dzień")
    expect(page.locator("main")).to_contain_text("Dzień zamknięto po terminie za zgodą: kierownik@1465")
    assert (
        hub.cashdesk.closed_day(office_code=OFFICE, desk_id="01", day=old, actor=OPERATOR).late_close_supervisor
        == "kierownik@1465"
    )


def test_a_card_payment_needs_its_authorisation_code(desk_portal, page):
    login(page, "kasjer@1465")
    nav(page, "Nowa wpłata")
    page.get_by_label("Znak sprawy").fill(CASE)
    page.get_by_role("button", name="Dalej: podsumowanie").click()
    expect(page.locator("#fees-error")).to_have_text(re.compile("Wybierz co najmniej jedną opłatę"))
    page.get_by_label("Wydanie dowodu rejestracyjnego").fill("1")
    page.get_by_label("karta płatnicza").check()
    page.get_by_role("button", name="Dalej: podsumowanie").click()
    field = page.get_by_label("Kod autoryzacji karty")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#card_auth_code-error")).to_have_text(re.compile("kod autoryzacji z terminala"))
    assert verify_payment(desk_portal).Paid is False

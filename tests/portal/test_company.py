"""The company area in a real browser: the dashboard's top-up QR code, issuing
with the total shown first, the batch PDF, InsufficientFunds, the coupon list,
cancelling, the statement and reports; and what a viewer may not do."""

from __future__ import annotations

import codecs
import re
import uuid

import pypdfium2
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from hub.ids import format_nrb
from tests.support.factories import NIP, OPERATOR, REJ_NEW, issue
from tests.support.portal import grosze, login, menu, nav, screenshot

REJ_NEW_GROSZE = 161_50  # the shipped fee table


def pdf_pages(path) -> list[str]:
    pdf = pypdfium2.PdfDocument(path)
    try:
        return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    finally:
        pdf.close()


def coupon_count(hub) -> int:
    return hub.coupon_queries.list(actor=OPERATOR, company_nip=NIP, limit=1).total


def decode_svg_qr(page) -> str:
    """Read the QR code the page draws: its dark modules, from the SVG path, as an image for zxing."""
    d = page.locator("svg.qr path").get_attribute("d")
    size = int(page.locator("svg.qr").get_attribute("viewBox").split()[2])
    image = Image.new("L", (size, size), 255)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)", d):
        for dx in range(int(w)):
            image.putpixel((int(x) + dx, int(y)), 0)
    image = image.resize((size * 8, size * 8), Image.NEAREST)
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1
    return results[0].text


def test_the_dashboard_shows_the_balance_and_a_transfer_qr_code_banking_apps_read(company_portal, page, db_url):
    hub = company_portal.hub
    account = hub.companies.account(NIP, actor=OPERATOR)
    login(page, "admin@leasing.pl")
    expect(page.get_by_test_id("available")).to_have_text("500,00\u00a0zł")
    expect(page.get_by_test_id("virtual-account")).to_have_text(format_nrb(account.virtual_account))

    expected = f"|PL|{account.virtual_account}|000000|Hub opłat urzędowych|Zasilenie konta NIP {NIP}|||"
    assert decode_svg_qr(page) == expected
    screenshot(page, db_url, "pulpit-firmy")

    page.get_by_label("Kwota do zakodowania w kodzie QR (zł, opcjonalnie)").fill("1250,50")
    page.get_by_role("button", name="Pokaż kod QR").click()
    assert decode_svg_qr(page) == expected.replace("|000000|", "|125050|")
    page.get_by_label("Kwota do zakodowania w kodzie QR (zł, opcjonalnie)").fill("12 zł")
    page.get_by_role("button", name="Pokaż kod QR").click()
    expect(page.locator("#kwota-error")).to_have_text(re.compile("Wpisz kwotę"))
    expect(page.get_by_label("Kwota do zakodowania w kodzie QR (zł, opcjonalnie)")).to_have_attribute(
        "aria-invalid", "true"
    )


def test_an_issuer_issues_three_coupons_and_downloads_a_three_page_pdf(company_portal, page, db_url):
    hub = company_portal.hub
    login(page, "wystawca@leasing.pl")
    nav(page, "Wydaj kupony")
    page.get_by_label("Rodzaj sprawy").select_option(REJ_NEW)
    page.get_by_label("Liczba kuponów").fill("3")
    expect(page.get_by_test_id("live-total")).to_have_text(
        "Razem do zablokowania: 484,50\u00a0zł"
    )  # the little JavaScript
    page.get_by_role("button", name="Dalej: podsumowanie").click()

    expect(page.get_by_test_id("total")).to_have_text("484,50\u00a0zł")  # the total, before anything is held
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 0
    screenshot(page, db_url, "wydanie-kuponow-podsumowanie")
    page.get_by_role("button", name=re.compile(r"^Wydaj 3 kupony ")).click()

    expect(page.get_by_role("status")).to_contain_text("Wydano 3 kupony, zablokowano 484,50\u00a0zł")
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 3 * REJ_NEW_GROSZE
    coupon_ids = page.locator("td.mono").all_inner_texts()
    assert len(coupon_ids) == 3
    screenshot(page, db_url, "partia-kuponow")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Pobierz PDF do wydruku")).click()
    pages = pdf_pages(download.value.path())
    assert len(pages) == 3
    assert [
        next(cid for cid in coupon_ids if cid in text) for text in pages
    ] == coupon_ids  # one coupon a page, in order

    nav(page, "Partie")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr td").nth(4)).to_have_text("wydany: 3")


def test_a_batch_larger_than_the_balance_is_explained_and_holds_nothing(company_portal, page):
    hub = company_portal.hub
    login(page, "wystawca@leasing.pl")
    page.goto("firma/kupony/wydaj")
    page.get_by_label("Rodzaj sprawy").select_option(REJ_NEW)
    page.get_by_label("Liczba kuponów").fill("4")  # 646.00 > 500.00
    page.get_by_role("button", name="Dalej: podsumowanie").click()
    expect(page.get_by_role("alert")).to_contain_text("na koncie brakuje 146,00\u00a0zł")  # warned before confirming
    page.get_by_role("button", name=re.compile(r"^Wydaj 4 kupony ")).click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Za mało środków na koncie: dostępne 500,00\u00a0zł, potrzeba 646,00\u00a0zł")
    expect(alert).to_contain_text("Nic nie zostało zablokowane")
    account = hub.companies.account(NIP, actor=OPERATOR)
    assert (account.available_grosze, account.held_grosze) == (500_00, 0)
    assert coupon_count(hub) == 0
    expect(page.get_by_label("Liczba kuponów")).to_have_value("4")  # the form is kept to correct


def test_the_coupon_list_filters_searches_pages_and_cancels(company_portal, page, db_url):
    hub = company_portal.hub
    hub.companies.credit(NIP, 5000_00, "więcej środków", actor=OPERATOR)
    first = issue(hub, 2)
    issue(hub, 26)  # 28 coupons: two pages of 25
    login(page, "admin@leasing.pl")
    nav(page, "Kupony")
    expect(page.locator("caption")).to_have_text("Znaleziono: 28 kuponów")
    expect(page.locator("tbody tr")).to_have_count(25)
    page.get_by_role("link", name="Następna »").click()
    expect(page.locator("tbody tr")).to_have_count(3)

    target = first.coupons[1].coupon_id
    page.get_by_label("Szukaj: numer kuponu, partii, znak sprawy lub numer referencyjny").fill(
        target.lower().replace("-", " ")
    )  # typed loosely
    page.get_by_role("button", name="Pokaż").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr td").first).to_have_text(target)
    screenshot(page, db_url, "lista-kuponow")

    page.get_by_role("link", name=f"Anuluj kupon {target}").click()
    page.get_by_role("button", name="Anuluj kupon").click()
    expect(page.get_by_role("status")).to_contain_text(f"Kupon {target} anulowano; zwolniono 161,50\u00a0zł")
    expect(page.locator("tbody tr td").nth(1)).to_have_text("anulowany")
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 27 * REJ_NEW_GROSZE

    page.goto("firma/kupony?status=CANCELLED")
    expect(page.locator("caption")).to_have_text("Znaleziono: 1 kupon")
    page.goto("firma/kupony?issued_from=2026-03-10&issued_to=2026-03-01")
    expect(page.locator("#issued_to-error")).to_have_text("Data „do” nie może być wcześniejsza niż data „od”.")


def test_statement_and_reports_download_csv_and_pdf_and_draw_a_chart(company_portal, page, db_url):
    hub = company_portal.hub
    batch = issue(hub, 2)
    hub.coupons.redeem(
        request_id=str(uuid.uuid4()),
        coupon_text=batch.coupons[0].coupon_id,
        office_code="1465",
        case_number="WK.5410.9.2026",
        case_type=REJ_NEW,
        actor=OPERATOR,
    )
    login(page, "admin@leasing.pl")
    nav(page, "Wyciąg")
    expect(page.locator("table tbody tr")).to_have_count(5)  # top-up, 2 holds, the capture's release and capture
    figures = page.locator("dl.figures dd").all_inner_texts()
    assert grosze(figures[0]) == 0 and grosze(figures[1]) == 500_00 - 2 * REJ_NEW_GROSZE
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV (Excel)").click()
    raw = open(download.value.path(), "rb").read()
    assert raw.startswith(codecs.BOM_UTF8)  # a Polish Excel reads it as UTF-8
    lines = raw.decode("utf-8-sig").splitlines()
    assert (
        lines[0].split(";") == ["Data księgowania", "Rodzaj", "Kwota", "Saldo po operacji", "Kupon", "Tytuł"]
        and len(lines) == 6
    )
    assert not re.search(
        r"hold:|user:|TOPUP|HOLD|CAPTURE|RELEASE|ADJUSTMENT", "\n".join(lines[1:])
    )  # labels, not codes
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV dla systemów (RFC 4180)").click()
    machine = open(download.value.path(), encoding="utf-8").read()
    assert (
        machine.splitlines()[0] == "booked_at,kind,amount,balance,coupon_id,reference"
        and len(machine.splitlines()) == 6
    )

    nav(page, "Raporty")
    page.get_by_role("link", name="Wykorzystanie kuponów").click()
    expect(page.locator("svg.chart rect.chart-bar")).to_have_count(1)
    expect(page.locator("svg.chart")).to_have_attribute("aria-label", re.compile("razem 1"))
    screenshot(page, db_url, "raport-wykorzystania")
    with page.expect_download() as download:
        page.get_by_role("link", name="PDF").click()
    assert len(pdf_pages(download.value.path())) >= 2  # the table, then the chart on its own page

    page.goto("raporty/coupons?status=REDEEMED")
    expect(page.locator("table").first.locator("tbody tr")).to_have_count(1)


def test_a_viewer_sees_no_issue_button_and_a_forged_post_changes_nothing(company_portal, page):
    hub = company_portal.hub
    login(page, "podglad@leasing.pl")
    assert "Wydaj kupony" not in menu(page)
    expect(page.get_by_role("link", name="Wydaj kupony")).to_have_count(0)  # nor on the dashboard
    page.goto("firma/kupony/wydaj")
    expect(page.get_by_role("heading", level=1)).to_have_text("Brak uprawnień")

    token = page.locator("input[name=csrf_token]").first.get_attribute(
        "value"
    )  # a valid token of the viewer's own session
    form = {"csrf_token": token, "case_type": REJ_NEW, "count": "1", "office": "", "request_id": str(uuid.uuid4())}
    for path in ("firma/kupony/wydaj/potwierdz", "firma/kupony/wydaj"):
        response = page.request.post(path, form=form)
        assert response.status == 403
        assert "Brak uprawnień" in response.text()
    assert coupon_count(hub) == 0
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 0


def test_a_form_without_its_csrf_token_is_refused(company_portal, page):
    hub = company_portal.hub
    login(page, "wystawca@leasing.pl")  # may issue: only the token is missing
    form = {"case_type": REJ_NEW, "count": "1", "office": "", "request_id": str(uuid.uuid4())}
    response = page.request.post("firma/kupony/wydaj/potwierdz", form=form)
    assert response.status == 400
    assert "Formularz odrzucony" in response.text()
    response = page.request.post("firma/kupony/wydaj/potwierdz", form={**form, "csrf_token": "podrobiony"})
    assert response.status == 400
    assert coupon_count(hub) == 0
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 0

    page.goto("firma/")  # and logging out needs the token too
    assert page.request.post("wyloguj", form={}).status == 400
    page.reload()
    expect(page.get_by_role("navigation", name="Menu główne")).to_be_visible()

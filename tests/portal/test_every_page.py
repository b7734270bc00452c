"""Every role, every page its menu reaches (and the detail pages its lists link to),
at a desktop's 1280 px and a phone's 390 px: no internal code (`hold:`, `user:`,
REJ_NEW, ISSUED...), no English word, and nothing wider than the window (a wide
table scrolls inside its own box)."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from hub.cashdesk.service import ItemRequest
from tests.support.factories import OPERATOR, REJ_NEW, issue
from tests.support.portal import OFFICE, PASSWORDS, login, screenshot

WIDTHS = {"komputer": 1280, "telefon": 390}

RAW_CODE = re.compile(
    # prefixes of ledger ids and actors; UPPER_SNAKE codes (REJ_NEW)
    r"hold:|user:|client:|cli:|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"
    r"|\b(ISSUED|REDEEMED|CANCELLED|EXPIRED|TOPUP|HOLD|CAPTURE|RELEASE|ADJUSTMENT|CASH|CARD|POJAZD|KIEROWCA|PAID|VOIDED)\b"
)
ENGLISH = re.compile(
    r"\b(the|is|are|not|must|malformed|closed|coupon|office|desk|payment|error|failed|invalid|field|required|"
    r"number|between|characters|already|none|true|false|details?)\b",
    re.IGNORECASE,
)
# Detail pages a list links to: (the list's path, the link's CSS selector)
DETAILS = {"firma/partie": "tbody tr td a[href*='/partie/']", "kasa/wplaty": "tbody tr td a[href*='/kasa/wplaty/']"}


@pytest.fixture
def lived_in_portal(company_portal, desk_portal):
    """A company and an office with some history: a batch with a reference, a coupon
    used and one cancelled, a card payment and a voided cash payment."""
    hub = company_portal.hub
    batch = issue(hub, 3, reference="UM/2026/0042 VIN WVWZZZ1JZXW000001")
    hub.coupons.redeem(
        request_id=str(uuid.uuid4()),
        coupon_text=batch.coupons[0].coupon_id,
        office_code=OFFICE,
        case_number="WK.5410.9.2026",
        case_type=REJ_NEW,
        actor=OPERATOR,
    )
    hub.coupons.cancel(request_id=str(uuid.uuid4()), coupon_text=batch.coupons[1].coupon_id, actor=OPERATOR)
    cashier = hub.users.actor("kasjer@1465")
    for method, auth in (("CARD", "A1B2C3"), ("CASH", None)):
        paid = hub.cashdesk.register(
            request_id=str(uuid.uuid4()),
            office_code=OFFICE,
            desk_id="01",
            cashier="kasjer@1465",
            system="POJAZD",
            case_number="KM.5410.1.1.2026",
            method=method,
            items=[ItemRequest("DR"), ItemRequest("TAB_SAM")],
            card_auth_code=auth,
            actor=cashier,
        )
    hub.cashdesk.void(
        request_id=str(uuid.uuid4()),
        payment_id=paid.payment_id,
        reason="pomyłka kasjera",
        supervisor="kierownik@1465",
        actor=hub.users.actor("kierownik@1465"),
    )
    return company_portal


def _problems(page: Page, where: str) -> list[str]:
    problems = []
    text = page.locator("body").inner_text()
    for pattern, what in ((RAW_CODE, "internal code"), (ENGLISH, "English word")):
        found = sorted({m.group(0) for m in pattern.finditer(text)})
        if found:
            problems.append(f"{where}: {what} {found}")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if overflow > 0:
        wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
            .filter(e => !e.parentElement.closest('.table-scroll') || getComputedStyle(e).position === 'absolute')
            .slice(0, 4).map(e => e.tagName + '.' + e.className + '#' + e.id)""")
        problems.append(f"{where}: the page is {overflow} px wider than the window ({', '.join(wide)})")
    return problems


def _pages(page: Page) -> list[str]:
    """The menu's pages and the first detail page of each list that has one."""
    links = page.get_by_role("navigation", name="Menu główne").get_by_role("link")
    paths = [
        href.split("/portal/", 1)[1] for href in (links.nth(i).get_attribute("href") for i in range(links.count()))
    ]
    for path in list(paths):
        selector = DETAILS.get(path.rstrip("/"))
        if selector:
            page.goto(path)
            detail = page.locator(selector).first
            if detail.count():
                paths.append(detail.get_attribute("href").split("/portal/", 1)[1])
    return paths


@pytest.mark.parametrize("login_name", list(PASSWORDS))
def test_every_page_is_polish_without_codes_and_fits_the_window(lived_in_portal, browser, login_name, db_url):
    problems = []
    for width in WIDTHS.values():
        context = browser.new_context(
            base_url=lived_in_portal.portal + "/", viewport={"width": width, "height": 900}, locale="pl-PL"
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        login(page, login_name)
        expect(page.get_by_role("navigation", name="Menu główne")).to_be_visible()
        paths = _pages(page)
        assert len(paths) >= 3
        for path in paths:
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            problems += _problems(page, f"{login_name} {width}px /{path}")
        if width == 390 and login_name in ("admin@leasing.pl", "kasjer@1465"):
            page.goto("firma/kupony" if login_name.startswith("admin") else "kasa/wplata")
            screenshot(page, db_url, "telefon-kupony" if login_name.startswith("admin") else "telefon-kasa")
        context.close()
    assert problems == []

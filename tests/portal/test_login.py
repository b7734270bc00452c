"""Logging in and out in a real browser, the session cookie's flags, and failed logins slowed down."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from hub.audit.models import AuditEvent
from tests.support.portal import login, logout, menu, new_page, screenshot


def audit_actions(hub, actor: str) -> list[str]:
    with hub.db.read() as s:
        return list(s.scalars(select(AuditEvent.action).where(AuditEvent.actor == actor).order_by(AuditEvent.id)))


def test_login_shows_the_users_menu_and_logout_ends_the_session(company_portal, page, db_url):
    page.goto("firma/kupony")
    expect(page).to_have_url(re.compile(r"/portal/logowanie\?next="))  # a page needs a login first
    expect(page.get_by_role("heading", level=1)).to_have_text("Logowanie")
    screenshot(page, db_url, "logowanie")

    login(page, "admin@leasing.pl", here=True)
    expect(page).to_have_url(re.compile(r"/portal/firma/kupony$"))  # back where the user was going
    assert menu(page) == [
        "Pulpit",
        "Wydaj kupony",
        "Partie",
        "Kupony",
        "Wyciąg",
        "Raporty",
        "Użytkownicy i role",
        "Moje konto",
    ]

    cookie = next(c for c in page.context.cookies() if c["name"] == "hub_portal")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/portal"
    assert cookie["secure"] is False  # cookie_secure = false in this http test; true is the default

    logout(page)
    expect(page.get_by_text("Wylogowano.")).to_be_visible()
    page.goto("firma/")
    expect(page).to_have_url(re.compile(r"/portal/logowanie"))  # the old session is gone
    assert audit_actions(company_portal.hub, "user:admin@leasing.pl") == [
        "user.totp.enable",
        "portal.login",
        "portal.logout",
    ]


def test_a_wrong_password_is_refused_with_one_message(company_portal, page):
    login(page, "admin@leasing.pl", "to-nie-jest-haslo")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nie udało się zalogować")
    login(page, "nikt@leasing.pl", "to-nie-jest-haslo")  # an unknown login reads the same
    expect(page.get_by_role("alert")).to_have_text(alert.inner_text())
    expect(page.get_by_role("navigation", name="Menu główne")).to_have_count(0)


def test_repeated_wrong_passwords_slow_down_and_never_lock_the_owner_out(company_portal, page, browser, running_portal):
    user = "wystawca@leasing.pl"
    page.set_extra_http_headers({"X-Forwarded-For": "198.51.100.10"})  # as nginx passes the owner's address
    login(page, user)
    logout(page)

    attacker = new_page(browser, running_portal)  # another person, elsewhere
    attacker.set_extra_http_headers({"X-Forwarded-For": "203.0.113.66"})
    for _ in range(12):  # waits double (1 s, 2 s, 4 s ...): soon one is longer than a round trip
        login(attacker, user, "zle-haslo-zle-haslo")
        alert = attacker.get_by_role("alert")
        expect(alert).to_contain_text(re.compile("Nie udało się zalogować|Zbyt wiele nieudanych prób"))
        if "Zbyt wiele" in alert.inner_text():
            break
    expect(attacker.get_by_role("alert")).to_contain_text("Spróbuj ponownie za")
    attacker.context.close()

    login(page, user)  # meanwhile, the owner from their own address: at once
    expect(page.get_by_role("navigation", name="Menu główne")).to_be_visible()

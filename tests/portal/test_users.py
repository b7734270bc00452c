"""Users and roles in a real browser: a company admin creates a custom role,
grants it, and the user's menu changes; a new user logs in with the password
shown once."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.factories import NIP, OPERATOR
from tests.support.portal import PASSWORDS, change_password, login, logout, menu, nav, new_page, screenshot

VIEWER = "podglad@leasing.pl"


def user_row(page, login_name: str):
    return page.locator(f'tr[data-login="{login_name}"]')


def test_a_custom_role_granted_changes_the_users_menu(company_portal, page, browser, db_url):
    hub = company_portal.hub
    viewer = new_page(browser, company_portal)
    login(viewer, VIEWER)
    assert menu(viewer) == ["Pulpit", "Partie", "Kupony", "Wyciąg", "Raporty", "Moje konto"]

    login(page, "admin@leasing.pl")
    nav(page, "Użytkownicy i role")
    page.get_by_label("Nazwa roli").fill("wydawanie")
    page.get_by_label("wydawanie kuponów").check()
    page.get_by_label("przeglądanie kuponów i partii").check()
    page.get_by_role("button", name="Utwórz rolę").click()
    expect(page.get_by_role("status")).to_have_text(
        "Utworzono rolę wydawanie: wydawanie kuponów, przeglądanie kuponów i partii."
    )

    page.get_by_label(f"Rola do nadania użytkownikowi {VIEWER}").select_option("wydawanie")
    page.get_by_role("button", name=f"Nadaj rolę użytkownikowi {VIEWER}").click()
    expect(page.get_by_role("status")).to_have_text(f"Nadano rolę wydawanie użytkownikowi {VIEWER}.")
    expect(user_row(page, VIEWER).locator("ul.roles li")).to_have_count(2)
    screenshot(page, db_url, "uzytkownicy-i-role")

    viewer.reload()  # the next page the viewer opens shows what the new role allows
    assert menu(viewer) == ["Pulpit", "Wydaj kupony", "Partie", "Kupony", "Wyciąg", "Raporty", "Moje konto"]
    nav(viewer, "Wydaj kupony")
    expect(viewer.get_by_role("heading", level=1)).to_have_text("Wydaj kupony")

    page.get_by_role("button", name=f"Odbierz rolę wydawanie użytkownikowi {VIEWER}").click()
    expect(page.get_by_role("status")).to_have_text(f"Odebrano rolę wydawanie użytkownikowi {VIEWER}.")
    viewer.reload()
    expect(viewer.get_by_role("heading", level=1)).to_have_text("Brak uprawnień")
    assert "Wydaj kupony" not in menu(viewer)
    viewer.context.close()

    roles = {r.name: r.permissions for r in hub.users.list_roles(OPERATOR, company_nip=NIP) if not r.built_in}
    assert roles == {"wydawanie": ("coupons:issue", "coupons:read")}


def test_an_admin_creates_a_user_who_logs_in_with_the_password_shown_once(company_portal, page, browser):
    login(page, "admin@leasing.pl")
    nav(page, "Użytkownicy i role")
    page.get_by_label("Login nowego użytkownika").fill("nowy@leasing.pl")
    page.get_by_label("Rola", exact=True).select_option("viewer")
    page.get_by_role("button", name="Utwórz konto").click()
    password = page.get_by_test_id("new-password").inner_text()
    assert len(password) == 24
    expect(user_row(page, "nowy@leasing.pl")).to_contain_text("podgląd")

    other = new_page(browser, company_portal)
    login(other, "nowy@leasing.pl", password)
    expect(other).to_have_url(re.compile(r"/portal/konto/haslo$"))  # a password someone else saw is changed first
    other.goto("firma/kupony")
    expect(other).to_have_url(re.compile(r"/portal/konto/haslo$"))
    change_password(other, password, "moje-nowe-haslo-2026")
    assert menu(other) == ["Pulpit", "Partie", "Kupony", "Wyciąg", "Raporty", "Moje konto"]
    other.context.close()


def test_field_errors_stand_next_to_their_field(company_portal, page):
    login(page, "admin@leasing.pl")
    nav(page, "Użytkownicy i role")
    page.get_by_label("Login nowego użytkownika").fill("ab")
    page.get_by_label("Hasło (puste: wygeneruj)").fill("krotkie")
    page.get_by_role("button", name="Utwórz konto").click()
    login_field = page.get_by_label("Login nowego użytkownika")
    expect(login_field).to_have_attribute("aria-invalid", "true")
    described = login_field.get_attribute("aria-describedby").split()
    assert "login-error" in described
    expect(page.locator("#login-error")).to_contain_text(re.compile("co najmniej 3|przynajmniej 3|minimum 3|3"))
    expect(page.locator("#password-error")).to_be_visible()
    page.get_by_label("Nazwa roli").fill("pusta")
    page.get_by_role("button", name="Utwórz rolę").click()
    expect(page.locator("#permissions-error")).to_have_text(re.compile("Wybierz co najmniej jedno uprawnienie"))


def test_an_admin_resets_a_password_shown_once_and_changed_at_the_next_login(company_portal, page, browser, db_url):
    login(page, "admin@leasing.pl")
    nav(page, "Użytkownicy i role")
    page.get_by_role("button", name="Nowe hasło dla konta wystawca@leasing.pl").click()
    password = page.get_by_test_id("reset-password").inner_text()
    assert len(password) == 24
    page.goto("uzytkownicy/")
    expect(page.get_by_test_id("reset-password")).to_have_count(0)  # shown once

    issuer = new_page(browser, company_portal)
    login(issuer, "wystawca@leasing.pl", PASSWORDS["wystawca@leasing.pl"])
    expect(issuer.get_by_role("alert")).to_contain_text("Nie udało się zalogować")  # the old one no longer works
    login(issuer, "wystawca@leasing.pl", password)
    expect(issuer).to_have_url(re.compile(r"/portal/konto/haslo$"))
    expect(issuer.get_by_role("alert").first).to_contain_text("zmień je, zanim zaczniesz pracę")
    screenshot(issuer, db_url, "moje-konto")
    issuer.get_by_label("Obecne hasło").fill(password)
    issuer.get_by_label("Nowe hasło", exact=True).fill("krótkie")
    issuer.get_by_label("Powtórz nowe hasło").fill("krótkie")
    issuer.get_by_role("button", name="Zmień hasło").click()
    expect(issuer.locator("#new-error")).to_have_text("Hasło musi mieć od 12 do 256 znaków.")
    change_password(issuer, password, "wystawca-nowe-haslo-2026")
    nav(issuer, "Kupony")
    expect(issuer.get_by_role("heading", level=1)).to_have_text("Kupony")
    issuer.context.close()


def test_an_admin_without_the_totp_code_cannot_log_in_and_a_recovery_code_works_once(running_portal, page, db_url):
    hub = running_portal.hub
    from tests.support.factories import funded_company

    funded_company(hub, 100_00)
    hub.users.add_user(OPERATOR, "szefowa@leasing.pl", company_nip=NIP, role="admin", password="szefowa-haslo-2026")
    login(page, "szefowa@leasing.pl", "szefowa-haslo-2026")
    expect(page).to_have_url(re.compile(r"/portal/konto/weryfikacja$"))  # must enrol before anything else
    page.goto("uzytkownicy/")
    expect(page).to_have_url(re.compile(r"/portal/konto/weryfikacja$"))
    secret = page.get_by_test_id("totp-secret").inner_text()
    expect(page.locator("figure.qr-box svg")).to_have_count(1)
    screenshot(page, db_url, "weryfikacja-dwuetapowa")
    page.get_by_label("Kod z aplikacji (6 cyfr)").fill(
        "000000" if hub.accounts.current_code(secret, hub.clock()) != "000000" else "111111"
    )
    page.get_by_role("button", name="Włącz").click()
    expect(page.get_by_role("alert").last).to_contain_text("Kod z aplikacji jest błędny")
    assert page.get_by_test_id("totp-secret").inner_text() == secret  # the same secret until confirmed
    page.get_by_label("Kod z aplikacji (6 cyfr)").fill(hub.accounts.current_code(secret, hub.clock()))
    page.get_by_role("button", name="Włącz").click()
    # all_inner_texts() does not wait: read the codes only once the page that shows them is there
    expect(page.get_by_test_id("recovery-codes").locator("code")).to_have_count(10)
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    logout(page)

    page.goto("logowanie")
    page.get_by_label("Login").fill("szefowa@leasing.pl")
    page.get_by_label("Hasło").fill("szefowa-haslo-2026")
    page.get_by_role("button", name="Zaloguj").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Weryfikacja dwuetapowa")
    page.goto("uzytkownicy/")  # the password alone opens nothing
    expect(page).to_have_url(re.compile(r"/portal/logowanie"))
    for attempt in ("123456", codes[0]):
        page.goto("logowanie")
        page.get_by_label("Login").fill("szefowa@leasing.pl")
        page.get_by_label("Hasło").fill("szefowa-haslo-2026")
        page.get_by_role("button", name="Zaloguj").click()
        page.get_by_label("Kod z aplikacji albo kod zapasowy").fill(attempt)
        page.get_by_role("button", name="Potwierdź").click()
        if attempt == "123456":
            expect(page.get_by_role("alert")).to_contain_text("Kod jest błędny")
    assert "Użytkownicy i role" in menu(page)  # the recovery code let her in
    logout(page)
    page.goto("logowanie")
    page.get_by_label("Login").fill("szefowa@leasing.pl")
    page.get_by_label("Hasło").fill("szefowa-haslo-2026")
    page.get_by_role("button", name="Zaloguj").click()
    page.get_by_label("Kod z aplikacji albo kod zapasowy").fill(codes[0])
    page.get_by_role("button", name="Potwierdź").click()
    expect(page.get_by_role("alert")).to_contain_text("Kod jest błędny, już użyty")  # once only

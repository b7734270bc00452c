"""Users and roles in a real browser: a company admin creates a custom role,
grants it, and the user's menu changes; a new user logs in with the password
shown once."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.factories import NIP, OPERATOR
from tests.portal.conftest import login, menu, nav, new_page, screenshot

VIEWER = "podglad@leasing.pl"


def user_row(page, login_name: str):
    return page.locator(f'tr[data-login="{login_name}"]')


def test_a_custom_role_granted_changes_the_users_menu(company_portal, page, browser, db_url):
    hub = company_portal.hub
    viewer = new_page(browser, company_portal)
    login(viewer, VIEWER)
    assert menu(viewer) == ["Pulpit", "Partie", "Kupony", "Wyciąg", "Raporty"]

    login(page, "admin@leasing.pl")
    nav(page, "Użytkownicy i role")
    page.get_by_label("Nazwa roli").fill("wydawanie")
    page.get_by_label("wydawanie kuponów").check()
    page.get_by_label("przeglądanie kuponów i partii").check()
    page.get_by_role("button", name="Utwórz rolę").click()
    expect(page.get_by_role("status")).to_have_text("Utworzono rolę wydawanie: wydawanie kuponów, przeglądanie kuponów i partii.")

    page.get_by_label(f"Rola do nadania użytkownikowi {VIEWER}").select_option("wydawanie")
    page.get_by_role("button", name=f"Nadaj rolę użytkownikowi {VIEWER}").click()
    expect(page.get_by_role("status")).to_have_text(f"Nadano rolę wydawanie użytkownikowi {VIEWER}.")
    expect(user_row(page, VIEWER).locator("ul.roles li")).to_have_count(2)
    screenshot(page, db_url, "uzytkownicy-i-role")

    viewer.reload()  # the next page the viewer opens shows what the new role allows
    assert menu(viewer) == ["Pulpit", "Wydaj kupony", "Partie", "Kupony", "Wyciąg", "Raporty"]
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
    assert menu(other) == ["Pulpit", "Partie", "Kupony", "Wyciąg", "Raporty"]
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

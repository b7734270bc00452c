"""The portal as its users meet it: logged in over HTTP without a browser (werkzeug's test
client), or through headless Debian Chromium driven by Playwright; the tests' users and
passwords, and screenshots for docs/."""

from __future__ import annotations

import io
import os
import re

from PIL import Image
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from werkzeug.test import Client

from hub.cli.portal import enable_portal
from tests.support import REPO, totp
from tests.support.factories import config_copy

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / "docs" / "screenshots"
VIEWPORT = {"width": 1200, "height": 820}
OFFICE = "1465"


# The tests' portal users: login -> password
PASSWORDS = {
    "admin@leasing.pl": "admin-haslo-2026",
    "wystawca@leasing.pl": "wystawca-haslo-2026",
    "podglad@leasing.pl": "podglad-haslo-2026",
    "kasjer@1465": "kasjer-haslo-2026",
    "kierownik@1465": "kierownik-haslo-2026",
}


def new_page(browser, running_portal) -> Page:
    """A page in a browser context of its own (its own cookies: another person)."""
    context = browser.new_context(
        base_url=running_portal.portal + "/", viewport=VIEWPORT, locale="pl-PL", accept_downloads=True
    )
    context.set_default_timeout(15_000)
    return context.new_page()


def login(page: Page, user: str, password: str | None = None, *, here: bool = False) -> None:
    """Log in on the login page (`here`: the one the browser is already on)."""
    if not here:
        page.goto("logowanie")
    page.get_by_label("Login").fill(user)
    page.get_by_label("Hasło").fill(password or PASSWORDS[user])
    page.get_by_role("button", name="Zaloguj").click()
    if not totp.enrolled(user):
        return
    asked = page.get_by_role("heading", level=1, name="Weryfikacja dwuetapowa")
    try:
        asked.wait_for(timeout=3000)
    except PlaywrightTimeout:  # refused, or not asked
        return
    page.get_by_label("Kod z aplikacji albo kod zapasowy").fill(totp.code(user))
    page.get_by_role("button", name="Potwierdź").click()
    asked.wait_for(state="detached")


def change_password(page: Page, current: str, new: str) -> None:
    """On the account page: the current password, the new one twice."""
    page.get_by_label("Obecne hasło").fill(current)
    page.get_by_label("Nowe hasło", exact=True).fill(new)
    page.get_by_label("Powtórz nowe hasło").fill(new)
    page.get_by_role("button", name="Zmień hasło").click()
    expect(page.get_by_role("status")).to_contain_text("Hasło zostało zmienione.")


def logout(page: Page) -> None:
    page.get_by_role("button", name="Wyloguj").click()


def nav(page: Page, item: str) -> None:
    """Follow a link of the main menu."""
    page.get_by_role("navigation", name="Menu główne").get_by_role("link", name=item, exact=True).click()


def menu(page: Page) -> list[str]:
    """The main menu's links, read once the page that has the menu is shown: right after
    a login click the browser may still show the login page, which has none."""
    navigation = page.get_by_role("navigation", name="Menu główne")
    expect(navigation).to_be_visible()
    return [t.strip() for t in navigation.get_by_role("link").all_inner_texts()]


def screenshot(page: Page, db_url: str, name: str) -> None:
    """docs/screenshots/<name>.png, from the SQLite run only (one writer per file)."""
    if not db_url.startswith("sqlite"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    # 64 colours are plenty for flat pages and antialiased text, and a third of the bytes
    shot.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(SCREENSHOTS / f"{name}.png", optimize=True)


def grosze(text: str) -> int:
    """'1 234,56 zł' as the portal prints it -> 123456."""
    digits = re.sub(r"[^\d,]", "", text)
    whole, _, part = digits.partition(",")
    return int(whole) * 100 + int(part or 0)


PASSWORD = "haslo-testowe-2026"


def portal_config(tmp_path, db_url, section: str | None = None):
    config_dir = config_copy(tmp_path, db_url)
    if section is None:
        enable_portal(config_dir)
    else:
        with open(config_dir / "hub.toml", "a") as f:
            f.write(section)
    return config_dir


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, f"no csrf_token field in: {html[:300]}"
    return found.group(1)


def log_in(client: Client, login: str, password: str = PASSWORD, next_: str = ""):
    page = client.get("/portal/logowanie").get_data(as_text=True)
    return client.post(
        f"/portal/logowanie{next_}", data={"login": login, "password": password, "csrf_token": csrf_of(page)}
    )

"""The portal served by the hub's own WSGI application in a thread on 127.0.0.1
(over the test's database, SQLite and PostgreSQL), driven by headless Debian
Chromium through Playwright (no browser download: /usr/bin/chromium)."""

from __future__ import annotations

import io
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from hub.app import create_app
from hub.cli.portal import enable_portal
from hub.config import load_config
from tests.factories import NIP, OPERATOR, config_copy, funded_company
from tests.portal import totp
from tests.services.conftest import RunningHub, _Quiet, _ThreadingServer

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
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


@dataclass
class RunningPortal(RunningHub):
    @property
    def portal(self) -> str:
        return self.url + "/portal"


@pytest.fixture
def running_portal(tmp_path, db_url):
    """The shipped config with a [portal] section (plain http: cookie_secure off)."""
    config_dir = config_copy(tmp_path, db_url)
    enable_portal(config_dir)  # as `hub demo` does
    app = create_app(load_config(config_dir))
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield RunningPortal(app, f"http://127.0.0.1:{server.server_port}", config_dir)
    server.shutdown()
    server.server_close()
    app.hub.close()


@pytest.fixture
def company_portal(running_portal):
    """A company funded with 500.00 PLN and its admin, issuer and viewer."""
    hub = running_portal.hub
    funded_company(hub, 500_00)
    for login, role in (
        ("admin@leasing.pl", "admin"),
        ("wystawca@leasing.pl", "issuer"),
        ("podglad@leasing.pl", "viewer"),
    ):
        hub.users.add_user(OPERATOR, login, company_nip=NIP, role=role, password=PASSWORDS[login])
    totp.enrol(hub, "admin@leasing.pl")
    return running_portal


@pytest.fixture
def desk_portal(running_portal):
    """Office 1465 with a cashier and a supervisor."""
    hub = running_portal.hub
    for login, role in (("kasjer@1465", "cashier"), ("kierownik@1465", "supervisor")):
        hub.users.add_user(
            OPERATOR, login, office_code=OFFICE, role=role, password=PASSWORDS[login]
        )
    totp.enrol(hub, "kierownik@1465")
    return running_portal


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        problem = f"no Chromium at {CHROMIUM}: apt-get install chromium (as .ci/run does)"
        if IN_CI:
            pytest.fail(problem)  # CI installs it: never skip the browser tests silently there
        pytest.skip(problem)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--lang=pl-PL"]
        )  # Polish date fields
        yield chromium
        chromium.close()


def new_page(browser, running_portal) -> Page:
    """A page in a browser context of its own (its own cookies: another person)."""
    context = browser.new_context(
        base_url=running_portal.portal + "/",
        viewport=VIEWPORT,
        locale="pl-PL",
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def page(browser, running_portal) -> Page:
    page = new_page(browser, running_portal)
    yield page
    page.context.close()


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
    page.get_by_role("navigation", name="Menu główne").get_by_role(
        "link", name=item, exact=True
    ).click()


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
    shot.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(
        SCREENSHOTS / f"{name}.png", optimize=True
    )


def grosze(text: str) -> int:
    """'1 234,56 zł' as the portal prints it -> 123456."""
    digits = re.sub(r"[^\d,]", "", text)
    whole, _, part = digits.partition(",")
    return int(whole) * 100 + int(part or 0)

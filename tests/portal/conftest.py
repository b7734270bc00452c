"""The portal served by the hub's own WSGI application in a thread on 127.0.0.1
(over the test's database, SQLite and PostgreSQL), driven by headless Debian
Chromium through Playwright (no browser download: /usr/bin/chromium). The helpers
are in tests/support/portal.py."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, sync_playwright

from hub.cli.portal import enable_portal
from tests.support import IN_CI, totp
from tests.support.factories import NIP, OPERATOR, config_copy, funded_company
from tests.support.portal import CHROMIUM, OFFICE, PASSWORDS, new_page
from tests.support.wsgi import serving


@pytest.fixture
def running_portal(tmp_path, db_url):
    """The shipped config with a [portal] section (plain http: cookie_secure off)."""
    config_dir = config_copy(tmp_path, db_url)
    enable_portal(config_dir)  # as `hub demo` does
    with serving(config_dir) as running:
        yield running


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
        hub.users.add_user(OPERATOR, login, office_code=OFFICE, role=role, password=PASSWORDS[login])
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


@pytest.fixture
def page(browser, running_portal) -> Iterator[Page]:
    page = new_page(browser, running_portal)
    yield page
    page.context.close()

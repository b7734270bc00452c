"""The portal's login behind nginx (loopback peer, the client in X-Forwarded-For): failed
attempts slow the attacker's address down (429 with Retry-After), while the account's
owner logs in from their own address at once. A client that is not nginx cannot pick
its address with that header."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from hub.app import create_app
from hub.audit.models import AuditEvent
from hub.config import load_config
from hub.users.throttle import FAILURES_FREE
from tests.support import totp
from tests.support.factories import NIP, OPERATOR, funded_company
from tests.support.portal import PASSWORD, csrf_of, portal_config

OWNER_AT, ATTACKER_AT = "198.51.100.10", "203.0.113.66"


@pytest.fixture
def app(tmp_path, db_url):
    app = create_app(load_config(portal_config(tmp_path, db_url)))
    funded_company(app.hub, 100_00)
    app.hub.users.add_user(OPERATOR, "anna@leasing.pl", company_nip=NIP, role="viewer", password=PASSWORD)
    yield app
    app.hub.close()


class Browser:
    """A client as nginx forwards it (peer 127.0.0.1, the client last in X-Forwarded-For),
    or one connecting directly from `peer`."""

    def __init__(self, app, forwarded_for: str, peer: str = "127.0.0.1") -> None:
        self.client = Client(app)
        # what the client itself sent first, then what nginx appended
        self.environ = {"REMOTE_ADDR": peer, "HTTP_X_FORWARDED_FOR": f"10.9.9.9, {forwarded_for}"}

    def get(self, path: str):
        return self.client.get(path, environ_base=self.environ)

    def post(self, path: str, data: dict):
        return self.client.post(path, data=data, environ_base=self.environ)


def browser(app, forwarded_for: str, peer: str = "127.0.0.1") -> Browser:
    return Browser(app, forwarded_for, peer)


def log_in(client: Browser, password: str):
    return log_in_as(client, "anna@leasing.pl", password)


def log_in_as(client: Browser, login: str, password: str = PASSWORD):
    page = client.get("/portal/logowanie").get_data(as_text=True)
    return client.post("/portal/logowanie", data={"login": login, "password": password, "csrf_token": csrf_of(page)})


def test_the_owner_logs_in_while_someone_hammers_from_another_address(app):
    owner = browser(app, OWNER_AT)
    assert log_in(owner, PASSWORD).status_code == 302  # anna's usual address
    attacker = browser(app, ATTACKER_AT)
    statuses = [log_in(attacker, "zgadywane-haslo").status_code for _ in range(FAILURES_FREE + 3)]
    assert statuses[:FAILURES_FREE] == [401] * FAILURES_FREE and set(statuses[FAILURES_FREE:]) == {429}
    slowed = log_in(attacker, PASSWORD)  # even the right password waits
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 1
    assert "Zbyt wiele nieudanych prób logowania" in slowed.get_data(as_text=True)

    again = browser(app, OWNER_AT)
    answer = log_in(again, PASSWORD)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/portal/")


def test_x_forwarded_for_counts_only_from_nginx_on_loopback(app):
    for n in range(FAILURES_FREE):  # a direct client "from" a new address each time
        assert log_in(browser(app, f"192.0.2.{n}", peer=ATTACKER_AT), "zgadywane-haslo").status_code == 401
    assert (
        log_in(browser(app, "192.0.2.200", peer=ATTACKER_AT), "zgadywane-haslo").status_code == 429
    )  # it is still ATTACKER_AT


def test_an_admin_locks_and_unlocks_an_account_in_the_portal(app):
    app.hub.users.add_user(OPERATOR, "szef@leasing.pl", company_nip=NIP, role="admin", password=PASSWORD)
    totp.enrol(app.hub, "szef@leasing.pl")  # an admin logs in with a code from the app as well
    admin = browser(app, OWNER_AT)
    assert log_in_as(admin, "szef@leasing.pl").headers["Location"].endswith("/portal/konto/kod")
    page = admin.get("/portal/konto/kod").get_data(as_text=True)
    assert (
        admin.post(
            "/portal/konto/kod", data={"code": totp.code("szef@leasing.pl"), "csrf_token": csrf_of(page)}
        ).status_code
        == 302
    )
    users = admin.get("/portal/uzytkownicy/").get_data(as_text=True)
    assert 'Zablokuj<span class="visually-hidden"> konto anna@leasing.pl' in users
    lock = admin.post(
        "/portal/uzytkownicy/anna@leasing.pl/aktywny", data={"active": "nie", "csrf_token": csrf_of(users)}
    )
    assert lock.status_code in (200, 302)
    assert log_in(browser(app, "198.51.100.20"), PASSWORD).status_code == 401  # locked: the right password is refused
    users = admin.get("/portal/uzytkownicy/").get_data(as_text=True)
    assert 'Odblokuj<span class="visually-hidden"> konto anna@leasing.pl' in users
    admin.post("/portal/uzytkownicy/anna@leasing.pl/aktywny", data={"active": "tak", "csrf_token": csrf_of(users)})
    assert log_in(browser(app, "198.51.100.20"), PASSWORD).status_code == 302
    assert [e for e in ("user.deactivate", "user.activate") if e in audit_actions(app.hub)] == [
        "user.deactivate",
        "user.activate",
    ]


def audit_actions(hub) -> list[str]:
    with hub.db.read() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))

"""The portal at the HTTP level, without a browser: its [portal] config, where it
is mounted, its headers and cookie, redirects, the transfer QR text, the chart,
`hub portal keygen` and what `hub demo` sets up."""

from __future__ import annotations

import os
import re
import stat
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from hub.app import Hub, cli, create_app
from hub.cli.portal import DEMO_USERS
from hub.config import ConfigProblems, load_config
from hub.errors import InvalidRequest
from hub.portal.charts import bar_chart_svg
from hub.portal.payment_qr import zbp_2d
from hub.reports.model import Chart
from tests.support.factories import NIP, OPERATOR, config_copy, funded_company
from tests.support.portal import PASSWORD, csrf_of, log_in, portal_config


@pytest.fixture
def portal_client(tmp_path, db_url):
    app = create_app(load_config(portal_config(tmp_path, db_url)))
    funded_company(app.hub, 100_00)
    app.hub.users.add_user(OPERATOR, "anna@leasing.pl", company_nip=NIP, role="viewer", password=PASSWORD)
    yield Client(app)
    app.hub.close()


def test_without_a_portal_section_the_portal_is_off(tmp_path, db_url):
    config_dir = config_copy(tmp_path, db_url)
    app = create_app(load_config(config_dir))
    assert app.hub.config.portal is None
    response = Client(app).get("/portal/logowanie")
    assert response.status_code == 404
    assert "dodaj sekcję [portal]" in response.get_data(as_text=True)
    assert Client(app).get("/soap/office?wsdl").status_code == 200  # the SOAP endpoints are untouched
    app.hub.close()


def test_the_portal_section_is_checked_with_the_file_and_field_named(tmp_path, db_url):
    config_dir = portal_config(tmp_path, db_url, '\n[portal]\nsecret_key_file = "keys/none.key"\n')
    with pytest.raises(ConfigProblems, match=r"hub.toml: \[portal\]: secret_key_file: no such file"):
        load_config(config_dir)

    (config_dir / "keys" / "short.key").write_bytes(os.urandom(16))
    text = (config_dir / "hub.toml").read_text().replace("keys/none.key", "keys/short.key")
    (config_dir / "hub.toml").write_text(text + "session_idle_s = 0\n")
    with pytest.raises(ConfigProblems) as e:
        load_config(config_dir)
    assert "secret_key_file: a secret key needs at least 32 random bytes" in str(e.value)
    assert "session_idle_s" in str(e.value)


def test_the_session_cookie_is_secure_httponly_samesite_lax_by_default(tmp_path, db_url):
    config_dir = config_copy(tmp_path, db_url)
    (config_dir / "keys" / "portal.key").write_bytes(os.urandom(64))
    with open(config_dir / "hub.toml", "a") as f:
        f.write('\n[portal]\nsecret_key_file = "keys/portal.key"\n')
    config = load_config(config_dir)
    assert (config.portal.cookie_secure, config.portal.session_idle_s, config.portal.session_max_s) == (
        True,
        1800,
        43200,
    )
    app = create_app(config)
    cookie = Client(app).get("/portal/logowanie", base_url="https://hub.example").headers["Set-Cookie"]
    assert {"Secure", "HttpOnly", "SameSite=Lax", "Path=/portal"} <= {part.strip() for part in cookie.split(";")}
    app.hub.close()


def test_pages_carry_security_headers_and_are_not_cached(portal_client):
    response = portal_client.get("/portal/logowanie")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    static = portal_client.get("/portal/static/portal.css")
    assert static.status_code == 200 and static.headers.get("Cache-Control") != "no-store"


def test_the_portal_lives_under_its_prefix_only(portal_client):
    assert portal_client.get("/portal").status_code == 308
    assert portal_client.get("/portal").headers["Location"].endswith("/portal/")
    assert portal_client.get("/portalx").status_code == 404
    assert portal_client.get("/portal/").headers["Location"].endswith("/portal/logowanie")
    assert portal_client.get("/portal/nie-ma-takiej").status_code == 404


def test_after_login_only_a_path_of_the_portal_is_followed(portal_client):
    response = log_in(portal_client, "anna@leasing.pl", next_="?next=https://evil.example/")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    portal_client.post(
        "/portal/wyloguj", data={"csrf_token": csrf_of(portal_client.get("/portal/firma/").get_data(as_text=True))}
    )
    response = log_in(portal_client, "anna@leasing.pl", next_="?next=//evil.example/portal/")
    assert response.headers["Location"] == "/portal/"
    portal_client.post(
        "/portal/wyloguj", data={"csrf_token": csrf_of(portal_client.get("/portal/firma/").get_data(as_text=True))}
    )
    response = log_in(portal_client, "anna@leasing.pl", next_="?next=/portal/firma/kupony")
    assert response.headers["Location"] == "/portal/firma/kupony"


def test_a_deactivated_user_is_signed_out_on_the_next_request(portal_client):
    assert log_in(portal_client, "anna@leasing.pl").status_code == 302
    assert portal_client.get("/portal/firma/").status_code == 200
    portal_client.application.hub.users.set_active(OPERATOR, "anna@leasing.pl", False)
    response = portal_client.get("/portal/firma/")
    assert response.status_code == 302 and "/portal/logowanie" in response.headers["Location"]


def test_an_office_user_is_kept_out_of_the_company_area(portal_client):
    hub = portal_client.application.hub
    hub.users.add_user(OPERATOR, "kasjer@1465", office_code="1465", role="cashier", password=PASSWORD)
    log_in(portal_client, "kasjer@1465")
    assert portal_client.get("/portal/firma/").status_code == 403
    assert portal_client.get("/portal/kasa/wplata").status_code == 200
    assert portal_client.get("/portal/kasa/zamkniecie").status_code == 403  # a cashier does not close the day


def test_the_zbp_2d_text_of_a_transfer():
    nrb = "92124012340001567890123456"
    assert (
        zbp_2d(nrb, 1200, "Odbiorca 1", "Przelew ekspress")
        == "|PL|92124012340001567890123456|001200|Odbiorca 1|Przelew ekspress|||"
    )
    assert (
        zbp_2d(nrb, 0, "Odbiorca 1", "FV 1234/34/2012", nip="1234567890")
        == "1234567890|PL|92124012340001567890123456|000000|Odbiorca 1|FV 1234/34/2012|||"
    )
    text = zbp_2d(nrb, 999_999, "Hub opłat urzędowych i inne słowa", "Tytuł | z kreską\tи bardzo długi ponad limit")
    fields = text.split("|")
    assert len(fields) == 9 and fields[3] == "999999"
    assert fields[4] == "Hub opłat urzędowych" and len(fields[5]) <= 32 and "\t" not in fields[5]
    for bad in (dict(nrb=nrb[:-1] + "7"), dict(amount_grosze=1_000_000), dict(amount_grosze=-1), dict(nip="123")):
        args = dict(nrb=nrb, amount_grosze=100, recipient="A", title="B") | bad
        with pytest.raises(InvalidRequest):
            zbp_2d(**args)


def test_the_chart_is_svg_with_a_bar_a_label_and_no_style_attributes():
    svg = bar_chart_svg(Chart("Kupony dziennie", ("2026-03-01", "2026-03-02", "2026-03-03"), (3, 0, 12), "kupony"))
    root = ElementTree.fromstring(svg)
    bars = root.findall("{http://www.w3.org/2000/svg}rect")
    assert len(bars) == 3 and [b.find("{http://www.w3.org/2000/svg}title").text for b in bars] == [
        "01.03: 3",
        "02.03: 0",
        "03.03: 12",
    ]
    assert "style=" not in svg  # the Content-Security-Policy would drop it
    assert "razem 15" in root.get("aria-label")


def test_keygen_writes_a_private_key_once(tmp_path):
    out = tmp_path / "portal.key"
    result = CliRunner().invoke(cli, ["portal", "keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_bytes()) == 64 and stat.S_IMODE(out.stat().st_mode) == 0o600
    before = out.read_bytes()
    result = CliRunner().invoke(cli, ["portal", "keygen", "--out", str(out)])
    assert result.exit_code == 1 and out.read_bytes() == before


def test_the_demo_turns_the_portal_on_with_a_login_of_every_kind(tmp_path):
    from hub.cli.demo import DEMO_NIP, prepare_demo

    config_dir, _, bank = prepare_demo(tmp_path / "demo", make_hub=Hub)
    bank.stop()
    config = load_config(config_dir)
    assert config.portal is not None and config.portal.cookie_secure is False
    hub = Hub(config)
    try:
        actors = {login: hub.users.authenticate(login, password) for login, _, password, _ in DEMO_USERS}
    finally:
        hub.close()
    assert {a.company_nip for login, a in actors.items() if "leasing" in login} == {DEMO_NIP}
    assert {frozenset(a.offices) for login, a in actors.items() if "1465" in login} == {frozenset({"1465"})}
    assert actors["kierownik@1465"].may("payments:void") and not actors["kasjer@1465"].may("payments:void")
    assert not actors["podglad@demo-leasing.pl"].may("coupons:issue") and actors["wystawca@demo-leasing.pl"].may(
        "coupons:issue"
    )


def test_portal_numbers_and_days_take_ascii_digits_only(portal_client):
    """WTForms reads a count with int() and a day with strptime, both of which take "２" and
    "٢٠٢٦": such input is a field error, a day outside the hub's range too, never a coupon or a 500."""
    app = portal_client.application
    app.hub.users.add_user(OPERATOR, "ola@leasing.pl", company_nip=NIP, role="issuer", password=PASSWORD)
    assert log_in(portal_client, "ola@leasing.pl").status_code == 302
    page = portal_client.get("/portal/firma/kupony/wydaj").get_data(as_text=True)
    held = app.hub.companies.account(NIP, actor=OPERATOR).held_grosze
    for count in ("\uff12", "\u0662"):
        response = portal_client.post(
            "/portal/firma/kupony/wydaj",
            data={"case_type": "REJ_NEW", "count": count, "office": "", "csrf_token": csrf_of(page)},
        )
        assert response.status_code == 200 and "Wpisz liczbę cyframi 0-9." in response.get_data(
            as_text=True
        )  # the form again
    assert app.hub.companies.account(NIP, actor=OPERATOR).held_grosze == held
    for day, message in (
        ("\u0662\u0660\u0662\u0666-01-01", "RRRR-MM-DD"),
        ("0001-01-01", "Podaj dzień od 2000-01-01"),
        ("9999-12-31", "Podaj dzień od"),
    ):
        response = portal_client.get(f"/portal/firma/kupony?issued_from={day}")
        assert response.status_code == 200 and message in response.get_data(as_text=True), day


def test_a_batchs_pdf_prints_two_or_four_coupons_to_a_sheet(portal_client):
    from tests.support.documents import sheet_codes
    from tests.support.factories import issue

    hub = portal_client.application.hub
    hub.companies.credit(NIP, 500_00, "test funding", actor=OPERATOR)
    batch = issue(hub, 3)
    log_in(portal_client, "anna@leasing.pl")
    four = portal_client.get(f"/portal/firma/partie/{batch.batch_id}.pdf?na_arkuszu=4")
    assert four.status_code == 200
    (sheet,) = sheet_codes(four.data)
    assert sorted(qr.split(".")[1] for qr in sheet[:-1]) == sorted(c.coupon_id for c in batch.coupons)
    assert len(sheet_codes(portal_client.get(f"/portal/firma/partie/{batch.batch_id}.pdf?na_arkuszu=2").data)) == 2
    assert portal_client.get(f"/portal/firma/partie/{batch.batch_id}.pdf?na_arkuszu=3").status_code == 400
    page = portal_client.get(f"/portal/firma/partie/{batch.batch_id}").get_data(as_text=True)
    assert "4 kupony na arkuszu A4" in page


def test_a_days_payments_come_newest_first_with_the_same_sort_control(portal_client):
    from tests.support.cashdesk import pay

    hub = portal_client.application.hub
    hub.users.add_user(OPERATOR, "kasjer@1465", office_code="1465", role="cashier", password=PASSWORD)
    receipts = [pay(hub, case_number=f"KM.5410.1.{n}.2026").receipt_number for n in (1, 2, 3)]
    log_in(portal_client, "kasjer@1465")

    def shown(query: str = "") -> list[str]:
        page = portal_client.get(f"/portal/kasa/wplaty{query}").get_data(as_text=True)
        return [r for r in re.findall(r"KP/1465/01/[0-9]{4}/[0-9]{6}", page) if r in receipts]

    assert shown() == receipts[::-1]
    assert shown("?order=najstarsze") == receipts
    assert "Kolejność" in portal_client.get("/portal/kasa/wplaty").get_data(as_text=True)

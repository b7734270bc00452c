"""An escrow account kept as a foreign IBAN: no virtual accounts (they are Polish NRBs), so
companies are registered without one and their top-ups are matched by the NIP in the transfer
title; `hub config check`, `hub company add` and the portal's dashboard say so."""

from __future__ import annotations

import json

from click.testing import CliRunner
from werkzeug.test import Client

from hub.app import cli, create_app
from hub.bank.models import TOPUP
from hub.companies.service import topup_title
from hub.config import load_config
from hub.ids import rf_reference
from tests.support.bank import SAMPLE_ACCOUNT, edit_bank, entries, ledger_holds
from tests.support.camt import Entry, camt053
from tests.support.factories import NIP, OPERATOR, config_copy
from tests.support.portal import PASSWORD, log_in, portal_config
from tests.support.soap import MY_NIP, C, ok
from tests.support.wsgi import serving

NOTE = "companies get no virtual account, and their top-ups are matched by the NIP in the transfer title only"


def test_a_company_is_added_without_a_virtual_account_and_topped_up_by_the_nip_in_the_title(sample_hub):
    account = sample_hub.companies.add(NIP, "Leasing Polska S.A.", actor=OPERATOR)
    assert (account.nip, account.virtual_account) == (NIP, None)
    result = sample_hub.statements.import_document(
        camt053(
            SAMPLE_ACCOUNT,
            [
                Entry("250.00", currency="EUR", remittance=topup_title(NIP), ref="T1"),
                Entry("50.00", currency="EUR", structured=rf_reference(NIP), ref="T2"),
                Entry("5.00", currency="EUR", remittance="bez tytułu", ref="T3"),
            ],
            currency="EUR",
        ),
        actor=OPERATOR,
    )
    assert (result.imported, result.unmatched) == (2, 1)
    assert [e.status for e in entries(sample_hub)][:2] == [TOPUP, TOPUP]
    assert sample_hub.companies.account(NIP, actor=OPERATOR).available_grosze == 300_00
    ledger_holds(sample_hub)


def test_config_check_and_company_add_say_companies_are_matched_by_the_title(tmp_path, db_url):
    config_dir = config_copy(tmp_path, db_url)
    edit_bank(config_dir, escrow_account=SAMPLE_ACCOUNT, currency="EUR")
    run = lambda *args: CliRunner().invoke(cli, ["--config", str(config_dir), *args], catch_exceptions=False)  # noqa: E731
    checked = run("config", "check")
    assert checked.exit_code == 0 and "ok:" in checked.stdout
    assert (
        f"note: hub.toml [bank] escrow_account: the escrow account {SAMPLE_ACCOUNT} is an IBAN" in checked.stdout
        and NOTE in checked.stdout
    )
    assert run("init").exit_code == 0
    added = run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.", "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)[0]["virtual_account"] is None
    assert NOTE in added.stderr and len(added.stderr.strip().splitlines()) == 1
    listed = run("company", "list")
    assert f'top-up title "Zasilenie konta NIP {NIP}"' in listed.stdout


def test_the_shipped_nrb_escrow_gets_no_note(tmp_path, db_url):
    checked = CliRunner().invoke(cli, ["--config", str(config_copy(tmp_path, db_url)), "config", "check"])
    assert checked.exit_code == 0 and "note:" not in checked.stdout


def test_the_dashboard_shows_the_escrow_iban_and_the_title_to_use(tmp_path, db_url):
    config_dir = portal_config(tmp_path, db_url)
    edit_bank(config_dir, escrow_account=SAMPLE_ACCOUNT, currency="EUR")
    app = create_app(load_config(config_dir))
    try:
        app.hub.companies.add(NIP, "Leasing Polska S.A.", actor=OPERATOR)
        app.hub.users.add_user(OPERATOR, "anna@leasing.pl", company_nip=NIP, role="viewer", password=PASSWORD)
        client = Client(app)
        log_in(client, "anna@leasing.pl")
        page = client.get("/portal/firma/").get_data(as_text=True)
        assert 'data-testid="escrow-iban">NL26 VAYB 8060 4768 90<' in page
        assert f'data-testid="topup-title">Zasilenie konta NIP {NIP}<' in page
        assert "po numerze NIP w tytule" in page
        assert 'data-testid="virtual-account"' not in page and 'data-testid="qr-text"' not in page
    finally:
        app.hub.close()


def test_get_account_answers_without_a_virtual_account_and_with_the_title_to_use(tmp_path, db_url):
    """Under an IBAN escrow there is no virtual account: GetAccount leaves the optional
    VirtualAccount out and names the transfer title instead of refusing the company."""
    config_dir = config_copy(tmp_path, db_url)
    edit_bank(config_dir, escrow_account=SAMPLE_ACCOUNT, currency="EUR")
    with serving(config_dir) as running:
        running.hub.companies.add(MY_NIP, "Łódź Leasing Spółka z o.o.", actor=OPERATOR)
        answer = ok(running, "GetAccount", CompanyNip=MY_NIP)
    assert answer.find(C + "VirtualAccount") is None
    assert answer.find(C + "TopUpTitle").text == topup_title(MY_NIP)
    assert answer.find(C + "Available").text == "0.00"

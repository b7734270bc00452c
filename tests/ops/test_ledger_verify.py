"""`hub ledger verify`: exit 1 naming each account and its difference, and the time and result
of the last run on /metrics, read from the database by whichever process answers the scrape."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, text

from hub.ledger.chart import company_account
from tests.support.factories import NIP
from tests.support.ops import scrape


def test_verify_names_each_account_and_difference_and_metrics_show_the_last_run(run, config_dir, db_url, serve):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    run("company", "credit", "--nip", NIP, "--amount", "1000.00", "--reason", "funding")
    url = serve(config_dir)  # another process's view: its own Hub, engine and connections
    assert ("hub_ledger_check_ok", ()) not in scrape(url)  # never run: absent, so an alert on absent() fires

    sound = run("ledger", "verify")
    assert sound.stdout.startswith("ledger: 2 accounts, every total matches its transfers") and sound.stderr == ""
    first = scrape(url)
    assert first[("hub_ledger_check_ok", ())] == 1 and first[("hub_ledger_check_problems", ())] == 0
    first_run_at = first[("hub_ledger_check_last_run_timestamp_seconds", ())]
    assert first_run_at > 0

    engine = create_engine(db_url)
    with engine.begin() as c:  # a stored total that its transfers do not give
        c.execute(
            text("UPDATE ledger_accounts SET credits_posted = credits_posted + 5000 WHERE code = :code"),
            {"code": company_account(NIP)},
        )
    engine.dispose()

    broken = run("ledger", "verify", ok=False)
    assert broken.exit_code == 1
    lines = broken.stderr.strip().splitlines()
    assert (
        f"hub: ledger: account {company_account(NIP)}: credits_posted 1050.00 PLN, "
        "its transfers give 1000.00 PLN (difference +50.00)" in lines
    )
    assert (
        "hub: ledger: debits and credits differ over the ledger: "
        "debits less credits are 0.00 PLN pending, -50.00 PLN posted" in lines
    )
    assert json.loads(run("ledger", "verify", "--json", ok=False).stdout)["ok"] is False

    last = scrape(url)
    assert last[("hub_ledger_check_ok", ())] == 0 and last[("hub_ledger_check_problems", ())] == 2
    assert last[("hub_ledger_check_last_run_timestamp_seconds", ())] >= first_run_at

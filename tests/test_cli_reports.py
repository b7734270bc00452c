"""`hub report NAME`: csv and json to stdout, pdf to a file or a pipe, the same
numbers in every format, `--as` a user's permissions, and one line for bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys

import pytest

from hub.ledger import Ledger
from hub.ledger.chart import company_account
from hub.money import format_pln
from tests.support.factories import NIP, OPERATOR, OTHER_NIP
from tests.support.reports import WARSZAWA, pdf_pages, seed


@pytest.fixture
def seeded(hub, clock):
    """The seeded history of tests/test_reports.py, on the database the CLI's config names."""
    return seed(hub, clock)


def test_csv_and_json_on_stdout_say_the_same(run, seeded):
    d = seeded.days
    window = ["--from", d["first"].isoformat(), "--to", d["last"].isoformat()]
    as_csv = list(csv.DictReader(io.StringIO(run("report", "redemptions", *window, "--csv-dialect", "rfc4180").stdout)))
    as_json = json.loads(run("report", "redemptions", *window, "--format", "json").stdout)
    assert json.loads(run("report", "redemptions", *window, "--json").stdout)["rows"] == as_json["rows"]
    assert as_csv == [{k: "" if v is None else str(v) for k, v in row.items()} for row in as_json["rows"]]
    assert as_json["totals"] == {
        "redemptions": 6,
        "captured": "766.50",
        "reversals": 1,
        "reversed": "161.50",
        "net": "605.00",
    }
    assert as_json["parameters"] == {"from": d["first"].isoformat(), "to": d["last"].isoformat()}
    assert as_json["chart"]["values"][0] == 3


def test_trial_balance_csv_sums_to_zero(run, seeded):
    rows = list(csv.DictReader(io.StringIO(run("report", "trial-balance", "--csv-dialect", "rfc4180").stdout)))
    assert len(rows) >= 6
    assert sum(int(r["balance"].replace(".", "")) for r in rows) == 0
    assert sum(int(r["debits_pending"].replace(".", "")) for r in rows) == sum(
        int(r["credits_pending"].replace(".", "")) for r in rows
    )


def test_statement_closing_balance_matches_the_account(run, hub, seeded):
    d = seeded.days
    body = json.loads(
        run(
            *f"report statement --nip {NIP} --from".split(),
            seeded.start.isoformat(),
            "--to",
            d["last"].isoformat(),
            "--json",
        ).stdout
    )
    companies = {c["nip"]: c for c in json.loads(run("company", "list", "--json").stdout)}
    assert body["figures"]["closing"] == companies[NIP]["available"]
    with hub.db.read() as s:
        assert body["figures"]["closing"] == format_pln(Ledger(s).balance(company_account(NIP)).available)
    assert body["rows"][-1]["balance"] == body["figures"]["closing"]


def test_pdf_to_a_file_and_to_a_pipe(run, seeded, tmp_path):
    out = tmp_path / "redemptions.pdf"
    result = run("report", "redemptions", "--format", "pdf", "--out", str(out))
    assert result.stdout == "" and out.read_bytes().startswith(b"%PDF-")
    pages = pdf_pages(out.read_bytes())
    assert "Wydział Komunikacji Urzędu m.st. Warszawy" in pages[0] and "Kupony wykorzystane dziennie" in pages[-1]

    piped = run("report", "coupons", "--nip", NIP, "--format", "pdf").stdout_bytes
    text = " ".join(pdf_pages(piped))
    assert seeded.coupons["a1_1"] in text and "Ważny do" in text and seeded.coupons["b1_0"] not in text

    csv_out = tmp_path / "coupons.csv"
    run(*"report coupons --status redeemed --csv-dialect rfc4180 --out".split(), str(csv_out))
    rows = list(csv.DictReader(io.StringIO(csv_out.read_text(encoding="utf-8"))))
    assert {r["status"] for r in rows} == {"REDEEMED"} and len(rows) == 5


def test_pdf_is_not_written_to_a_terminal(config_dir):
    main, child = pty.openpty()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from hub.app import main; main()",
                "--config",
                str(config_dir),
                "report",
                "trial-balance",
                "--format",
                "pdf",
            ],
            stdout=child,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(child)
        os.close(main)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hub report: --format pdf writes binary: give --out FILE, or redirect stdout"
    ]


def test_as_a_user_with_and_without_reports_read(run, hub, seeded):
    hub.users.add_user(OPERATOR, "ola@leasing", company_nip=NIP, role="viewer", password="correct horse battery 1")
    hub.users.add_user(OPERATOR, "jan@leasing", company_nip=NIP, role="issuer", password="correct horse battery 2")
    rows = json.loads(run("report", "coupons", "--as", "ola@leasing", "--json").stdout)["rows"]
    assert {r["nip"] for r in rows} == {NIP}
    for args in (["coupons"], ["coupons", "--nip", OTHER_NIP], ["open-holds"], ["trial-balance"]):
        result = run("report", *args, "--as", "jan@leasing" if args == ["coupons"] else "ola@leasing", ok=False)
        assert result.exit_code == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hub: NotAuthorized: "), result.stderr


@pytest.mark.parametrize(
    "args,code,expected",
    [
        (["report", "nope"], 2, "Invalid value for 'NAME': 'nope' is not one of 'statement'"),
        (
            ["report", "coupons", "--from", "2026-02-30"],
            2,
            "Invalid value for '--from': '2026-02-30' is not a day written YYYY-MM-DD",
        ),
        (["report", "coupons", "--to", "yesterday"], 2, "Invalid value for '--to'"),
        (["report", "coupons", "--format", "xlsx"], 2, "Invalid value for '--format'"),
        (["report", "coupons", "--json", "--format", "pdf"], 2, "--json and --format pdf disagree"),
        (["report", "trial-balance", "--from", "2026-03-01"], 1, "the trial-balance report takes no --from"),
        (
            ["report", "redemptions", "--from", "2026-03-02", "--to", "2026-03-01"],
            1,
            "--from 2026-03-02 is after --to 2026-03-01",
        ),
        (["report", "coupons", "--status", "USED"], 1, "--status 'USED' is not a coupon status"),
        (["report", "redemptions", "--office", "9999"], 1, "Unknown office code '9999'"),
        (
            ["report", "coupons", "--out", "/nonexistent/folder/x.csv"],
            2,
            "cannot write /nonexistent/folder/x.csv: folder /nonexistent/folder does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_option(run, args, code, expected):
    run("init")
    result = run(*args, ok=False)
    assert result.exit_code == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert result.stdout == ""


def test_an_office_sees_its_own_redemptions(run, hub, seeded):
    hub.users.add_user(
        OPERATOR, "kierownik@1465", office_code=WARSZAWA, role="supervisor", password="correct horse battery 3"
    )
    rows = json.loads(run("report", "redemptions", "--as", "kierownik@1465", "--json").stdout)["rows"]
    assert {r["office"] for r in rows} == {WARSZAWA} and sum(r["redemptions"] for r in rows) == 3


def test_the_default_csv_is_for_a_polish_excel_and_rfc4180_is_an_option(run, seeded, tmp_path):
    out = tmp_path / "rejestr.csv"
    run("report", "coupons", "--out", str(out))
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode("utf-8"))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Kupon", "NIP firmy", "Rodzaj sprawy", "Status", "Kwota"] and rows[1][4] == "161,50"
    machine = run("report", "coupons", "--csv-dialect", "rfc4180").stdout
    assert machine.startswith("coupon_id,nip,case_type,status,amount,")
    refused = run("report", "coupons", "--csv-dialect", "excel", ok=False)
    assert refused.exit_code == 2 and "--csv-dialect" in refused.stderr

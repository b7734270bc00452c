"""`hub cashdesk ...` as office users (`--as`), and `hub client verify-payment` against
a served hub: JSON output, files written, and one line on stderr for every refusal."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pypdfium2 as pdfium
import pytest
from click.testing import CliRunner

from hub.app import cli
from hub.cashdesk.service import ItemRequest
from hub.clock import business_day
from tests.support.cashdesk import pay
from tests.support.cli import client_options
from tests.support.documents import qr_codes
from tests.support.factories import config_copy


@pytest.fixture
def run(tmp_path, db_url):
    config_dir = config_copy(tmp_path, db_url)

    def run(*args: str, ok: bool = True, config=config_dir):
        result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.stderr
        return result

    return run


USERS = {
    "anna.nowak": ("1465", "cashier"),
    "ewa.wisniewska": ("1465", "supervisor"),
    "jan.kowalski": ("1261", "supervisor"),
}


def users(run, *logins: str) -> None:
    """Office users made with `hub user add` (argon2 hashing is slow on purpose: only those a test needs)."""
    for login in logins:
        office, role = USERS[login]
        run("user", "add", "--login", login, "--office", office, "--role", role)


PAY = (
    "cashdesk",
    "pay",
    "--office",
    "1465",
    "--desk",
    "01",
    "--system",
    "POJAZD",
    "--case-number",
    "KM.5410.1.124.2026",
)


def refused(result, *words: str) -> str:
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_a_cashiers_day_from_the_command_line(run, tmp_path):
    users(run, "anna.nowak", "ewa.wisniewska")
    today = business_day(datetime.now(UTC)).isoformat()
    card = json.loads(
        run(*PAY, *"--method CARD --card-auth A1B2C3 --item DR --item EWID=0.50 --as anna.nowak --json".split()).stdout
    )
    assert (card["items_total"], card["handling_fee"], card["total"]) == ("54.50", "1.50", "56.00")
    assert card["receipt_number"].endswith("/000001")
    cash = run(*PAY, "--method", "CASH", "--item", "TAB_SAM", "--as", "anna.nowak")
    assert "/000002" in cash.stdout and "80.00 PLN CASH" in cash.stdout

    refused(
        run("cashdesk", "void", card["payment_id"], "--reason", "pomyłka", "--as", "anna.nowak", ok=False),
        "NotAuthorized",
        "payments:void",
    )
    voided = json.loads(
        run("cashdesk", "void", card["payment_id"], "--reason", "pomyłka", "--as", "ewa.wisniewska", "--json").stdout
    )
    assert voided["payment_id"] == card["payment_id"]

    receipt = tmp_path / "kp.pdf"
    run("cashdesk", "receipt", card["payment_id"], "--out", str(receipt), "--as", "anna.nowak")
    text = "".join(p.get_textpage().get_text_range() for p in pdfium.PdfDocument(receipt.read_bytes()))
    assert card["receipt_number"] in text and "ANULOWANO" in text

    refused(
        run(*f"cashdesk close --office 1465 --desk 01 --date {today} --as anna.nowak".split(), ok=False), "desk:close"
    )
    closed = json.loads(
        run(*f"cashdesk close --office 1465 --desk 01 --date {today} --as ewa.wisniewska --json".split()).stdout
    )
    assert (
        closed["report_id"],
        closed["payment_count"],
        closed["voided_count"],
        closed["cash_total"],
        closed["card_total"],
    ) == (f"RK/1465/01/{today}", 1, 1, "80.00", "0.00")
    refused(run(*PAY, "--method", "CASH", "--item", "DR", "--as", "anna.nowak", ok=False), "DayClosed", "closed for")

    report = run(
        *f"cashdesk report --office 1465 --desk 01 --date {today} --format csv --csv-dialect rfc4180".split(),
        *"--out - --as ewa.wisniewska".split(),
    )
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [r["status"] for r in rows if r["row"] == "payment"] == ["VOIDED", "PAID"]
    assert [r["total"] for r in rows if r["row"] == "total"] == ["80.00", "0.00", "80.00"]
    pdf = tmp_path / "rk.pdf"
    run(*f"cashdesk report --office 1465 --desk 01 --date {today} --out".split(), str(pdf), "--as", "ewa.wisniewska")
    assert f"RK/1465/01/{today}" in "".join(
        p.get_textpage().get_text_range() for p in pdfium.PdfDocument(pdf.read_bytes())
    )
    refused(
        run(*f"cashdesk report --office 1465 --desk 01 --date {today} --out - --as anna.nowak".split(), ok=False),
        "reports:read",
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (("--method", "CARD", "--item", "DR", "--as", "anna.nowak"), ("InvalidRequest", "CardAuthCode is required")),
        (("--method", "CASH", "--item", "NOPE", "--as", "anna.nowak"), ("InvalidRequest", "Unknown fee code 'NOPE'")),
        (("--method", "CASH", "--item", "DR=1.005", "--as", "anna.nowak"), ("--item", "2 decimal places")),
        (("--method", "CASH", "--item", "DR"), ("--cashier",)),
        (("--method", "CASH", "--item", "DR", "--as", "jan.kowalski"), ("NotAuthorized", "office 1465")),
        (("--method", "CASH", "--item", "DR", "--as", "no.such.user"), ("no user",)),
    ],
)
def test_bad_payments_are_one_line_on_stderr(run, args, words):
    login = args[args.index("--as") + 1] if "--as" in args else None
    if login in USERS:
        users(run, login)
    refused(run(*PAY, *args, ok=False), *words)


def test_void_needs_a_supervisor_and_a_known_payment(run):
    users(run, "anna.nowak", "ewa.wisniewska", "jan.kowalski")
    paid = json.loads(run(*PAY, "--method", "CASH", "--item", "DR", "--cashier", "anna.nowak", "--json").stdout)
    refused(run("cashdesk", "void", paid["payment_id"], "--reason", "x", ok=False), "--supervisor")
    refused(
        run("cashdesk", "void", paid["payment_id"], *"--reason x --supervisor anna.nowak".split(), ok=False),
        "NotAuthorized",
        "may not void",
    )
    refused(run(*"cashdesk void no-such-payment --reason x --supervisor ewa.wisniewska".split(), ok=False), "NotFound")
    refused(run("cashdesk", "void", paid["payment_id"], *"--reason x --as jan.kowalski".split(), ok=False), "NotFound")
    run("cashdesk", "void", paid["payment_id"], "--reason", "klient zrezygnował", "--supervisor", "ewa.wisniewska")


def test_hub_client_verify_payment_as_pojazd(cashdesk_hub):
    hub = cashdesk_hub.hub
    paid = pay(hub, ItemRequest("DR"), ItemRequest("EWID"), desk_id="02", case_number="KM.7")
    common = client_options(cashdesk_hub)
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "client",
            "verify-payment",
            *common,
            "--system",
            "POJAZD",
            "--office",
            "1465",
            "--case-number",
            "KM.7",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["Paid"], answer["TotalPaid"]) == (True, "54.50")  # a JSON boolean, not "True"
    [p] = answer["Payment"]
    assert (p["ReceiptNumber"], p["Amount"], [(i["FeeCode"], i["Amount"]) for i in p["Item"]]) == (
        paid.receipt_number,
        "54.50",
        [("DR", "54.00"), ("EWID", "0.50")],
    )
    text = runner.invoke(
        cli,
        ["client", "verify-payment", *common, "--system", "POJAZD", "--office", "1465", "--case-number", "KM.7"],
        catch_exceptions=False,
    )
    assert text.exit_code == 0 and paid.receipt_number in text.stdout
    missing = runner.invoke(
        cli, ["client", "verify-payment", *common, "--office", "1465", "--case-number", "KM.7"], catch_exceptions=False
    )
    assert missing.exit_code == 2 and "System" in missing.stderr


def test_close_with_a_cash_count_and_check_a_receipts_qr(run, tmp_path):
    users(run, "anna.nowak", "ewa.wisniewska")
    today = business_day(datetime.now(UTC)).isoformat()
    paid = json.loads(
        run(
            *PAY,
            *"--method CASH --item DR --payer-name".split(),
            "Jan Kowalski",
            "--payer-address",
            "ul. Polna 1, Radom",
            "--as",
            "anna.nowak",
            "--json",
        ).stdout
    )
    receipt = tmp_path / "kp.pdf"
    run("cashdesk", "receipt", paid["payment_id"], "--out", str(receipt), "--as", "anna.nowak")
    assert "Jan Kowalski" in "".join(
        p.get_textpage().get_text_range() for p in pdfium.PdfDocument(receipt.read_bytes())
    )
    (qr,) = qr_codes(receipt.read_bytes())
    checked = json.loads(run("cashdesk", "check-qr", qr, "--json").stdout)
    assert checked == {"receipt_number": paid["receipt_number"], "total": "54.00", "date": today, "genuine": True}
    assert "genuine" in run("cashdesk", "check-qr", qr).stdout
    refused(run("cashdesk", "check-qr", qr.replace(".5400.", ".5401."), ok=False), "InvalidRequest", "bad signature")
    refused(run("cashdesk", "check-qr", "KP1.nonsense", ok=False), "InvalidRequest", "malformed")

    close = ("cashdesk", "close", "--office", "1465", "--desk", "01", "--date", today)
    refused(run(*close, "--counted", "50.00", ok=False), "NotAuthorized", "a supervisor must confirm the difference")
    refused(run(*close, "--counted", "-1", ok=False), "--counted")
    closed = json.loads(run(*close, "--counted", "50.00", "--as", "ewa.wisniewska", "--json").stdout)
    assert (
        closed["cash_total"],
        closed["counted_cash"],
        closed["cash_difference"],
        closed["difference_confirmed_by"],
    ) == ("54.00", "50.00", "-4.00", "ewa.wisniewska")
    report = run(
        *f"cashdesk report --office 1465 --desk 01 --date {today} --format csv --csv-dialect rfc4180".split(),
        *"--out - --as ewa.wisniewska".split(),
    )
    assert {r["row"]: r["total"] for r in csv.DictReader(io.StringIO(report.stdout)) if r["row"].startswith("cash_")}[
        "cash_difference"
    ] == "-4.00"


def test_closing_a_day_years_back_needs_force_and_a_supervisor(run):
    users(run, "anna.nowak", "ewa.wisniewska")
    close = ("cashdesk", "close", "--office", "1465", "--desk", "01", "--date", "2020-01-01")
    refused(run(*close, ok=False), "InvalidRequest", "more than 1 day back", "--force")
    refused(run(*close, "--force", ok=False), "InvalidRequest", "supervisor")
    refused(run(*close, "--force", "--supervisor", "anna.nowak", ok=False), "NotAuthorized", "may not close a past day")
    closed = json.loads(run(*close, "--force", "--supervisor", "ewa.wisniewska", "--json").stdout)
    assert (closed["report_id"], closed["late_close_supervisor"]) == ("RK/1465/01/2020-01-01", "ewa.wisniewska")

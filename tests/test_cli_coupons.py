"""`hub coupons issue --pdf | pdf | list | cancel | check-qr | expire`: what they print,
the files they write, and one line on stderr with a non-zero exit for bad input."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from hub.clock import business_day
from hub.signing.devcerts import self_signed, write_pem
from tests.support.documents import pdf_pages, sheet_codes
from tests.support.factories import NIP, OTHER_NIP, config_copy


@pytest.fixture
def funded(run):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Łódź Leasing Spółka z o.o.")
    run("company", "credit", "--nip", NIP, "--amount", "1000.00", "--reason", "przelew 2026-03-10")


def issue_json(run, count: int, *extra: str) -> dict:
    return json.loads(
        run(*f"coupons issue --nip {NIP} --case-type REJ_NEW --count".split(), str(count), "--json", *extra).stdout
    )


def one_error_line(result, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_issue_writes_the_batchs_pdf(run, funded, tmp_path):
    out = tmp_path / "batch.pdf"
    batch = issue_json(run, 3, "--pdf", str(out))
    pages = pdf_pages(out.read_bytes())
    assert [qr.split(".")[1] for qr, _ in pages] == [c["coupon_id"] for c in batch["coupons"]]
    assert all("Łódź Leasing Spółka z o.o." in text for _, text in pages)
    assert not list(tmp_path.glob(".*.partial"))


def test_pdf_of_a_batch_or_of_named_coupons(run, funded, tmp_path):
    batch = issue_json(run, 3)
    ids = [c["coupon_id"] for c in batch["coupons"]]
    out = tmp_path / "again.pdf"
    written = json.loads(run("coupons", "pdf", "--batch", batch["batch_id"], "--out", str(out), "--json").stdout)
    assert written == {"file": str(out), "pages": 3, "coupons": 3}
    four = json.loads(
        run(
            "coupons",
            "pdf",
            "--batch",
            batch["batch_id"],
            "--out",
            str(tmp_path / "four.pdf"),
            "--per-page",
            "4",
            "--json",
        ).stdout
    )
    assert four == {"file": str(tmp_path / "four.pdf"), "pages": 1, "coupons": 3}
    (sheet,) = sheet_codes((tmp_path / "four.pdf").read_bytes())
    assert sorted(qr.split(".")[1] for qr in sheet[:-1]) == sorted(ids)
    assert (
        "--per-page"
        in run("coupons", "pdf", "--batch", batch["batch_id"], "--out", str(out), "--per-page", "3", ok=False).stderr
    )
    text = run("coupons", "pdf", ids[2], ids[0].lower(), "--out", str(tmp_path / "two.pdf")).stdout
    assert text.strip() == f"2 coupons written to {tmp_path / 'two.pdf'}"
    assert [qr.split(".")[1] for qr, _ in pdf_pages((tmp_path / "two.pdf").read_bytes())] == [ids[2], ids[0]]


@pytest.mark.parametrize(
    "args,code,words",
    [
        (["--batch", "no-such-batch"], 1, "NotFound: no batch no-such-batch"),
        (["ABCD-EFGH"], 1, "InvalidRequest: coupon id 'ABCD-EFGH' is malformed"),
        ([], 2, "either --batch ID or coupon ids"),
    ],
)
def test_pdf_refusals_write_nothing(run, funded, tmp_path, args, code, words):
    out = tmp_path / "none.pdf"
    line = one_error_line(run("coupons", "pdf", *args, "--out", str(out), ok=False), code)
    assert words in line
    assert not out.exists() and not list(tmp_path.glob(".*.partial"))


def test_list_filters_and_pages(run, funded):
    batch = issue_json(run, 4)
    ids = [c["coupon_id"] for c in batch["coupons"]]
    run("coupons", "cancel", ids[1])
    listed = json.loads(run("coupons", "list", "--nip", NIP, "--json").stdout)
    assert listed["total"] == 4 and [c["coupon_id"] for c in listed["coupons"]] == ids
    assert [c["status"] for c in listed["coupons"]] == ["ISSUED", "CANCELLED", "ISSUED", "ISSUED"]
    issued = json.loads(run(*f"coupons list --nip {NIP} --status issued --offset 1 --limit 1 --json".split()).stdout)
    assert issued["total"] == 3 and [c["coupon_id"] for c in issued["coupons"]] == [ids[2]]
    text = run("coupons", "list", "--nip", NIP, "--status", "CANCELLED").stdout.splitlines()
    assert text[0] == "1 coupons; 1-1 shown" and ids[1] in text[1] and "CANCELLED" in text[1]
    none = json.loads(
        run("coupons", "list", "--nip", NIP, "--from", "2000-01-01", "--to", "2000-01-31", "--json").stdout
    )
    assert none == {"total": 0, "coupons": []}
    assert "Limit must be 1 to 1000" in one_error_line(
        run("coupons", "list", "--nip", NIP, "--limit", "1001", ok=False)
    )
    assert "NotFound" in one_error_line(run("coupons", "list", "--nip", OTHER_NIP, ok=False))
    assert "is not a day written YYYY-MM-DD" in one_error_line(
        run("coupons", "list", "--nip", NIP, "--from", "10.03.2026", ok=False), 2
    )


def test_cancel_releases_once(run, funded):
    coupon = issue_json(run, 1)["coupons"][0]["coupon_id"]
    key = "1b7f4b1e-5d0a-4c53-9a55-0a1f6a8a1e11"
    assert json.loads(run("coupons", "cancel", coupon, "--request-id", key, "--json").stdout) == {"released": "161.50"}
    assert json.loads(run("coupons", "cancel", coupon, "--request-id", key, "--json").stdout) == {"released": "161.50"}
    line = one_error_line(run("coupons", "cancel", coupon, ok=False))
    assert "InvalidRequest" in line and "CANCELLED" in line
    company = json.loads(run("company", "list", "--json").stdout)[0]
    assert (company["available"], company["held"]) == ("1000.00", "0.00")


def test_check_qr_offline(run, funded, tmp_path):
    out = tmp_path / "one.pdf"
    coupon = issue_json(run, 1, "--pdf", str(out))["coupons"][0]
    ((qr, _),) = pdf_pages(out.read_bytes())

    nowhere = config_copy(tmp_path / "offline", "postgresql+psycopg://nobody@127.0.0.1:9/none")  # no database to reach
    checked = json.loads(run("coupons", "check-qr", qr, "--json", config=nowhere).stdout)
    expires_on = business_day(datetime.fromisoformat(coupon["expires_at"].replace("Z", "+00:00"))).isoformat()
    assert checked == {"coupon_id": coupon["coupon_id"], "amount": "161.50", "expires_on": expires_on, "genuine": True}
    assert run("coupons", "check-qr", qr, config=nowhere).stdout.strip().endswith("genuine")

    i = len(qr) - 10
    altered = qr[:i] + ("A" if qr[i] != "A" else "B") + qr[i + 1 :]
    assert one_error_line(run("coupons", "check-qr", altered, config=nowhere, ok=False)).startswith(
        "hub: InvalidRequest: bad signature"
    )
    assert "wrong version" in one_error_line(run("coupons", "check-qr", "HUB9" + qr[4:], config=nowhere, ok=False))
    assert "malformed" in one_error_line(run("coupons", "check-qr", "not a coupon", config=nowhere, ok=False))

    key, cert = self_signed("someone-else")
    _, other_cert = write_pem(tmp_path, "other", key, cert)
    line = one_error_line(
        run("coupons", "check-qr", qr, "--cert", str(other_cert), config=tmp_path / "no-config", ok=False)
    )
    assert "bad signature" in line
    hub_cert = (Path(nowhere) / "keys" / "hub.crt").read_bytes()
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(Path(other_cert).read_bytes() + hub_cert)
    assert (
        run("coupons", "check-qr", qr, "--cert", str(bundle), config=tmp_path / "no-config")
        .stdout.strip()
        .endswith("genuine")
    )


def test_expire_is_idempotent(run, funded):
    issue_json(run, 2)
    assert json.loads(run("coupons", "expire", "--json").stdout) == {"expired": 0, "released": "0.00"}
    assert json.loads(run("coupons", "expire", "--json").stdout) == {"expired": 0, "released": "0.00"}


def test_acting_as_a_company_user(run, funded, tmp_path):
    """--as LOGIN: the user's permissions and company, checked in the domain."""
    run("company", "add", "--nip", OTHER_NIP, "--name", "Inny Leasing sp. z o.o.")
    run("user", "add", "--login", "anna", "--company", NIP, "--role", "viewer")
    run("user", "add", "--login", "olga", "--company", OTHER_NIP, "--role", "admin")
    batch = issue_json(run, 1)
    coupon = batch["coupons"][0]["coupon_id"]

    assert json.loads(run("coupons", "list", "--nip", NIP, "--as", "anna", "--json").stdout)["total"] == 1
    run("coupons", "pdf", "--batch", batch["batch_id"], "--out", str(tmp_path / "anna.pdf"), "--as", "anna")
    assert "NotAuthorized" in one_error_line(run("coupons", "cancel", coupon, "--as", "anna", ok=False))  # a viewer
    assert "NotAuthorized" in one_error_line(
        run(*f"coupons issue --nip {NIP} --case-type REJ_NEW --count 1 --as anna".split(), ok=False)
    )

    assert "NotAuthorized" in one_error_line(run("coupons", "list", "--nip", NIP, "--as", "olga", ok=False))
    assert "NotFound" in one_error_line(run("coupons", "cancel", coupon, "--as", "olga", ok=False))
    assert "NotFound" in one_error_line(
        run("coupons", "pdf", coupon, "--out", str(tmp_path / "olga.pdf"), "--as", "olga", ok=False)
    )
    assert not (tmp_path / "olga.pdf").exists()
    assert json.loads(run("coupons", "list", "--nip", NIP, "--status", "ISSUED", "--json").stdout)["total"] == 1

"""Coupon PDFs and their signed QR codes: rendered pages decode to their own coupon,
the offline check passes and fails on any changed character, the text is Polish,
and a 1,000-coupon PDF stays under the memory budget."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from datetime import date

import pypdfium2 as pdfium
import pytest

from hub.clock import business_day
from hub.coupons.qr import BAD_SIGNATURE, MALFORMED, UNKNOWN_VERSION, QrRejected, QrSigner, parse_qr, verify_qr
from hub.errors import InvalidRequest, NotAuthorized, NotFound
from hub.ids import format_coupon_id
from hub.signing.devcerts import self_signed
from hub.signing.keys import SigningIdentity
from tests.support import REPO, SHIPPED_CONFIG
from tests.support.documents import each_one_character_changed, hub_cert, pdf_pages, sheet_codes
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, company_actor, config_copy, funded_company, issue, rid

POLISH_NAME = "Łódź Leasing Spółka z o.o."
MEMORY_BUDGET_MB = 300


def write_pdf(hub, **kw) -> bytes:
    out = io.BytesIO()
    hub.coupon_queries.write_pdf(out, actor=kw.pop("actor", OPERATOR), **kw)
    return out.getvalue()


def test_acceptance_every_page_decodes_to_its_own_coupon_and_is_genuine(hub):
    funded_company(hub, 200_00 * 100, name=POLISH_NAME)
    batch = issue(hub, 100)
    pages = pdf_pages(write_pdf(hub, batch_id=batch.batch_id))
    assert len(pages) == 100
    for coupon, (qr_text, text) in zip(batch.coupons, pages, strict=True):
        genuine = verify_qr(qr_text, [hub_cert()])
        assert (genuine.coupon_id, genuine.amount_grosze, genuine.expires_on) == (
            coupon.coupon_id,
            161_50,
            business_day(coupon.expires_at),
        )
        assert coupon.coupon_id in text
        for words in ("Kupon", "zł", "161,50", POLISH_NAME, f"NIP {NIP}", "REJ_NEW", "Urzędnik: zeskanuj kod"):
            assert words in text, words


def test_one_changed_character_anywhere_fails_the_check(hub):
    funded_company(hub, 500_00)
    coupon = issue(hub, 1).coupons[0]
    ((qr_text, _),) = pdf_pages(write_pdf(hub, coupon_ids=[coupon.coupon_id]))
    assert verify_qr(qr_text, [hub_cert()]).coupon_id == coupon.coupon_id
    for changed in each_one_character_changed(qr_text):
        with pytest.raises(QrRejected):
            verify_qr(changed, [hub_cert()])


def test_the_signature_is_the_hubs_own():
    identity = SigningIdentity.load(SHIPPED_CONFIG / "keys" / "hub.key", SHIPPED_CONFIG / "keys" / "hub.crt")
    cid = issue_free_id()
    text = QrSigner(identity).payload(cid, 16150, date(2026, 6, 8))
    assert text.startswith(f"HUB1.{cid}.16150.2026-06-08.") and len(text) < 500
    assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.-")  # all in the QR alphanumeric set
    key, cert = self_signed("hub.example")
    with pytest.raises(QrRejected) as e:
        verify_qr(text, [cert])
    assert e.value.reason == BAD_SIGNATURE and e.value.message.startswith("bad signature")
    assert verify_qr(text, [cert, hub_cert()]).amount_grosze == 16150  # a bundle: old and new hub certificates
    forged = QrSigner(SigningIdentity(key, cert)).payload(cid, 16150, date(2026, 6, 8))
    with pytest.raises(QrRejected, match="bad signature"):
        verify_qr(forged, [hub_cert()])


def test_an_ec_hub_key_signs_compactly_too():
    key, cert = self_signed("hub.example", key_type="ec")
    cid = issue_free_id()
    text = QrSigner(SigningIdentity(key, cert)).payload(cid, 5000, date(2026, 1, 31))
    assert len(text.rpartition(".")[2]) == 103  # 64 bytes r||s in base32
    assert verify_qr(text, [cert]).coupon_id == cid
    with pytest.raises(QrRejected, match="bad signature"):
        verify_qr(text, [hub_cert()])


@pytest.mark.parametrize(
    "mutate,reason,words",
    [
        (lambda t: "HUB2" + t[4:], UNKNOWN_VERSION, "wrong version"),
        (lambda t: "XYZ1" + t[4:], MALFORMED, "malformed"),
        (lambda t: t.replace(".", ":", 1), MALFORMED, "malformed"),
        (lambda t: t + ".X", MALFORMED, "malformed"),
        (lambda t: t.replace("-", "", 3), MALFORMED, "coupon id"),
        (lambda t: t.replace(".16150.", ".016150."), MALFORMED, "amount"),
        (lambda t: t.replace(".2026-06-08.", ".2026-02-30."), MALFORMED, "expiry"),
        (lambda t: t[:-3] + "a" + t[-2:], MALFORMED, "signature"),
        (lambda t: t + "A", MALFORMED, "signature"),
        (lambda t: "", MALFORMED, "malformed"),
        (lambda t: "HUB1." + "A" * 3000, MALFORMED, "at most"),
    ],
)
def test_malformed_payloads_say_why(mutate, reason, words):
    identity = SigningIdentity.load(SHIPPED_CONFIG / "keys" / "hub.key", SHIPPED_CONFIG / "keys" / "hub.crt")
    text = QrSigner(identity).payload(issue_free_id(), 16150, date(2026, 6, 8))
    with pytest.raises(QrRejected) as e:
        verify_qr(mutate(text), [hub_cert()])
    assert e.value.reason == reason and words in e.value.message
    assert isinstance(e.value, InvalidRequest)


def issue_free_id() -> str:
    from hub.ids import new_coupon_id

    return format_coupon_id(new_coupon_id())


def test_named_coupons_print_in_the_order_given_each_once(hub):
    funded_company(hub, 1000_00)
    a, b, c = issue(hub, 3).coupons
    pages = pdf_pages(write_pdf(hub, coupon_ids=[c.coupon_id, a.coupon_id.lower().replace("-", ""), c.coupon_id]))
    assert [parse_qr(qr).coupon_id for qr, _ in pages] == [c.coupon_id, a.coupon_id]


def test_print_runs_are_checked_before_the_first_page(hub):
    funded_company(hub, 1000_00)
    funded_company(hub, 1000_00, nip=OTHER_NIP, name="Inny Leasing sp. z o.o.")
    mine, theirs = issue(hub, 2), issue(hub, 1, nip=OTHER_NIP)
    me = company_actor(NIP)
    refusals = [
        (dict(batch_id=theirs.batch_id), NotFound, "no batch"),
        (dict(batch_id="no-such-batch"), NotFound, "no batch"),
        (
            dict(coupon_ids=[mine.coupons[0].coupon_id, theirs.coupons[0].coupon_id]),
            NotFound,
            theirs.coupons[0].coupon_id,
        ),
        (dict(coupon_ids=["ABCD-EFGH"]), InvalidRequest, "malformed"),
        (dict(batch_id=mine.batch_id, coupon_ids=[mine.coupons[0].coupon_id]), InvalidRequest, "either"),
        (dict(), InvalidRequest, "either"),
    ]
    for kw, error, words in refusals:
        out = io.BytesIO()
        with pytest.raises(error, match=words):
            hub.coupon_queries.write_pdf(out, actor=me, **kw)
        assert out.getvalue() == b""
    from hub.access import Actor

    with pytest.raises(NotAuthorized):  # a user of the company without coupons:read
        write_pdf(
            hub,
            actor=Actor("user:x", permissions=frozenset({"coupons:issue"}), company_nip=NIP),
            batch_id=mine.batch_id,
        )
    assert len(pdf_pages(write_pdf(hub, actor=me, batch_id=mine.batch_id))) == 2
    both = [mine.coupons[0].coupon_id, theirs.coupons[0].coupon_id]
    assert [parse_qr(qr).coupon_id for qr, _ in pdf_pages(write_pdf(hub, coupon_ids=both))] == both  # the operator


def test_a_reprint_marks_coupons_that_are_no_longer_valid(hub):
    funded_company(hub, 1000_00)
    batch = issue(hub, 2)
    hub.coupons.cancel(request_id=rid(), coupon_text=batch.coupons[1].coupon_id, actor=OPERATOR)
    (_, first), (_, second) = pdf_pages(write_pdf(hub, batch_id=batch.batch_id))
    assert "nieważny" not in first and "Kupon nieważny: ANULOWANY" in second


def test_an_office_bound_coupon_names_its_office(hub):
    funded_company(hub, 1000_00)
    batch = issue(hub, 1, office_code="1465")
    ((_, text),) = pdf_pages(write_pdf(hub, batch_id=batch.batch_id))
    assert "Ważny tylko w urzędzie" in text and "1465" in text


MEASURE = """
import json, sys
from pathlib import Path
from hub.access import operator
from hub.app import Hub
from hub.config import load_config

hub = Hub(load_config(Path(sys.argv[1])))
with open(sys.argv[3], "wb") as out:
    pages = hub.coupon_queries.write_pdf(out, actor=operator("bench"), batch_id=sys.argv[2])
# VmHWM, the peak RSS of this program's own memory: getrusage's ru_maxrss would also
# count the parent pytest worker's peak, inherited across fork and exec on Linux.
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"pages": pages, "maxrss_kb": peak_kb}))
"""


def test_a_thousand_coupon_pdf_stays_under_the_memory_budget(
    tmp_path, sqlite_template, shipped_config, clock, record_property
):
    """On SQLite only: the PDF's memory does not depend on the database."""
    from hub.app import Hub
    from hub.db.database import Database

    path = tmp_path / "hub.sqlite3"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    hub = Hub(shipped_config, clock=clock, db=Database(url))
    funded_company(hub, 1000 * 161_50, name=POLISH_NAME)
    batch = issue(hub, 1000)
    hub.close()
    config_dir = config_copy(tmp_path, url)
    out = tmp_path / "coupons.pdf"
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(config_dir), batch.batch_id, str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    record_property(
        "measured",
        f"1,000-coupon PDF: {out.stat().st_size / 1e6:.1f} MB, peak RSS {measured['maxrss_kb'] / 1024:.0f} MB",
    )
    assert measured["pages"] == 1000
    assert measured["maxrss_kb"] < MEMORY_BUDGET_MB * 1024
    pdf = pdfium.PdfDocument(str(out))
    assert len(pdf) == 1000
    last = pdf[999].get_textpage().get_text_range()
    pdf.close()
    assert batch.coupons[999].coupon_id in last and "Kupon 1000 z 1000" in last


@pytest.mark.parametrize("per_page", [2, 4])
def test_two_or_four_coupons_to_a_sheet_each_qr_decodes_at_150_dpi_with_cut_marks(hub, per_page):
    funded_company(hub, 200_00 * 100, name=POLISH_NAME)
    batch = issue(hub, 5)
    sheets = sheet_codes(write_pdf(hub, batch_id=batch.batch_id, per_page=per_page))
    assert len(sheets) == -(-5 // per_page)
    decoded = [verify_qr(text, [hub_cert()]).coupon_id for *texts, _ in sheets for text in texts]
    assert sorted(decoded) == sorted(c.coupon_id for c in batch.coupons)
    assert [len(texts) for *texts, _ in sheets] == [min(per_page, 5 - i * per_page) for i in range(len(sheets))]
    image = sheets[0][-1]
    middle_row = round(image.height / 2)
    dark = lambda x, y: min(image.getpixel((x, y + d)) for d in (-1, 0, 1)) < 200  # noqa: E731
    assert dark(8, middle_row) and dark(image.width - 8, middle_row)  # the cut between the top and bottom halves
    assert any(dark(x, 8) for x in range(round(image.width / 2) - 2, round(image.width / 2) + 3)) == (
        per_page == 4
    )  # four to a sheet: the vertical cut too


def test_a_per_page_other_than_one_two_or_four_is_refused(hub):
    funded_company(hub, 500_00)
    coupon = issue(hub, 1).coupons[0]
    with pytest.raises(InvalidRequest, match="PerPage must be 1, 2 or 4"):
        write_pdf(hub, coupon_ids=[coupon.coupon_id], per_page=3)


def test_a_batch_reference_is_printed_on_its_coupons_and_the_qr_still_decodes(hub):
    funded_company(hub, 1000_00)
    batch = issue(hub, 2, reference="UM/2026/0042")
    pages = pdf_pages(write_pdf(hub, batch_id=batch.batch_id))
    assert all("Numer referencyjny firmy" in text and "UM/2026/0042" in text for _, text in pages)
    assert [parse_qr(qr).coupon_id for qr, _ in pages] == [c.coupon_id for c in batch.coupons]
    ((_, plain),) = pdf_pages(write_pdf(hub, batch_id=issue(hub, 1).batch_id))
    assert "Numer referencyjny" not in plain

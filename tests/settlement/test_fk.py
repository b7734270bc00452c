"""FK journals: balanced lines from captures, reversals and cash desk takings; files
for export; PostJournal to the office's FK system once, however often send runs."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.access import Actor
from hub.cashdesk.service import ItemRequest
from hub.config import load_config
from hub.errors import LedgerInvariantError, NotAuthorized, NotFound
from hub.fk.journal import Journal, JournalLine, checked, split_capture
from hub.outbox import Outbox
from hub.outbox.models import PENDING, SENT
from hub.outbox.service import backoff_s
from hub.services.endpoint import contract_schema
from tests.support import SHIPPED_CONFIG
from tests.support.cashdesk import void
from tests.support.cli import hub_command
from tests.support.factories import funded_company, hub_user, issue, redeem, rid
from tests.support.settlement import DAY, FK_OFFICE, OPERATOR, books_balance

JOURNAL_ID = "FK-1465-20260310"


@pytest.fixture(scope="module")
def fees():
    return load_config(SHIPPED_CONFIG).tariff


def test_a_full_capture_is_split_by_the_fee_schedule(fees):
    # REJ_NEW = DR, EWID, PC, EWID, TAB_SAM, NAL, EWID
    assert split_capture(fees, "REJ_NEW", 161_50, DAY) == [
        ("DR", 54_00),
        ("EWID", 1_50),
        ("PC", 13_50),
        ("TAB_SAM", 80_00),
        ("NAL", 12_50),
    ]


def test_a_partial_capture_fills_the_fees_in_order(fees):
    assert split_capture(fees, "REJ_NEW", 100_00, DAY) == [
        ("DR", 54_00),
        ("EWID", 1_00),
        ("PC", 13_50),
        ("TAB_SAM", 31_50),
    ]
    assert split_capture(fees, "REJ_NEW", 20_00, DAY) == [("DR", 20_00)]


def test_more_than_the_schedule_goes_on_the_last_fee(fees):
    assert split_capture(fees, "PJ_B", 120_00, DAY) == [("PJ", 100_00), ("EWID", 20_00)]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["REJ_NEW", "REJ_MOT", "PJ_B", "WORD_TEORIA"]), st.integers(min_value=1, max_value=10_000_00))
def test_a_split_adds_up_to_the_captured_amount(fees, case_type, amount):
    parts = split_capture(fees, case_type, amount, DAY)
    assert sum(g for _, g in parts) == amount
    assert all(g > 0 for _, g in parts)
    assert len({code for code, _ in parts}) == len(parts)


def test_an_unbalanced_journal_is_an_invariant_error():
    lines = (JournalLine("201-HUB", 100, 0, "", ""), JournalLine("750-DR", 0, 99, "", ""))
    with pytest.raises(LedgerInvariantError, match="differ"):
        checked(Journal("FK-X", "1465", DAY, lines))
    with pytest.raises(LedgerInvariantError, match="exactly one positive side"):
        checked(Journal("FK-X", "1465", DAY, (JournalLine("201-HUB", 100, 100, "", ""),)))


@pytest.fixture
def busy_day(hub, clock):
    """At office 1465 on DAY: a full and a partial capture, the full one reversed the
    same day, and three cash desk payments (cash, card, and a cash one voided)."""
    funded_company(hub, 1000_00)
    coupons = [c.coupon_id for c in issue(hub, 2).coupons]
    full = redeem(hub, coupons[0], FK_OFFICE, case_number="A/1")
    clock.advance(minutes=5)
    redeem(hub, coupons[1], FK_OFFICE, 100_00, case_number="B/2")
    clock.advance(minutes=5)
    hub.coupons.reverse(
        request_id=rid(), redemption_id=full.redemption_id, office_code=FK_OFFICE, reason="zła sprawa", actor=OPERATOR
    )
    desk = Actor("client:kasa-1465-01", offices=frozenset({FK_OFFICE}))
    pay = dict(office_code=FK_OFFICE, desk_id="01", cashier="Anna", system="POJAZD", actor=desk)
    hub.cashdesk.register(
        request_id=rid(), case_number="C/3", method="CASH", items=[ItemRequest("DR"), ItemRequest("EWID")], **pay
    )
    hub.cashdesk.register(
        request_id=rid(), case_number="D/4", method="CARD", card_auth_code="123456", items=[ItemRequest("PJ")], **pay
    )
    voided = hub.cashdesk.register(
        request_id=rid(), case_number="E/5", method="CASH", items=[ItemRequest("TAB_SAM")], **pay
    )
    hub_user(hub, "kierownik", "supervisor", office_code=FK_OFFICE)
    void(hub, voided.payment_id, "pomyłka", "kierownik", actor=desk)
    return hub


def totals(journal) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for line in journal.lines:
        d, c = out.get(line.account, (0, 0))
        out[line.account] = (d + line.debit_grosze, c + line.credit_grosze)
    return out


def test_the_days_journal_is_balanced_and_complete(busy_day):
    journal = busy_day.journals.journal(FK_OFFICE, DAY, actor=OPERATOR)
    assert journal.journal_id == JOURNAL_ID
    assert journal.debit_grosze == journal.credit_grosze == 161_50 + 100_00 + 161_50 + 54_50 + 101_50
    assert totals(journal) == {
        "201-HUB": (261_50, 161_50),  # two captures; the reversal on the other side
        "750-DR": (54_00, 54_00 + 54_00 + 54_00),  # coupon A (reversed), coupon B, the cash desk
        "750-EWID": (1_50, 1_50 + 1_00 + 50),
        "750-PC": (13_50, 13_50 + 13_50),
        "750-TAB_SAM": (80_00, 80_00 + 31_50),  # the voided TAB_SAM payment is not there
        "750-NAL": (12_50, 12_50),
        "750-PJ": (0, 100_00),
        "101-KASA": (54_50, 0),
        "138-KARTA": (101_50, 0),
        "760-OPLATA-MANIPULACYJNA": (0, 1_50),  # the card fee of office 1465; cash costs nothing there
    }
    receivable = [line for line in journal.lines if line.account == "201-HUB"]
    assert [line.reference for line in receivable] == ["A/1", "B/2", "A/1"]
    assert receivable[2].description.startswith("Storno kuponu")


def test_a_day_without_bookings_exports_nothing(hub, tmp_path):
    with pytest.raises(NotFound, match="nothing to book"):
        hub.journals.export("3064", DAY, tmp_path / "out", actor=OPERATOR)
    assert not (tmp_path / "out").exists()


def test_only_the_offices_own_people_read_its_journal(busy_day):
    other = Actor("user:x@3064", offices=frozenset({"3064"}))
    with pytest.raises(NotAuthorized):
        busy_day.journals.journal(FK_OFFICE, DAY, actor=other)
    own = Actor("user:y@1465", permissions=frozenset({"reports:read"}), offices=frozenset({FK_OFFICE}))
    assert busy_day.journals.journal(FK_OFFICE, DAY, actor=own).lines


def fk_export(config, office: str, out):
    """`hub fk export` of DAY's journal of `office` into `out`; the result, whatever its exit code."""
    return hub_command(
        config.config_dir, "fk", "export", "--office", office, "--date", DAY.isoformat(), "--out", str(out), ok=False
    )


def test_hub_fk_export_writes_csv_and_xml_shaped_as_post_journal_request(busy_day, config, tmp_path):
    out = tmp_path / "fk"
    result = fk_export(config, FK_OFFICE, out)
    assert result.exit_code == 0, result.output
    assert "debits 579.00 = credits 579.00" in result.output
    xml = etree.parse(str(out / f"{JOURNAL_ID}.xml")).getroot()
    contract_schema("fk").assertValid(xml)
    rows = list(csv.DictReader(io.StringIO((out / f"{JOURNAL_ID}.csv").read_bytes().decode("utf-8-sig"))))
    journal = busy_day.journals.journal(FK_OFFICE, DAY, actor=OPERATOR)
    assert len(rows) == len(xml.findall("{urn:hub:fk:v1}Line")) == len(journal.lines)
    assert rows[0] == {
        "Account": "201-HUB",
        "Debit": "161.50",
        "Credit": "0.00",
        "Description": journal.lines[0].description,
        "Reference": "A/1",
    }
    assert sum(float(r["Debit"]) * 100 for r in rows) == pytest.approx(sum(float(r["Credit"]) * 100 for r in rows))

    json_run = fk_export(config, "3064", out)
    assert json_run.exit_code == 1 and json_run.output.count("\n") == 1 and "nothing to book" in json_run.output


def test_the_journal_goes_to_the_fk_system_once_even_if_send_runs_twice(busy_day, clock, bank):
    clock.advance(days=1)
    run = busy_day.settlements.settle(DAY, actor=OPERATOR)
    assert run.journals_queued == 1  # only office 1465 has an FK system
    busy_day.settlements.settle(DAY, actor=OPERATOR)  # settling again queues nothing
    assert len(Outbox(busy_day.db).list(kind="fk.journal")) == 1
    busy_day.settlements.send(actor=OPERATOR)
    busy_day.settlements.send(actor=OPERATOR)
    posted = bank.journals()
    assert list(posted) == [JOURNAL_ID]
    assert (posted[JOURNAL_ID]["deliveries"], posted[JOURNAL_ID]["accepted"]) == (1, True)
    journal = busy_day.journals.journal(FK_OFFICE, DAY, actor=OPERATOR)
    assert posted[JOURNAL_ID]["lines"] == [
        {
            "Account": line.account,
            "Debit": line.debit_grosze,
            "Credit": line.credit_grosze,
            "Description": line.description,
            "Reference": line.reference,
        }
        for line in journal.lines
    ]
    assert [r.status for r in Outbox(busy_day.db).list(kind="fk.journal")] == [SENT]
    books_balance(busy_day)


def test_an_fk_system_that_is_down_gets_the_journal_when_it_is_back(busy_day, clock, bank):
    clock.advance(days=1)
    busy_day.settlements.settle(DAY, actor=OPERATOR)
    bank.control(fk="down")
    run = busy_day.settlements.send(actor=OPERATOR)
    assert (run.sent, run.retried) == (1, 1)  # the bank took the transfer; the FK system answered 503
    assert [r.status for r in Outbox(busy_day.db).list(kind="fk.journal")] == [PENDING]
    bank.control(fk="ok")
    clock.advance(seconds=backoff_s(1))
    assert busy_day.settlements.send(actor=OPERATOR).sent == 1
    assert bank.journals()[JOURNAL_ID]["deliveries"] == 1


def test_a_day_with_nothing_at_the_fk_office_queues_no_journal(hub, clock, bank):
    funded_company(hub, 500_00)
    redeem(hub, issue(hub, 1).coupons[0].coupon_id, "1261")
    clock.advance(days=1)
    assert hub.settlements.settle(DAY, actor=OPERATOR).journals_queued == 0
    assert Outbox(hub.db).list(kind="fk.journal") == []

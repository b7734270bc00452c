"""settle(day): what each office is owed for a Warsaw business day, moved to bank:transit
with a Settlement row and an outbox record in one transaction, once per office and day."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub.access import Actor
from hub.errors import InvalidRequest, NotAuthorized
from hub.ledger.models import LedgerTransfer
from hub.outbox.models import OutboxRecord
from hub.settlement.models import CARRIED, PENDING, Settlement
from tests.support.concurrency import in_threads
from tests.support.factories import funded_company, issue, redeem
from tests.support.settlement import DAY, OPERATOR, books_balance


def by_office(run) -> dict[str, tuple[str, int, str | None]]:
    return {s.office_code: (s.status, s.amount_grosze, s.end_to_end_id) for s in run.settlements}


def counts(hub) -> tuple[int, int, int]:
    with hub.db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(Settlement)),
            session.scalar(select(func.count()).select_from(OutboxRecord)),
            session.scalar(select(func.count()).select_from(LedgerTransfer)),
        )


@pytest.fixture
def coupons(hub):
    funded_company(hub, 2000_00)
    return [c.coupon_id for c in issue(hub, 6).coupons]


def test_each_office_is_paid_what_it_captured_that_day(hub, clock, coupons):
    redeem(hub, coupons[0], "1465")
    redeem(hub, coupons[1], "1465", 100_00)
    redeem(hub, coupons[2], "1261")
    clock.advance(days=1)
    run = hub.settlements.settle(DAY, actor=OPERATOR)
    assert by_office(run) == {
        "1465": (PENDING, 261_50, "HUB-1465-20260310-1"),
        "1261": (PENDING, 161_50, "HUB-1261-20260310-1"),
        "3064": (CARRIED, 0, None),
        "0264": (CARRIED, 0, None),
    }
    balances = books_balance(hub)
    assert (balances["office:1465"], balances["office:1261"], balances["bank:transit"]) == (0, 0, 423_00)
    with hub.db.read() as session:
        records = session.scalars(
            select(OutboxRecord).where(OutboxRecord.kind == "bank.transfer").order_by(OutboxRecord.key)
        ).all()
    assert [(r.key, r.status, r.attempts) for r in records] == [
        ("HUB-1261-20260310-1", "PENDING", 0),
        ("HUB-1465-20260310-1", "PENDING", 0),
    ]


def test_settling_a_day_twice_changes_nothing(hub, clock, coupons):
    redeem(hub, coupons[0], "1465")
    clock.advance(days=1)
    first = hub.settlements.settle(DAY, actor=OPERATOR)
    before = counts(hub), books_balance(hub)
    again = hub.settlements.settle(DAY, actor=OPERATOR)
    assert (first.created, again.created) == (4, 0)
    assert by_office(again) == by_office(first)
    assert (counts(hub), books_balance(hub)) == before


def test_a_day_that_has_not_ended_is_refused_and_changes_nothing(hub, clock, coupons):
    redeem(hub, coupons[0], "1465")
    before = counts(hub)
    with pytest.raises(InvalidRequest, match="has not ended yet"):
        hub.settlements.settle(DAY, actor=OPERATOR)
    clock.now = clock.now.replace(hour=22, minute=59)  # 23:59 in Warsaw: still the same day
    with pytest.raises(InvalidRequest):
        hub.settlements.settle(DAY, actor=OPERATOR)
    assert counts(hub) == before


def test_only_the_operator_settles(hub, clock, coupons):
    clock.advance(days=1)
    office_user = Actor("user:kasjer@1465", offices=frozenset({"1465"}))
    with pytest.raises(NotAuthorized):
        hub.settlements.settle(DAY, actor=office_user)
    with pytest.raises(NotAuthorized):
        hub.settlements.send(actor=office_user)
    assert counts(hub)[0] == 0


@pytest.mark.parametrize(
    "job",
    [
        lambda hub, actor: hub.settlements.list(actor=actor),
        lambda hub, actor: hub.settlements.unreconciled(0, actor=actor),
        lambda hub, actor: hub.settlements.reconcile(actor=actor),
    ],
    ids=["list", "unreconciled", "reconcile"],
)
def test_only_the_operator_lists_and_reconciles_settlements(hub, job):
    with pytest.raises(NotAuthorized):
        job(hub, Actor("user:kasjer@1465", offices=frozenset({"1465"})))
    job(hub, OPERATOR)


def test_a_capture_after_the_day_ended_waits_for_the_next_day(hub, clock, coupons):
    """The business day ends at midnight in Warsaw (23:00 UTC in March)."""
    clock.now = clock.now.replace(hour=22, minute=59, second=59)
    redeem(hub, coupons[0], "1465")
    clock.advance(seconds=2)  # 00:00:01 on 11 March in Warsaw
    redeem(hub, coupons[1], "1465", 50_00)
    clock.advance(days=1)
    first = hub.settlements.settle(DAY, actor=OPERATOR)
    second = hub.settlements.settle(DAY + timedelta(days=1), actor=OPERATOR)
    assert by_office(first)["1465"][:2] == (PENDING, 161_50)
    assert by_office(second)["1465"][:2] == (PENDING, 50_00)
    assert books_balance(hub)["office:1465"] == 0


def test_settling_days_out_of_order_pays_each_capture_once(hub, clock, coupons):
    redeem(hub, coupons[0], "1465")
    clock.advance(days=1)
    redeem(hub, coupons[1], "1465")
    clock.advance(days=1)
    later = hub.settlements.settle(DAY + timedelta(days=1), actor=OPERATOR)  # sees both days
    earlier = hub.settlements.settle(DAY, actor=OPERATOR)
    assert by_office(later)["1465"][:2] == (PENDING, 323_00)
    # Its capture went out with the later day already: nothing is sent, and the row
    # shows the office's balance at the end of that day less everything settled since.
    assert by_office(earlier)["1465"] == (CARRIED, -161_50, None)
    assert books_balance(hub)["bank:transit"] == 323_00


def test_a_reversal_of_settled_money_is_carried_then_netted(hub, clock, coupons):
    redemption = redeem(hub, coupons[0], "1465")
    clock.advance(days=1)
    assert by_office(hub.settlements.settle(DAY, actor=OPERATOR))["1465"][:2] == (PENDING, 161_50)
    hub.coupons.reverse(
        request_id="0b7a4a4e-8a61-4cf5-9d0e-7a1f1e0e2b11",
        redemption_id=redemption.redemption_id,
        office_code="1465",
        reason="pomyłka",
        actor=OPERATOR,
    )
    redeem(hub, coupons[1], "1465", 100_00)
    clock.advance(days=1)
    day2 = hub.settlements.settle(DAY + timedelta(days=1), actor=OPERATOR)
    assert by_office(day2)["1465"] == (CARRIED, -61_50, None)  # never sent
    assert books_balance(hub)["office:1465"] == -61_50
    redeem(hub, coupons[2], "1465")
    clock.advance(days=1)
    day3 = hub.settlements.settle(DAY + timedelta(days=2), actor=OPERATOR)
    assert by_office(day3)["1465"][:2] == (PENDING, 100_00)  # 161.50 less the 61.50 carried
    balances = books_balance(hub)
    assert (balances["office:1465"], balances["bank:transit"]) == (0, 261_50)


def test_concurrent_settles_of_one_day_settle_once(hub, clock, coupons):
    for c in coupons[:3]:
        redeem(hub, c, "1465")
    clock.advance(days=1)
    results = in_threads(lambda: hub.settlements.settle(DAY, actor=OPERATOR), 4)
    assert sum(r.created for r in results) == 4
    assert {by_office(r)["1465"] for r in results} == {(PENDING, 484_50, "HUB-1465-20260310-1")}
    assert counts(hub)[:2] == (4, 2)  # one transfer, and one FK journal (office 1465 has an FK system)
    assert books_balance(hub)["bank:transit"] == 484_50


def test_unknown_status_in_the_report_is_refused(hub):
    with pytest.raises(InvalidRequest, match="unknown settlement status"):
        hub.settlements.list(actor=OPERATOR, status="LOST")

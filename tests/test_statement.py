"""The company statement: its entries are the ledger's movements of the available
balance, and it closes to the ledger's available balance at the end of `To`, with
holds, partial redemptions, reversals, cancels, expiry, top-ups and adjustments in
the range and before and after it."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.access import Actor
from hub.clock import business_day
from hub.companies.statement import STATEMENT_DAYS_MAX
from hub.errors import InvalidRequest, NotAuthorized, NotFound
from hub.ledger import Ledger
from hub.ledger.chart import ASSET, ESCROW, company_account
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, company_actor, funded_company, issue, rid

DAY = timedelta(days=1)


def topup(hub, amount_grosze: int, nip: str = NIP, reference: str = "camt.053 2026-03-10 entry 7") -> None:
    """A top-up as the bank statement import books it: escrow debited, the company credited."""
    with hub.db.transaction() as s:
        ledger = Ledger(s, hub.clock)
        ledger.open_account(ESCROW, ASSET)
        ledger.transfer(f"topup:{rid()}", ESCROW, company_account(nip), amount_grosze, "TOPUP", reference)


def available(hub, nip: str = NIP) -> int:
    return hub.companies.account(nip, actor=OPERATOR).available_grosze


def statement(hub, date_from: date, date_to: date, nip: str = NIP, actor: Actor = OPERATOR):
    return hub.companies.statement(actor=actor, nip=nip, date_from=date_from, date_to=date_to)


def redeem(hub, coupon_id: str, amount_grosze: int | None = None):
    return hub.coupons.redeem(
        request_id=rid(),
        coupon_text=coupon_id,
        office_code="1465",
        case_number=f"WK/{rid()[:8]}",
        case_type="REJ_NEW",
        amount_grosze=amount_grosze,
        actor=OPERATOR,
    )


def at(clock, year, month, day, hour, minute=0) -> None:
    clock.now = datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_every_kind_of_entry_in_order_and_the_balances(hub, clock):
    at(clock, 2026, 3, 9, 10)
    funded_company(hub, 1000_00)  # ADJUSTMENT before the range
    a, b, c = (x.coupon_id for x in issue(hub, 3).coupons)  # three HOLDs before the range
    opening = available(hub)

    at(clock, 2026, 3, 10, 8)
    topup(hub, 200_00)
    at(clock, 2026, 3, 10, 9)
    r = redeem(hub, a, 100_00)  # partial: RELEASE 161.50, CAPTURE -100.00
    at(clock, 2026, 3, 10, 10)
    hub.coupons.cancel(request_id=rid(), coupon_text=b, actor=OPERATOR)
    at(clock, 2026, 3, 10, 23, 30)  # 00:30 on 11 March in Warsaw
    hub.coupons.reverse(
        request_id=rid(), redemption_id=r.redemption_id, office_code="1465", reason="wrong case", actor=OPERATOR
    )
    at(clock, 2026, 3, 11, 12)
    hub.companies.credit(NIP, -50_00, "korekta opłaty", actor=OPERATOR)
    closing = available(hub)

    at(clock, 2026, 3, 12, 12)  # after the range: must not show
    redeem(hub, c)
    topup(hub, 10_00)

    s = statement(hub, date(2026, 3, 10), date(2026, 3, 11))
    assert (s.opening_balance_grosze, s.closing_balance_grosze) == (opening, closing) == (515_50, 827_00)
    assert [(e.kind, e.amount_grosze, e.coupon_id) for e in s.entries] == [
        ("TOPUP", 200_00, None),
        ("RELEASE", 161_50, a),
        ("CAPTURE", -100_00, a),
        ("RELEASE", 161_50, b),
        ("HOLD", -161_50, a),  # the reversal holds the coupon again...
        ("CAPTURE", 100_00, a),  # ...and refunds the capture
        ("ADJUSTMENT", -50_00, None),
    ]
    references = [e.reference for e in s.entries]
    assert references[0] == "camt.053 2026-03-10 entry 7" and references[-1] == "korekta opłaty"
    assert references[2] == f"capture:{r.redemption_id}" and references[5] == f"reversal:{r.redemption_id}"
    assert [business_day(e.booked_at) for e in s.entries][3:5] == [date(2026, 3, 10), date(2026, 3, 11)]

    day10 = statement(hub, date(2026, 3, 10), date(2026, 3, 10))
    assert (day10.opening_balance_grosze, len(day10.entries)) == (515_50, 4)  # the 23:30 UTC reversal is 11 March
    everything = statement(hub, date(2026, 3, 1), date(2026, 3, 31))
    assert (everything.opening_balance_grosze, everything.closing_balance_grosze) == (0, available(hub))


def test_expiry_releases_and_an_empty_range_keeps_the_balance(hub, clock):
    at(clock, 2026, 3, 10, 9)
    funded_company(hub, 400_00)
    batch = issue(hub, 2)
    clock.advance(days=91)
    hub.coupons.expire(actor=OPERATOR)
    expired_on = business_day(clock())
    s = statement(hub, expired_on, expired_on)
    assert [(e.kind, e.amount_grosze) for e in s.entries] == [("RELEASE", 161_50), ("RELEASE", 161_50)]
    assert {e.coupon_id for e in s.entries} == {c.coupon_id for c in batch.coupons}
    assert (s.opening_balance_grosze, s.closing_balance_grosze) == (77_00, 400_00)
    quiet = statement(hub, expired_on + DAY, expired_on + 5 * DAY)
    assert (quiet.opening_balance_grosze, quiet.closing_balance_grosze, quiet.entries) == (400_00, 400_00, ())


def test_a_seeded_random_history_closes_to_the_ledger_every_day(hub, clock):
    """Random days of activity; the available balance is noted at the end of each day.
    Every range's opening is the day before's note and its closing that day's note."""
    rnd = random.Random(20260310)
    start = date(2026, 3, 2)
    at(clock, 2026, 3, 1, 22)  # 23:00 in Warsaw, the day before the first day
    funded_company(hub, 1000_00)
    funded_company(hub, 5000_00, nip=OTHER_NIP, name="Inny Leasing sp. z o.o.")  # moves too, never on our statement
    issued: list[str] = []
    redemptions: list[tuple[str, str, datetime]] = []  # (redemption, coupon, when)
    noted = {start - DAY: available(hub)}
    for n in range(8):
        day = start + n * DAY
        for hour in sorted(rnd.sample(range(6, 23), 8)):
            clock.now = datetime(day.year, day.month, day.day, hour, rnd.randrange(60), tzinfo=UTC) - timedelta(hours=1)
            action = rnd.choice(["issue", "issue", "redeem", "cancel", "reverse", "topup", "credit", "other"])
            if action == "issue" and available(hub) >= 2 * 161_50:
                issued += [c.coupon_id for c in issue(hub, rnd.randint(1, 2)).coupons]
            elif action == "redeem" and issued:
                coupon = issued.pop(rnd.randrange(len(issued)))
                redemptions.append(
                    (redeem(hub, coupon, rnd.choice([None, 1_00, 99_99])).redemption_id, coupon, clock())
                )
            elif action == "cancel" and issued:
                hub.coupons.cancel(request_id=rid(), coupon_text=issued.pop(), actor=OPERATOR)
            elif (
                action == "reverse"
                and redemptions
                and clock() - redemptions[-1][2] < timedelta(hours=72)
                and available(hub) >= 161_50
            ):
                redemption, coupon, _ = redemptions.pop()
                hub.coupons.reverse(
                    request_id=rid(), redemption_id=redemption, office_code="1465", reason="test", actor=OPERATOR
                )
                issued.append(coupon)
            elif action == "topup":
                topup(hub, rnd.randint(1, 500_00))
            elif action == "credit":
                hub.companies.credit(NIP, -min(available(hub), rnd.randint(1, 50_00)) or 1, "korekta", actor=OPERATOR)
            else:
                topup(hub, 100_00, nip=OTHER_NIP)
                issue(hub, 1, nip=OTHER_NIP)
        noted[day] = available(hub)
    for first in range(8):
        for last in range(first, 8):
            s = statement(hub, start + first * DAY, start + last * DAY)
            assert s.opening_balance_grosze == noted[start + (first - 1) * DAY]
            assert s.closing_balance_grosze == noted[start + last * DAY]
            assert s.opening_balance_grosze + sum(e.amount_grosze for e in s.entries) == s.closing_balance_grosze
    kinds = {e.kind for e in statement(hub, start, start + 7 * DAY).entries}
    assert kinds == {"TOPUP", "HOLD", "CAPTURE", "RELEASE", "ADJUSTMENT"}


def test_who_may_read_and_what_ranges(hub, clock):
    funded_company(hub, 100_00)
    funded_company(hub, 100_00, nip=OTHER_NIP, name="Inny Leasing sp. z o.o.")
    today = business_day(clock())
    assert statement(hub, today, today, actor=company_actor(NIP)).closing_balance_grosze == 100_00
    with pytest.raises(NotAuthorized):
        statement(hub, today, today, nip=OTHER_NIP, actor=company_actor(NIP))
    with pytest.raises(NotAuthorized):  # a user of the company without statement:read
        statement(hub, today, today, actor=Actor("user:x", permissions=frozenset({"coupons:issue"}), company_nip=NIP))
    with pytest.raises(InvalidRequest, match="after"):
        statement(hub, today, today - DAY)
    with pytest.raises(InvalidRequest, match=f"at most {STATEMENT_DAYS_MAX} days"):
        statement(hub, today - STATEMENT_DAYS_MAX * DAY, today)
    assert statement(hub, today - (STATEMENT_DAYS_MAX - 1) * DAY, today).closing_balance_grosze == 100_00
    with pytest.raises(NotFound):
        statement(hub, today, today, nip="1234563218")
    with pytest.raises(InvalidRequest, match="NIP"):
        statement(hub, today, today, nip="1234567890")

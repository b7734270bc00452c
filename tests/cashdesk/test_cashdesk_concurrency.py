"""Many processes at one desk at once (fork, started together on a barrier, each
with its own engine): receipt numbers without gaps or duplicates, and CloseDay
racing payments counts exactly the payments that got in."""

from __future__ import annotations

from sqlalchemy import select

from hub.cashdesk.models import Payment
from hub.ledger import Ledger
from tests.support.cashdesk import pay
from tests.support.concurrency import WORKERS, run_at_once
from tests.support.factories import OPERATOR, rid

PER_WORKER = 3


def test_eight_processes_at_one_desk_get_receipt_numbers_without_gaps(hub, db_url):
    def register(h, i):
        return [pay(h, case_number=f"KM/{i}/{n}").receipt_number for n in range(PER_WORKER)]

    out = run_at_once(db_url, hub, register)
    assert [code for _, code, _ in out] == ["ok"] * WORKERS, out
    numbers = sorted(receipt for _, _, receipts in out for receipt in receipts)
    total = WORKERS * PER_WORKER
    assert numbers == [f"KP/1465/01/2026/{n:06d}" for n in range(1, total + 1)]
    with hub.db.read() as s:
        assert sorted(s.scalars(select(Payment.number))) == list(range(1, total + 1))
        assert Ledger(s).balance("office:1465:takings").credits_posted == total * 54_00
        Ledger(s).verify()
    assert pay(hub).receipt_number == f"KP/1465/01/2026/{total + 1:06d}"


def test_close_day_racing_payments_counts_exactly_the_payments_that_got_in(hub, db_url, clock):
    day = clock().date()

    def pay_or_close(h, i):
        if i == 0:
            return h.cashdesk.close_day(
                request_id=rid(), office_code="1465", desk_id="01", day=day, actor=OPERATOR
            ).totals.payment_count
        return [pay(h, case_number=f"KM/{i}/{n}").receipt_number for n in range(PER_WORKER)]

    out = run_at_once(db_url, hub, pay_or_close)
    counted = out[0][2]
    assert out[0][1] == "ok", out
    refused = [code for _, code, _ in out[1:] if code != "ok"]
    assert set(refused) <= {"DayClosed"}, out
    paid = [receipt for _, code, receipts in out[1:] if code == "ok" for receipt in receipts]
    with hub.db.read() as s:
        stored = sorted(s.scalars(select(Payment.receipt_number)))
    # every payment that committed was counted by the close; every later one was refused whole
    assert counted == len(stored) and set(paid) <= set(stored)
    assert stored == [f"KP/1465/01/2026/{n:06d}" for n in range(1, counted + 1)]

"""Many processes at once against one database: no double capture, no overdraft,
one effect per RequestId. Each worker is a separate OS process with its own
engine, started together on a barrier."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.coupons.models import Coupon
from hub.ledger import Ledger
from hub.ledger.chart import office_account
from tests.support.concurrency import run_at_once
from tests.support.factories import NIP, OPERATOR, REJ_NEW, funded_company, issue, rid


def test_eight_processes_redeem_one_coupon_and_exactly_one_captures(hub, db_url):
    funded_company(hub, 200_00)
    coupon_id = issue(hub, 1).coupons[0].coupon_id

    def redeem(h, i):
        r = h.coupons.redeem(
            request_id=rid(),
            coupon_text=coupon_id,
            office_code="1465",
            case_number=f"K/{i}",
            case_type=REJ_NEW,
            actor=OPERATOR,
        )
        return r.redemption_id

    out = run_at_once(db_url, hub, redeem)
    outcomes = sorted(code for _, code, _ in out)
    assert outcomes == ["CouponNotRedeemable"] * 7 + ["ok"], out
    assert all(detail == {"Reason": "REDEEMED"} for _, code, detail in out if code != "ok")
    with hub.db.read() as s:
        ledger = Ledger(s)
        assert ledger.balance(office_account("1465")).credits_posted == 161_50
        ledger.verify()
    assert hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 200_00 - 161_50


def test_eight_processes_issue_batches_beyond_the_balance(hub, db_url):
    funded_company(hub, 1500_00)  # covers 3 batches of 3 x 161.50 = 484.50

    def issue_three(h, i):
        return issue(h, 3).batch_id

    out = run_at_once(db_url, hub, issue_three)
    ok = [r for r in out if r[1] == "ok"]
    assert len(ok) == 3, out
    assert {code for _, code, _ in out} == {"ok", "InsufficientFunds"}
    account = hub.companies.account(NIP, actor=OPERATOR)
    assert account.held_grosze == 3 * 484_50 <= 1500_00
    assert account.available_grosze == 1500_00 - 3 * 484_50
    with hub.db.read() as s:
        per_batch = s.execute(select(Coupon.batch_id, func.count()).group_by(Coupon.batch_id)).all()
        assert sorted(n for _, n in per_batch) == [3, 3, 3]  # each batch all or nothing
        assert {b for b, _ in per_batch} == {r[2] for r in ok}
        Ledger(s).verify()


def test_two_processes_with_the_same_request_id_get_one_effect_and_one_answer(hub, db_url):
    funded_company(hub, 500_00)
    key = rid()

    def same_request(h, i):
        batch = issue(h, 2, request_id=key)
        return [batch.batch_id, [c.coupon_id for c in batch.coupons]]

    out = run_at_once(db_url, hub, same_request, workers=2)
    assert [code for _, code, _ in out] == ["ok", "ok"], out
    assert out[0][2] == out[1][2]
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 323_00

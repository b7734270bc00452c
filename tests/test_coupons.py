"""The coupon lifecycle through the domain service, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.coupons.models import Coupon
from hub.errors import (
    CouponNotRedeemable,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidRequest,
    NotAuthorized,
    NotFound,
)
from hub.ids import normalize_coupon_id
from hub.ledger import Ledger
from hub.ledger.chart import CLEARING, office_account
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, REJ_NEW, company_actor, funded_company, issue, redeem, rid


def account(hub, nip=NIP):
    return hub.companies.account(nip, actor=OPERATOR)


def verify_ledger(hub):
    with hub.db.read() as s:
        Ledger(s).verify()


def test_issue_holds_the_batch_and_leaves_the_rest(hub):
    funded_company(hub, 1000_00)
    batch = issue(hub, 6)
    assert batch.total_held_grosze == 969_00
    assert [c.amount_grosze for c in batch.coupons] == [161_50] * 6
    assert all(c.coupon_id[4] == "-" and len(c.coupon_id) == 19 for c in batch.coupons)
    a = account(hub)
    assert (a.available_grosze, a.held_grosze, a.posted_grosze) == (31_00, 969_00, 1000_00)
    verify_ledger(hub)


def test_a_batch_is_all_or_nothing(hub):
    funded_company(hub, 1000_00)
    with pytest.raises(InsufficientFunds) as e:
        issue(hub, 7)
    assert e.value.detail == {"Available": "1000.00", "Required": "1130.50"}
    with hub.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Coupon)) == 0
    assert account(hub).held_grosze == 0


@pytest.mark.parametrize(
    "kw,message",
    [
        (dict(count=0), "Count must be 1 to 1000"),
        (dict(count=1001), "Count must be 1 to 1000"),
        (dict(case_type="NOPE"), "case type"),
        (dict(nip="1234567890"), "NIP '1234567890' is not valid"),
        (dict(office_code="9999"), "9999"),
        (dict(amount_grosze=0), "at least 0.01"),
    ],
)
def test_bad_issue_requests_change_nothing(hub, kw, message):
    funded_company(hub, 1000_00)
    kw = dict(kw)
    with pytest.raises(InvalidRequest, match=message):
        issue(hub, kw.pop("count", 1), nip=kw.pop("nip", NIP), **kw)
    assert account(hub).available_grosze == 1000_00


def test_issue_is_idempotent_by_request_id(hub):
    funded_company(hub, 1000_00)
    key = rid()
    first = issue(hub, 2, request_id=key)
    again = issue(hub, 2, request_id=key)
    assert first == again
    assert account(hub).held_grosze == 323_00
    with pytest.raises(IdempotencyConflict):
        issue(hub, 3, request_id=key)


def test_verify_then_redeem_captures_for_the_office(hub):
    funded_company(hub, 500_00)
    coupon = issue(hub, 1).coupons[0]
    check = hub.coupons.verify(coupon.coupon_id.lower(), "1465", REJ_NEW, NIP, actor=OPERATOR)
    assert (check.valid, check.status, check.reason, check.amount_grosze, check.payer_name) == (
        True,
        "ISSUED",
        None,
        161_50,
        "Leasing Polska S.A.",
    )
    r = redeem(hub, coupon.coupon_id, case_number="WK.5410.1.2026")
    assert (r.coupon_id, r.captured_grosze, r.released_grosze) == (coupon.coupon_id, 161_50, 0)
    a = account(hub)
    assert (a.available_grosze, a.held_grosze, a.posted_grosze) == (338_50, 0, 338_50)
    with hub.db.read() as s:
        assert Ledger(s).balance(office_account("1465")).credits_posted == 161_50
        assert Ledger(s).balance(CLEARING).credits_posted == Ledger(s).balance(CLEARING).debits_posted
    after = hub.coupons.verify(coupon.coupon_id, "1465", actor=OPERATOR)
    assert (after.valid, after.status, after.reason) == (False, "REDEEMED", "REDEEMED")
    verify_ledger(hub)


def test_partial_redeem_releases_the_rest(hub):
    funded_company(hub, 300_00)
    coupon = issue(hub, 1).coupons[0]
    r = redeem(hub, coupon.coupon_id, case_number="K/1", amount_grosze=100_00)
    assert (r.captured_grosze, r.released_grosze) == (100_00, 61_50)
    assert account(hub).available_grosze == 200_00
    with pytest.raises(InvalidRequest, match="more than the coupon"):
        redeem(hub, issue(hub, 1).coupons[0].coupon_id, case_number="K/2", amount_grosze=161_51)
    verify_ledger(hub)


def test_redeem_is_exactly_once_and_idempotent(hub):
    funded_company(hub, 200_00)
    coupon = issue(hub, 1).coupons[0]
    key = rid()
    args = dict(coupon_text=coupon.coupon_id, office_code="1465", case_number="K/1", case_type=REJ_NEW)
    first = hub.coupons.redeem(request_id=key, **args, actor=OPERATOR)
    assert hub.coupons.redeem(request_id=key, **args, actor=OPERATOR) == first
    with pytest.raises(CouponNotRedeemable) as e:
        hub.coupons.redeem(request_id=rid(), **args, actor=OPERATOR)
    assert e.value.reason == "REDEEMED"
    with pytest.raises(IdempotencyConflict):
        hub.coupons.redeem(request_id=key, **{**args, "case_number": "K/2"}, actor=OPERATOR)
    assert account(hub).posted_grosze == 200_00 - 161_50


@pytest.mark.parametrize(
    "mutate,office,case_type,payer,reason",
    [
        (lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"), "1465", None, None, "MALFORMED"),
        (None, "1465", "PJ_B", None, "CASE_TYPE_MISMATCH"),
        (None, "1465", None, OTHER_NIP, "PAYER_MISMATCH"),
        (None, "1261", None, None, "OFFICE_MISMATCH"),
    ],
)
def test_verify_reasons(hub, mutate, office, case_type, payer, reason):
    funded_company(hub, 200_00)
    coupon = issue(hub, 1, office_code="1465").coupons[0]
    text = mutate(coupon.coupon_id) if mutate else coupon.coupon_id
    check = hub.coupons.verify(text, office, case_type, payer, actor=OPERATOR)
    assert (check.valid, check.reason) == (False, reason)


def test_verify_of_an_unknown_but_well_formed_id(hub):
    from hub.ids import format_coupon_id, new_coupon_id

    check = hub.coupons.verify(new_coupon_id(), "1465", actor=OPERATOR)
    assert (check.valid, check.reason, check.status) == (False, "NOT_FOUND", None)
    with pytest.raises(CouponNotRedeemable) as e:
        redeem(hub, format_coupon_id(new_coupon_id()), case_number="K")
    assert e.value.reason == "NOT_FOUND"


def test_cancel_releases_and_only_for_the_owner(hub):
    funded_company(hub, 400_00)
    funded_company(hub, 0, nip=OTHER_NIP, name="Inny Leasing sp. z o.o.")
    coupon = issue(hub, 2).coupons[0]
    with pytest.raises(NotFound):
        hub.coupons.cancel(request_id=rid(), coupon_text=coupon.coupon_id, actor=company_actor(OTHER_NIP))
    assert hub.coupons.cancel(request_id=rid(), coupon_text=coupon.coupon_id, actor=company_actor(NIP)) == 161_50
    assert account(hub).held_grosze == 161_50
    assert hub.coupons.verify(coupon.coupon_id, "1465", actor=OPERATOR).reason == "CANCELLED"
    with pytest.raises(InvalidRequest, match="CANCELLED"):
        hub.coupons.cancel(request_id=rid(), coupon_text=coupon.coupon_id, actor=OPERATOR)
    verify_ledger(hub)


def test_expiry_releases_holds_once(hub, clock):
    funded_company(hub, 400_00)
    batch = issue(hub, 2)
    clock.advance(days=89)
    assert hub.coupons.expire(actor=OPERATOR).expired == 0
    clock.advance(days=1, seconds=1)
    check = hub.coupons.verify(batch.coupons[0].coupon_id, "1465", actor=OPERATOR)
    assert (check.status, check.reason) == ("EXPIRED", "EXPIRED")  # before the job ran, too
    with pytest.raises(CouponNotRedeemable):
        redeem(hub, batch.coupons[0].coupon_id, case_number="K")
    run = hub.coupons.expire(actor=OPERATOR)
    assert (run.expired, run.released_grosze) == (2, 323_00)
    assert hub.coupons.expire(actor=OPERATOR).expired == 0
    assert account(hub).available_grosze == 400_00
    verify_ledger(hub)


def test_only_the_operator_expires_coupons(hub, clock):
    funded_company(hub, 400_00)
    issue(hub, 1)
    clock.advance(days=91)
    with pytest.raises(NotAuthorized):
        hub.coupons.expire(actor=company_actor())
    assert hub.coupons.expire(actor=OPERATOR).expired == 1


def test_reverse_within_the_window_holds_again(hub, clock):
    funded_company(hub, 400_00)
    coupon = issue(hub, 1).coupons[0]
    r = redeem(hub, coupon.coupon_id, case_number="K", amount_grosze=100_00)
    with pytest.raises(NotAuthorized):
        hub.coupons.reverse(
            request_id=rid(), redemption_id=r.redemption_id, office_code="1261", reason="x", actor=OPERATOR
        )
    clock.advance(hours=71)
    rev = hub.coupons.reverse(
        request_id=rid(), redemption_id=r.redemption_id, office_code="1465", reason="wrong case", actor=OPERATOR
    )
    assert (rev.coupon_id, rev.status) == (coupon.coupon_id, "ISSUED")
    a = account(hub)
    assert (a.posted_grosze, a.held_grosze) == (400_00, 161_50)
    with hub.db.read() as s:
        office = Ledger(s).balance(office_account("1465"))
        assert office.credits_posted - office.debits_posted == 0
    assert hub.coupons.verify(coupon.coupon_id, "1465", actor=OPERATOR).valid
    with pytest.raises(InvalidRequest, match="already reversed"):
        hub.coupons.reverse(
            request_id=rid(), redemption_id=r.redemption_id, office_code="1465", reason="again", actor=OPERATOR
        )
    r2 = redeem(hub, coupon.coupon_id, case_number="K2")
    clock.advance(hours=72, seconds=1)
    with pytest.raises(InvalidRequest, match="72 h"):
        hub.coupons.reverse(
            request_id=rid(), redemption_id=r2.redemption_id, office_code="1465", reason="late", actor=OPERATOR
        )
    verify_ledger(hub)


def test_stored_ids_are_canonical(hub):
    funded_company(hub, 200_00)
    coupon = issue(hub, 1).coupons[0]
    with hub.db.read() as s:
        stored = s.scalar(select(Coupon.id))
    assert stored == normalize_coupon_id(coupon.coupon_id)

"""Reading a company's coupons batch by batch and by search (hub.coupons.browse),
and a desk's payments of a day (hub.cashdesk.listing): who may, and what they see."""

from __future__ import annotations

import pytest

from hub.access import Actor
from hub.cashdesk.listing import desk_day_payments
from hub.cashdesk.service import ItemRequest
from hub.clock import business_day
from hub.errors import InvalidRequest, NotAuthorized, NotFound
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, company_actor, funded_company, hub_user, issue, rid


def test_batches_newest_first_with_coupons_counted_by_status_as_reported(hub, clock):
    funded_company(hub, 2000_00)
    old = issue(hub, 3)
    clock.advance(days=1)
    new = issue(hub, 2)
    hub.coupons.cancel(request_id=rid(), coupon_text=new.coupons[0].coupon_id, actor=OPERATOR)

    page = hub.coupon_browser.batches(actor=company_actor(), company_nip=NIP)
    assert page.total == 2
    assert [b.batch_id for b in page.batches] == [new.batch_id, old.batch_id]
    assert page.batches[0].by_status == {"ISSUED": 1, "REDEEMED": 0, "CANCELLED": 1, "EXPIRED": 0}
    assert page.batches[1].total_grosze == 3 * 161_50

    clock.advance(days=89, hours=12)  # past the first batch's 90 days, before the expiry job has run
    page = hub.coupon_browser.batches(actor=company_actor(), company_nip=NIP)
    assert page.batches[1].by_status == {"ISSUED": 0, "REDEEMED": 0, "CANCELLED": 0, "EXPIRED": 3}
    assert page.batches[0].by_status["ISSUED"] == 1

    second = hub.coupon_browser.batches(actor=company_actor(), company_nip=NIP, offset=1, limit=1)
    assert (second.total, [b.batch_id for b in second.batches]) == (2, [old.batch_id])


def test_a_batch_lists_its_coupons_in_page_order_and_is_no_one_elses(hub):
    funded_company(hub, 1000_00)
    funded_company(hub, 1000_00, nip=OTHER_NIP, name="Inny Leasing")
    batch = issue(hub, 3)
    detail = hub.coupon_browser.batch(actor=company_actor(), batch_id=batch.batch_id)
    assert [c.coupon_id for c in detail.coupons] == [c.coupon_id for c in batch.coupons]
    assert detail.batch.count == 3
    with pytest.raises(NotFound):
        hub.coupon_browser.batch(actor=company_actor(OTHER_NIP), batch_id=batch.batch_id)
    with pytest.raises(NotFound):
        hub.coupon_browser.batch(actor=company_actor(), batch_id="no-such-batch")


def test_search_finds_a_coupon_by_id_batch_or_case_number(hub):
    funded_company(hub, 1000_00)
    batch = issue(hub, 3)
    first, second = batch.coupons[0].coupon_id, batch.coupons[1].coupon_id
    hub.coupons.redeem(
        request_id=rid(),
        coupon_text=second,
        office_code="1465",
        case_number="WK.5410.5.2026",
        case_type="REJ_NEW",
        actor=OPERATOR,
    )
    actor = company_actor()

    loosely = first.lower().replace("-", " ")
    assert [c.coupon_id for c in hub.coupon_browser.search(actor=actor, company_nip=NIP, text=loosely)] == [first]
    assert len(hub.coupon_browser.search(actor=actor, company_nip=NIP, text=batch.batch_id)) == 3
    found = hub.coupon_browser.search(actor=actor, company_nip=NIP, text="WK.5410.5.2026")
    assert [(c.coupon_id, c.status, c.case_number) for c in found] == [(second, "REDEEMED", "WK.5410.5.2026")]
    assert hub.coupon_browser.search(actor=actor, company_nip=NIP, text="nothing-like-it") == ()
    with pytest.raises(InvalidRequest):
        hub.coupon_browser.search(actor=actor, company_nip=NIP, text="   ")


def test_browsing_needs_coupons_read_in_that_company(hub):
    funded_company(hub, 1000_00)
    funded_company(hub, 1000_00, nip=OTHER_NIP, name="Inny Leasing")
    issue(hub, 1)
    with pytest.raises(NotAuthorized):
        hub.coupon_browser.batches(actor=company_actor(OTHER_NIP), company_nip=NIP)
    no_read = Actor("user:x", permissions=frozenset({"statement:read"}), company_nip=NIP)
    with pytest.raises(NotAuthorized):
        hub.coupon_browser.batches(actor=no_read, company_nip=NIP)
    with pytest.raises(NotAuthorized):
        hub.coupon_browser.search(actor=no_read, company_nip=NIP, text="x")


def test_a_cashier_lists_the_desks_payments_of_the_day_voids_marked(hub, clock):
    cashier = hub_user(hub, "kasjer@1465", "cashier", nip=None, office_code="1465")
    supervisor = hub_user(hub, "kierownik@1465", "supervisor", nip=None, office_code="1465")
    common = dict(
        office_code="1465", desk_id="01", cashier="kasjer", system="POJAZD", method="CASH", items=[ItemRequest("DR")]
    )
    a = hub.cashdesk.register(request_id=rid(), case_number="A.1", actor=cashier, **common)
    b = hub.cashdesk.register(request_id=rid(), case_number="B.1", actor=cashier, **common)
    hub.cashdesk.register(request_id=rid(), case_number="C.1", actor=cashier, **{**common, "desk_id": "02"})
    hub.cashdesk.void(
        request_id=rid(), payment_id=a.payment_id, reason="pomyłka", supervisor="kierownik@1465", actor=supervisor
    )

    today = business_day(clock())
    listed = desk_day_payments(hub.cashdesk, office_code="1465", desk_id="01", day=today, actor=cashier)
    assert [(p.receipt_number, p.voided) for p in listed] == [(a.receipt_number, True), (b.receipt_number, False)]
    with pytest.raises(NotAuthorized):
        desk_day_payments(hub.cashdesk, office_code="1261", desk_id="01", day=today, actor=cashier)
    with pytest.raises(NotAuthorized):
        desk_day_payments(hub.cashdesk, office_code="1465", desk_id="01", day=today, actor=company_actor())
    with pytest.raises(InvalidRequest):
        desk_day_payments(hub.cashdesk, office_code="1465", desk_id="09", day=today, actor=cashier)


def test_a_batch_reference_is_kept_searchable_and_checked(hub, clock):
    funded_company(hub, 2000_00)
    contract = issue(hub, 2, reference="  UM/2026/0042 ")
    clock.advance(minutes=1)
    issue(hub, 1, reference="WVWZZZ1JZXW000001")
    found = hub.coupon_browser.search(actor=company_actor(), company_nip=NIP, text="um/2026/0042")  # any case
    assert [c.coupon_id for c in found] == [c.coupon_id for c in contract.coupons] and {c.reference for c in found} == {
        "UM/2026/0042"
    }
    page = hub.coupon_browser.batches(actor=company_actor(), company_nip=NIP)
    assert [b.reference for b in page.batches] == ["WVWZZZ1JZXW000001", "UM/2026/0042"]
    for bad in ("x" * 65, "UM\n2026"):
        with pytest.raises(InvalidRequest) as refused:
            issue(hub, 1, reference=bad)
        assert refused.value.kind == "reference_invalid"
    assert hub.coupon_browser.batches(actor=company_actor(), company_nip=NIP).total == 2  # nothing issued
    assert issue(hub, 1, reference="   ").batch_id  # blank: no reference


def test_lists_come_newest_first_or_oldest_first_on_request(hub, clock):
    funded_company(hub, 2000_00)
    old = issue(hub, 2)
    clock.advance(hours=1)
    new = issue(hub, 2)
    newest = hub.coupon_queries.list(actor=company_actor(), company_nip=NIP, newest_first=True).coupons
    assert [c.coupon_id for c in newest] == [
        c.coupon_id for c in (*new.coupons, *old.coupons)
    ]  # each batch in page order
    oldest = hub.coupon_queries.list(actor=company_actor(), company_nip=NIP).coupons
    assert [c.coupon_id for c in oldest] == [
        c.coupon_id for c in (*old.coupons, *new.coupons)
    ]  # ListCoupons' order stays
    batches = hub.coupon_browser.batches(actor=company_actor(), company_nip=NIP, newest_first=False)
    assert [b.batch_id for b in batches.batches] == [old.batch_id, new.batch_id]

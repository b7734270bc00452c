"""The hub refuses requests it cannot log (as X-Road does) instead of serving them
unlogged: the request is written before any business code that changes state runs, together
with its signature's replay-cache record (a read may run meanwhile, its answer kept back), and
a failure there changes nothing."""

from __future__ import annotations

import pytest
from lxml import etree
from sqlalchemy import func, select

from hub import ns
from hub.audit.messagelog import REQUEST, RESPONSE, MessageLog, MessageRecord
from hub.db.replay import SeenSignature
from tests.support.factories import NIP, OPERATOR
from tests.support.ops import ReadOnlyMessageLog, sample, scrape
from tests.support.soap import fault_of, redeem_fields, signed_request


@pytest.fixture
def read_only_log(running_hub):
    guard = ReadOnlyMessageLog(running_hub.hub.db)
    yield guard
    guard.restore()


def counts(db) -> tuple[int, int]:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(MessageRecord)), session.scalar(
            select(func.count()).select_from(SeenSignature)
        )


def test_a_redeem_the_log_cannot_record_is_refused_and_changes_nothing(running_hub, coupon, read_only_log):
    hub = running_hub.hub
    account_before = hub.companies.account(NIP, actor=OPERATOR)
    records_before, signatures_before = counts(hub.db)
    failures_before = sample(scrape(running_hub.url), "hub_message_log_failures_total", direction="IN")

    read_only_log.apply()
    request = signed_request(running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
    status, answer = running_hub.post(request)
    assert status == 500
    code, text = fault_of(answer)
    assert code == f"{{{ns.SOAP_ENV_11}}}Server"
    assert "cannot write its message log" in text and "changed nothing" in text

    assert hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "ISSUED"
    assert hub.companies.account(NIP, actor=OPERATOR) == account_before
    # not even the replay cache: the same signed request is served once the log works again
    assert counts(hub.db) == (records_before, signatures_before)
    assert sample(scrape(running_hub.url), "hub_message_log_failures_total", direction="IN") == failures_before + 1

    read_only_log.restore()
    status, answer = running_hub.post(request)
    assert status == 200, fault_of(answer)
    assert hub.coupons.verify(coupon, "1465", actor=OPERATOR).status == "REDEEMED"


def test_a_read_the_log_cannot_record_is_refused_and_its_answer_never_goes_out(running_hub, coupon, read_only_log):
    """On PostgreSQL a read's service runs while its request's record is on its way (one round
    trip for both): what it found must not go out when the record was not made."""
    records_before, signatures_before = counts(running_hub.hub.db)
    read_only_log.apply()
    request = signed_request(running_hub.identity("pojazd-1465"), "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    status, answer = running_hub.post(request)
    assert status == 500
    code, text = fault_of(answer)
    assert code == f"{{{ns.SOAP_ENV_11}}}Server" and "cannot write its message log" in text
    assert answer.find(f".//{{{ns.OFFICE}}}VerifyCouponResponse") is None
    assert "REJ_NEW" not in etree.tostring(answer, encoding="unicode")  # nothing the read found
    assert counts(running_hub.hub.db) == (records_before, signatures_before)
    read_only_log.restore()
    status, answer = running_hub.post(request)  # not a replay: nothing of it was kept
    assert status == 200, fault_of(answer)
    assert answer.findtext(f".//{{{ns.OFFICE}}}Valid") == "true"


def test_the_request_is_logged_before_its_answer_and_both_chain(running_hub, coupon):
    identity = running_hub.identity("pojazd-1465")
    running_hub.post(signed_request(identity, "RedeemCoupon", **redeem_fields(coupon)))
    running_hub.post(signed_request(identity, "RedeemCoupon", **redeem_fields(coupon)))  # a fault, logged too
    with running_hub.hub.db.read() as session:
        records = session.execute(
            select(MessageRecord.direction, MessageRecord.log_id).order_by(MessageRecord.seq)
        ).all()
    assert [d for d, _ in records] == [REQUEST, RESPONSE, REQUEST, RESPONSE]
    assert records[0].log_id == records[1].log_id != records[2].log_id == records[3].log_id
    report = MessageLog(running_hub.hub.db).verify()
    assert (report.ok, report.records) == (True, 4)


def test_a_replay_is_refused_and_logged_once_as_refused(running_hub, coupon):
    request = signed_request(running_hub.identity("pojazd-1465"), "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    assert running_hub.post(request)[0] == 200
    status, answer = running_hub.post(request)
    assert status == 500 and "replay" in fault_of(answer)[1]
    running_hub.hub.answer_records.flush()  # the read's answer record, written with others' (within 0.3 s)
    assert counts(running_hub.hub.db) == (4, 1)

"""/metrics after signed calls: requests by service, operation and fault, latency,
signature failures by reason, open holds and the outbox read at scrape time; and
several gunicorn workers summed in one scrape."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

from lxml import etree

from hub import ns
from hub.ids import format_coupon_id, new_coupon_id
from hub.outbox import enqueue
from tests.support.ops import sample, scrape
from tests.support.served import ServedHub
from tests.support.soap import fault_of, redeem_fields, signed_request
from tests.support.wsgi import RunningHub

REQUESTS = "hub_soap_requests_total"
LATENCY_COUNT = "hub_soap_request_duration_seconds_count"


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return sample(after, name, **labels) - sample(before, name, **labels)


def tampered(request: bytes) -> bytes:
    """The signed request with its office code changed after signing."""
    envelope = etree.fromstring(request)
    envelope.find(f".//{{{ns.OFFICE}}}OfficeCode").text = "1261"
    return etree.tostring(envelope)


def test_signed_calls_are_counted_by_service_operation_and_fault(running_hub, coupon):
    identity = running_hub.identity("pojazd-1465")
    before = scrape(running_hub.url)
    assert sample(before, "hub_coupon_holds_open") == 1
    assert sample(before, "hub_coupon_holds_open_grosze") == 161_50

    assert running_hub.post(signed_request(identity, "VerifyCoupon", CouponId=coupon, OfficeCode="1465"))[0] == 200
    assert running_hub.post(signed_request(identity, "RedeemCoupon", **redeem_fields(coupon)))[0] == 200
    status, again = running_hub.post(signed_request(identity, "RedeemCoupon", **redeem_fields(coupon)))
    assert status == 500 and fault_of(again)[0].endswith("Client.CouponNotRedeemable")
    status, refused = running_hub.post(
        tampered(signed_request(identity, "VerifyCoupon", CouponId=coupon, OfficeCode="1465"))
    )
    assert status == 500 and fault_of(refused)[0] == f"{{{ns.WSSE}}}FailedCheck"
    running_hub.post(b"<not-soap/>")

    after = scrape(running_hub.url)
    office = {"service": "office"}
    assert delta(before, after, REQUESTS, **office, operation="VerifyCoupon", fault="none") == 1
    assert delta(before, after, REQUESTS, **office, operation="RedeemCoupon", fault="none") == 1
    assert delta(before, after, REQUESTS, **office, operation="RedeemCoupon", fault="Client.CouponNotRedeemable") == 1
    assert delta(before, after, REQUESTS, **office, operation="VerifyCoupon", fault="wsse:FailedCheck") == 1
    assert delta(before, after, REQUESTS, **office, operation="unknown", fault="wsse:InvalidSecurity") == 1
    assert delta(before, after, LATENCY_COUNT, **office, operation="RedeemCoupon") == 2
    assert delta(before, after, "hub_signature_failures_total", reason="FailedCheck") == 1
    assert delta(before, after, "hub_signature_failures_total", reason="InvalidSecurity") == 1
    # the redeemed coupon's hold is captured: nothing is held any more
    assert (sample(after, "hub_coupon_holds_open"), sample(after, "hub_coupon_holds_open_grosze")) == (0, 0)
    assert sample(after, "hub_database_up") == 1


def test_an_unknown_operation_name_never_becomes_a_label(running_hub):
    identity = running_hub.identity("pojazd-1465")
    running_hub.post(signed_request(identity, f"Made{uuid.uuid4().hex[:8]}Up", CouponId="X"))
    samples = scrape(running_hub.url)
    office = {
        dict(labels)["operation"]
        for name, labels in samples
        if name == REQUESTS and dict(labels)["service"] == "office"
    }
    assert "unknown" in office
    assert office <= {"unknown", "VerifyCoupon", "RedeemCoupon", "ReverseRedemption", "VerifyPayment"}


def test_outbox_depth_and_age_are_read_at_scrape_time(running_hub):
    hub = running_hub.hub
    created = hub.clock()
    with hub.db.transaction() as session:
        enqueue(session, "ops-test", "one", {"n": 1}, created)
        enqueue(session, "ops-test", "two", {"n": 2}, created)
    samples = scrape(running_hub.url)
    assert sample(samples, "hub_outbox_pending", kind="ops-test") == 2
    age = sample(samples, "hub_outbox_oldest_pending_age_seconds", kind="ops-test")
    assert 0 <= age < 600
    assert sample(samples, "hub_outbox_failed", kind="ops-test") == 0


def test_two_gunicorn_workers_are_summed_in_every_scrape(running_hub, coupon, tmp_path):
    """`hub serve --workers 2`: whichever worker answers /metrics, the counts are those of both."""
    metrics_dir = tmp_path / "metrics"
    hub_process = ServedHub(
        running_hub.config_dir,
        tmp_path / "hub.log",
        workers=2,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    )
    url = hub_process.url
    try:
        served = RunningHub(running_hub.app, url, running_hub.config_dir)
        identity = running_hub.identity("pojazd-1465")
        sent = 0
        for _ in range(20):  # until both workers have counted (the second may boot later under load)
            # distinct requests (the same body signed in the same second would be a replay)
            requests = [
                signed_request(identity, "VerifyCoupon", CouponId=format_coupon_id(new_coupon_id()), OfficeCode="1465")
                for _ in range(8)
            ]
            with ThreadPoolExecutor(4) as pool:  # at once, so that both sync workers take some
                answers = list(pool.map(served.post, requests))
            assert [status for status, _ in answers] == [200] * len(requests), [
                fault_of(a) for s, a in answers if s != 200
            ]
            sent += len(requests)
            counting_pids = {path.stem.rpartition("_")[2] for path in metrics_dir.glob("counter_*.db")}
            if len(counting_pids) == 2:
                break
        assert len(counting_pids) == 2, counting_pids
        counts = {
            sample(scrape(url), REQUESTS, service="office", operation="VerifyCoupon", fault="none") for _ in range(8)
        }
        assert counts == {sent}
    finally:
        hub_process.stop()

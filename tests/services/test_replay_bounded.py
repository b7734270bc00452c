"""The replay cache stays bounded: every signed request adds a row to `seen_signatures`,
and each process forgets the expired ones as it goes (no timer, no operator)."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime

import pytest
from lxml import etree
from sqlalchemy import func, select

from hub.app import Hub, application
from hub.db.replay import PURGE_INTERVAL_S, SeenSignature
from hub.services.wsgi import HubApplication
from hub.signing.keys import SigningIdentity
from hub.signing.sign import sign_envelope
from tests.support import SHIPPED_CONFIG
from tests.support.clock import FakeClock
from tests.support.factories import funded_company, issue
from tests.support.soap import office_request

WINDOW_S = 10  # replay_window_s; clock_skew_s is half of it
STEP_S = 2  # the clock moves this far between requests
REQUESTS = 300  # ten minutes of traffic: ten purge intervals


def _post(app: HubApplication, body: bytes) -> tuple[str, etree._Element]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/soap/office",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/xml; charset=utf-8",
    }
    statuses: list[str] = []
    answer = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0], etree.fromstring(answer)


@pytest.fixture
def clock() -> FakeClock:
    """Now (the dev certificates are valid from when they were made), moved by hand."""
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def pojazd() -> SigningIdentity:
    keys = SHIPPED_CONFIG / "keys"
    return SigningIdentity.load(keys / "pojazd-1465.key", keys / "pojazd-1465.crt")


def _verify_coupon(identity: SigningIdentity, coupon_id: str, now: datetime) -> bytes:
    return etree.tostring(
        sign_envelope(office_request("VerifyCoupon", CouponId=coupon_id, OfficeCode="1465"), identity, now=now)
    )


def _rows(hub: Hub) -> int:
    with hub.db.read() as session:
        return session.scalar(select(func.count()).select_from(SeenSignature))


def test_seen_signatures_stay_bounded_over_a_long_run(shipped_config, db, clock, pojazd):
    security = dataclasses.replace(shipped_config.security, clock_skew_s=WINDOW_S // 2, replay_window_s=WINDOW_S)
    hub = Hub(dataclasses.replace(shipped_config, security=security), clock=clock, db=db)
    app = application(hub)
    funded_company(hub, 500_00)
    coupon_id = issue(hub, 1).coupons[0].coupon_id
    most = 0
    for _ in range(REQUESTS):
        status, answer = _post(app, _verify_coupon(pojazd, coupon_id, clock()))
        assert status == "200 OK" and answer.findtext(".//{*}Status") == "ISSUED", etree.tostring(answer)
        most = max(most, _rows(hub))
        clock.advance(seconds=STEP_S)
    # Rows live for the window and at most one purge interval more.
    bound = (WINDOW_S + PURGE_INTERVAL_S) // STEP_S + 1
    assert most <= bound < REQUESTS
    assert _rows(hub) <= bound


def test_a_replay_inside_the_window_is_still_refused_after_a_purge(shipped_config, db, clock, pojazd):
    hub = Hub(shipped_config, clock=clock, db=db)
    app = application(hub)
    funded_company(hub, 500_00)
    body = _verify_coupon(pojazd, issue(hub, 1).coupons[0].coupon_id, clock())
    assert _post(app, body)[0] == "200 OK"
    clock.advance(seconds=PURGE_INTERVAL_S + 1)  # the next request purges
    status, answer = _post(app, body)
    assert status.startswith("500")
    assert "replay" in answer.findtext(".//faultstring")

"""The requests the hub reads from a plan (hub.services.request_plans) are spyne's: every
request class of every service, read from generated payloads (members left out, empty,
repeated, out of order, in another namespace, unknown, comments among them), gives the object
spyne's own `from_element` gives; what a plan does not cover (an attribute, a processing
instruction, a class with a member that is not a plain string) is left to spyne; and the
endpoint reads its requests through the plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from spyne import Application

from hub import ns
from hub.services.bankin import BankInService
from hub.services.cashdesk import CashDeskService
from hub.services.company import CompanyService
from hub.services.endpoint import TreeSoap11
from hub.services.office import OfficeService
from hub.services.request_plans import RequestPlans
from tests.support.soap import signed_request

SERVICES = [OfficeService, CompanyService, CashDeskService, BankInService]
TEXT = st.none() | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8) | st.just(" \n ")


def requests() -> list[tuple[Application, object]]:
    """(application, request class) for every operation of every service."""
    found = []
    for service in SERVICES:
        app = Application(
            [service],
            tns=f"urn:test:{service.__name__}",
            in_protocol=TreeSoap11(validator=None),
            out_protocol=TreeSoap11(),
        )
        for descriptors in app.interface.service_method_map.values():
            found.extend((app, descriptor.in_message) for descriptor in descriptors)
    return found


REQUESTS = requests()
PLANNED = [(app, cls) for app, cls in REQUESTS if app.in_protocol.request_plans.plan(cls) is not None]


def payload(cls, draw) -> etree._Element:
    """A request element of `cls`: its members' elements drawn in any order, any number of times."""
    namespace = cls.get_namespace()
    element = etree.Element(f"{{{namespace}}}{cls.get_type_name()}")
    names = [*cls.get_flat_type_info(cls), "NotAMember"]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["member", "member", "member", "comment", "foreign"]))
        if kind == "comment":
            element.append(etree.Comment("a comment"))
            continue
        name = draw(st.sampled_from(names))
        child = etree.SubElement(element, f"{{{namespace if kind == 'member' else 'urn:other'}}}{name}")
        child.text = draw(TEXT)
    return element


def state(inst) -> tuple[type, dict]:
    return type(inst), dict(inst.__dict__)


def test_the_contract_s_requests_are_planned() -> None:
    planned = {cls.get_type_name() for _, cls in PLANNED}
    assert {"VerifyCouponRequest", "RedeemCouponRequest", "VerifyPaymentRequest", "IssueCouponsRequest"} <= planned
    assert len(planned) >= 10


@pytest.mark.parametrize(("app", "cls"), PLANNED, ids=lambda v: getattr(v, "get_type_name", lambda: "app")())
@given(data=st.data())
def test_a_planned_request_reads_as_spyne_reads_it(app, cls, data) -> None:
    element = payload(cls, data.draw)
    planned = app.in_protocol.request_plans.read(None, cls, element)
    assert planned is not None
    assert state(planned) == state(app.in_protocol.from_element(None, cls, element))


@pytest.mark.parametrize(
    "xml",
    [
        f'<o:VerifyCouponRequest xmlns:o="{ns.OFFICE}" xmlns:xsi="{ns.XSI}" xsi:nil="true"/>',
        f'<o:VerifyCouponRequest xmlns:o="{ns.OFFICE}" xmlns:xsi="{ns.XSI}">'
        '<o:CouponId xsi:type="xsd:string" xmlns:xsd="http://www.w3.org/2001/XMLSchema">X</o:CouponId>'
        "</o:VerifyCouponRequest>",
        f'<o:VerifyCouponRequest xmlns:o="{ns.OFFICE}"><?pi data?><o:CouponId>X</o:CouponId></o:VerifyCouponRequest>',
    ],
    ids=["xsi-nil", "xsi-type", "processing-instruction"],
)
def test_what_a_plan_does_not_cover_is_left_to_spyne(xml: str) -> None:
    app, cls = next((app, cls) for app, cls in PLANNED if cls.get_type_name() == "VerifyCouponRequest")
    assert app.in_protocol.request_plans.read(None, cls, etree.fromstring(xml)) is None


def test_a_class_with_a_member_that_is_not_a_plain_string_is_left_to_spyne() -> None:
    unplanned = sorted(cls.get_type_name() for app, cls in REQUESTS if (app, cls) not in PLANNED)
    assert unplanned == ["GetCouponsPdfRequest", "RegisterPaymentRequest"]
    app, cls = next((app, cls) for app, cls in REQUESTS if cls.get_type_name() == "RegisterPaymentRequest")
    assert (
        app.in_protocol.request_plans.read(None, cls, etree.Element(f"{{{ns.CASHDESK}}}RegisterPaymentRequest")) is None
    )


def test_the_endpoint_reads_its_requests_through_the_plans(running_hub, coupon, monkeypatch) -> None:
    read = []
    original = RequestPlans.read

    def counted(self, ctx, cls, element):
        inst = original(self, ctx, cls, element)
        read.append((cls.get_type_name(), inst is not None and inst.CouponId))
        return inst

    monkeypatch.setattr(RequestPlans, "read", counted)
    request = signed_request(running_hub.identity("pojazd-1465"), "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    status, response = running_hub.post(request)
    assert status == 200
    assert read == [("VerifyCouponRequest", coupon)]
    assert response.findtext(f".//{{{ns.OFFICE}}}Valid") == "true"

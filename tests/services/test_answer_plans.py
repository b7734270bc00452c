"""The answers the hub writes from a plan (hub.services.answer_plans) are spyne's, byte for
byte: every response class of every service, with generated values (members left out, empty,
repeated, text that needs escaping), through the whole envelope; and what a plan does not
cover is left to spyne, with nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from spyne import Application, MethodContext
from spyne.protocol.soap import Soap11
from spyne.server import ServerBase

from hub.services.bankin import BankInService, SubmitStatementResponse
from hub.services.cashdesk import CashDeskService
from hub.services.company import CompanyService, GetCouponsPdfResponse
from hub.services.endpoint import TreeSoap11
from hub.services.office import OfficeService, PaymentItem, VerifyCouponResponse, VerifyPaymentResponse

SERVICES = [OfficeService, CompanyService, CashDeskService, BankInService]
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12) | st.sampled_from(["", "a<b&c", "Zażółć"])


def application(service) -> Application:
    return Application(
        [service], tns=f"urn:test:{service.__name__}", in_protocol=TreeSoap11(), out_protocol=TreeSoap11()
    )


def answers() -> list[tuple[Application, object]]:
    """(application, method descriptor) for every operation of every service."""
    found = []
    for service in SERVICES:
        app = application(service)
        for descriptors in app.interface.service_method_map.values():
            found.extend((app, descriptor) for descriptor in descriptors)
    return found


ANSWERS = answers()
PLANNED = [(app, d) for app, d in ANSWERS if app.out_protocol.answer_plans.plan(d.out_message) is not None]


def instances(plans, cls) -> st.SearchStrategy:
    """Instances of a planned class: each member None or a value, a repeated one a list."""
    plan = plans.plan(cls)
    fields = {}
    for member in plan.members:
        one = TEXT if member.plan is None else st.deferred(lambda m=member: instances(plans, m.plan.model))
        value = st.lists(one, max_size=3) if member.repeated else one
        fields[member.attribute] = st.none() | value
    return st.builds(lambda **values: plan.model(**values), **fields)


def spyne_and_planned(app: Application, descriptor, inst) -> tuple[bytes, bytes]:
    """The answer envelope as spyne writes it and as TreeSoap11 writes it."""
    written = []
    for serialize in (Soap11.serialize, TreeSoap11.serialize):
        ctx = MethodContext(ServerBase(app), MethodContext.SERVER)
        ctx.descriptor = descriptor
        ctx.out_object = [inst]
        serialize(app.out_protocol, ctx, Soap11.RESPONSE)
        written.append(etree.tostring(ctx.out_document))
    return written[0], written[1]


def test_every_answer_of_strings_has_a_plan():
    unplanned = {d.out_message.__orig__ or d.out_message for app, d in ANSWERS if (app, d) not in PLANNED}
    assert unplanned == {GetCouponsPdfResponse, SubmitStatementResponse}  # a ByteArray, integers: spyne writes them
    assert len(ANSWERS) == 15  # every operation the four services have


@pytest.mark.parametrize(("app", "descriptor"), PLANNED, ids=[d.operation_name for _, d in PLANNED])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_planned_answer_is_spyne_s_byte_for_byte(app, descriptor, data):
    inst = data.draw(instances(app.out_protocol.answer_plans, descriptor.out_message))
    spyne, planned = spyne_and_planned(app, descriptor, inst)
    assert planned == spyne


def test_a_required_member_left_out_is_written_nil_as_spyne_writes_it():
    app, descriptor = next((a, d) for a, d in ANSWERS if d.operation_name == "VerifyCoupon")
    spyne, planned = spyne_and_planned(app, descriptor, VerifyCouponResponse(CouponId="X"))
    assert planned == spyne
    assert b':Valid xmlns:ns0="urn:hub:office:v1" xsi:nil="true"/>' in planned
    assert b"Status" not in planned  # optional: left out


def test_repeated_complex_members_are_written_in_order():
    app, descriptor = next((a, d) for a, d in ANSWERS if d.operation_name == "VerifyPayment")
    plans = app.out_protocol.answer_plans
    payment = plans.plan(descriptor.out_message).members[2].plan.model
    inst = VerifyPaymentResponse(
        Paid="true",
        TotalPaid="3.00",
        Payment=[payment(Item=[PaymentItem(FeeCode="A", Amount="1.00"), PaymentItem(FeeCode="B", Amount="2.00")])],
    )
    spyne, planned = spyne_and_planned(app, descriptor, inst)
    assert planned == spyne
    assert planned.index(b">A<") < planned.index(b">B<")


@pytest.mark.parametrize(
    "inst",
    [
        VerifyCouponResponse(CouponId="X", Valid=Decimal("1")),  # not a string: spyne's own handling
        VerifyCouponResponse(CouponId=b"X", Valid="true"),
        VerifyPaymentResponse(Paid="true", TotalPaid="0.00", Payment="not a list"),
        ["X", "true"],  # spyne turns a sequence into the class; a plan does not
    ],
)
def test_a_value_the_plan_does_not_cover_is_left_to_spyne_with_nothing_written(inst):
    app = application(OfficeService)
    parent = etree.Element("parent")
    cls = VerifyPaymentResponse if isinstance(inst, VerifyPaymentResponse) else VerifyCouponResponse
    assert app.out_protocol.answer_plans.write(cls, inst, parent, "urn:x", "Answer") is False
    assert len(parent) == 0

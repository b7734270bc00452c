"""The hub's SOAP messages (hub.services.spyne_base.Model) are made as spyne's own
ComplexModel.__init__ makes them: every message class of every service, with members given
or left out, holds the same attributes either way; a keyword that names no member is
refused; a model that uses what only spyne's way does (a default) is made spyne's way."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spyne import ComplexModel, Unicode

from hub.services import bankin, cashdesk, company, office
from hub.services.spyne_base import Model, _plain_members

MODELS = sorted(
    (
        cls
        for module in (office, company, cashdesk, bankin)
        for cls in vars(module).values()
        if inspect.isclass(cls) and issubclass(cls, Model) and cls.__module__ == module.__name__
        if cls.get_flat_type_info(cls)
    ),
    key=lambda cls: f"{cls.__module__}.{cls.__name__}",
)


def spyne_made(cls: type[ComplexModel], **values) -> dict:
    """The attributes spyne's own __init__ gives an instance of `cls`."""
    inst = cls.__new__(cls)
    ComplexModel.__init__(inst, **values)
    return dict(inst.__dict__)


def test_every_message_class_is_made_the_quick_way() -> None:
    assert len(MODELS) > 30
    assert [cls.__name__ for cls in MODELS if _plain_members(cls) is None] == []


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
@given(data=st.data())
# A property of the classes, not of the machine's speed: a CI machine busy with the rest of
# the suite once made hypothesis's data generation look too slow and fail the test.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_an_instance_holds_what_spyne_would_give_it(cls, data) -> None:
    members = list(cls.get_flat_type_info(cls))
    given_members = data.draw(st.lists(st.sampled_from(members), unique=True))
    values = {
        name: data.draw(st.none() | st.text(max_size=5) | st.lists(st.text(max_size=3))) for name in given_members
    }
    made = cls(**values)
    assert dict(made.__dict__) == spyne_made(cls, **values)
    assert set(made.__dict__) == set(members)


def test_a_keyword_that_names_no_member_is_refused() -> None:
    with pytest.raises(TypeError, match="VerifyCouponResponse has no member Vaild"):
        office.VerifyCouponResponse(CouponId="X", Vaild="true")


def test_a_model_with_a_default_is_made_spyne_s_way() -> None:
    class WithDefault(Model):
        __namespace__ = "urn:test:models"
        _type_info = [("Status", Unicode(default="ISSUED")), ("Note", Unicode)]

    assert _plain_members(WithDefault) is None
    assert WithDefault().Status == "ISSUED"
    assert WithDefault(Note="n").__dict__ == {"Status": "ISSUED", "Note": "n"}

"""What every spyne service class shares: the caller, the Hub, and domain errors
turned into the contract's faults."""

from __future__ import annotations

import logging
from typing import Any

from spyne import ComplexModel, ServiceBase, rpc
from spyne.model.fault import Fault

from hub.errors import HubError
from hub.services.faults import detail_element, fault_code, server_fault

log = logging.getLogger("hub.soap")


class Model(ComplexModel):
    """The base of the hub's SOAP messages (each service module's `_Model` adds its namespace).
    An instance is made as spyne's own `__init__` makes it, every member of the class None but
    those given by keyword, without the per-member machinery that `__init__` runs (defaults,
    read-only members, XmlData, SQLAlchemy mappings) for models that use none of it, as these
    do: spyne's way cost a VerifyCoupon about 25 µs for its request and its answer. A keyword
    that names no member is refused (spyne would drop it, and the field would be missing from
    the answer unnoticed). A model that does use that machinery is made spyne's way."""

    def __init__(self, *args: Any, **values: Any) -> None:
        members = _plain_members(type(self))
        if members is None or args:
            super().__init__(*args, **values)
            return
        if not values.keys() <= members.keys():
            unknown = ", ".join(sorted(values.keys() - members.keys()))
            raise TypeError(f"{type(self).__name__} has no member {unknown}")
        state = self.__dict__
        state.update(members)
        state.update(values)


_PLAIN_MEMBERS: dict[type, dict[str, None] | None] = {}  # by model: `_plain_members`, found once


def _plain_members(model: type[ComplexModel]) -> dict[str, None] | None:
    """{member: None} for every member of `model`, or None when spyne's `__init__` would do more
    for one of them than set it to None, or to the value given (spyne/model/complex.py)."""
    if model not in _PLAIN_MEMBERS:
        _PLAIN_MEMBERS[model] = _members_if_plain(model)
    return _PLAIN_MEMBERS[model]


def _members_if_plain(model: type[ComplexModel]) -> dict[str, None] | None:
    if model.__orig__ is not None or model.Attributes._xml_tag_body_as is not None:
        return None
    if hasattr(model, "_sa_class_manager"):
        return None
    members = model.get_flat_type_info(model)
    for name, member in members.items():
        attributes = member.Attributes
        if attributes.default is not None or attributes.default_factory is not None or attributes.read_only:
            return None
        if getattr(attributes, "store_as", None) is not None or isinstance(getattr(model, name, None), property):
            return None
    return dict.fromkeys(members)


class HubService(ServiceBase):
    @classmethod
    def call_wrapper(cls, ctx, args=None):
        log_id = ctx.transport.req_env["hub.log_id"]
        try:
            return super().call_wrapper(ctx, args)
        except HubError as error:
            raise _fault(error, log_id) from None
        except Fault:
            raise
        except Exception as error:  # noqa: BLE001 - never a stack trace to the caller
            log.exception("request %s: %s failed", log_id, ctx.method_request_string)
            raise _fault(server_fault(log_id, error), log_id) from None


def _fault(error: HubError, log_id: str) -> Fault:
    _, local = fault_code(error)
    return Fault(faultcode=local, faultstring=error.message, detail=detail_element(error, log_id))


def operation(name: str, request: type, response: type):
    """A contract operation: document/literal, the bare request element in, the
    response element out, both named after the operation (CONTRACT.md)."""
    return rpc(
        request,
        _returns=response,
        _body_style="bare",
        _operation_name=name,
        _in_message_name=f"{name}Request",
        _out_message_name=f"{name}Response",
    )


def caller(ctx):
    """The verified client (hub.signing.trust.TrustedClient)."""
    return ctx.transport.req_env["hub.client"]


def hub_of(ctx):
    return ctx.transport.req_env["hub.context"]["hub"]


def optional(value, convert):
    """An optional field: None stays None, anything else is converted."""
    return None if value is None else convert(value)

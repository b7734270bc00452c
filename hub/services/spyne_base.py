"""What every spyne service class shares: the caller, the Hub, and domain errors
turned into the contract's faults."""

from __future__ import annotations

import logging

from spyne import ServiceBase, rpc
from spyne.model.fault import Fault

from hub.errors import HubError
from hub.services.faults import detail_element, fault_code, server_fault

log = logging.getLogger("hub.soap")


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

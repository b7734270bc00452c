"""Every error becomes a SOAP 1.1 fault here, in one place (contract section 3).

Security refusals carry the WS-Security 1.1 codes (`wsse:FailedCheck`...);
SOAP 1.1 processing refusals `soap:VersionMismatch` and `soap:MustUnderstand`;
domain errors `soap:Client.<Code>` with a FaultDetail holding `Code`, the
contract's fields and the log id; anything else `soap:Server`, whose
faultstring quotes the log id so support can find the message log record.
"""

from __future__ import annotations

from lxml import etree

from hub import ns
from hub.db.database import unavailable
from hub.errors import HubError
from hub.signing.faults import SecurityFault

DETAIL_FIELDS = ("Available", "Required", "Reason", "Element")


class ServerFault(HubError):
    code = "Server"


class SoapProcessingFault(HubError):
    """The envelope itself breaks the SOAP 1.1 processing rules (hub.services.soap11); the
    faultcode is `soap:<code>` and there is no detail (SOAP 1.1 section 4.4: detail is for
    errors in the Body)."""


class VersionMismatch(SoapProcessingFault):
    code = "VersionMismatch"


class MustUnderstand(SoapProcessingFault):
    code = "MustUnderstand"


def server_fault(log_id: str, error: BaseException | None = None) -> ServerFault:
    """soap:Server for an unexpected `error`; when the database failed, the caller is told to
    try again (a request with a RequestId takes effect once, however often it is sent)."""
    if error is not None and unavailable(error):
        return ServerFault(
            f"The hub's database did not complete the request (it may be restarting); try again shortly, with the "
            f"same RequestId if the request has one (it takes effect only once); "
            f"quote {log_id} to support if it persists."
        )
    return ServerFault(f"The hub could not complete the request; quote {log_id} to support.")


def fault_code(error: HubError) -> tuple[str, str]:
    """(namespace, local name) of the faultcode."""
    if isinstance(error, SecurityFault):
        return error.qname
    if isinstance(error, SoapProcessingFault):
        return ns.SOAP_ENV_11, error.code
    if isinstance(error, ServerFault) or error.code == "Server":
        return ns.SOAP_ENV_11, "Server"
    return ns.SOAP_ENV_11, f"Client.{error.code}"


def detail_element(error: HubError, log_id: str) -> etree._Element:
    c = f"{{{ns.COMMON}}}"
    detail = etree.Element(c + "FaultDetail", nsmap={"c": ns.COMMON})
    etree.SubElement(detail, c + "Code").text = error.code
    for name in DETAIL_FIELDS:
        if name in error.detail:
            etree.SubElement(detail, c + name).text = str(error.detail[name])
    etree.SubElement(detail, c + "RequestId").text = log_id
    return detail


def fault_envelope(error: HubError, log_id: str) -> etree._Element:
    """A complete SOAP envelope with the fault; the caller signs it."""
    soap = f"{{{ns.SOAP_ENV_11}}}"
    code_ns, code_local = fault_code(error)
    prefixes = {ns.SOAP_ENV_11: "soap", ns.WSSE: "wsse", ns.WSU: "wsu"}
    envelope = etree.Element(soap + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, prefixes[code_ns]: code_ns})
    body = etree.SubElement(envelope, soap + "Body")
    fault = etree.SubElement(body, soap + "Fault")
    etree.SubElement(fault, "faultcode").text = f"{prefixes[code_ns]}:{code_local}"
    etree.SubElement(fault, "faultstring").text = error.message
    if not isinstance(error, (SecurityFault, SoapProcessingFault)):
        etree.SubElement(fault, "detail").append(detail_element(error, log_id))
    return envelope

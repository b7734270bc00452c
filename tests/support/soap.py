"""SOAP requests as the shipped config's clients send them (office systems and the COMPANY
client leasing-7010254361), signed with its dev certificates, and faults read back."""

from __future__ import annotations

import uuid

from lxml import etree

from hub import ns
from hub.services.endpoint import contract_schema
from hub.signing.keys import SigningIdentity
from hub.signing.sign import sign_envelope

SOAP = f"{{{ns.SOAP_ENV_11}}}"
C = f"{{{ns.COMPANY}}}"
CLIENT_ID = "leasing-7010254361"
MY_NIP = "7010254361"  # the client's company_nip in config/clients.toml


def office_request(operation: str, **fields) -> etree._Element:
    """An unsigned SOAP envelope with <operation>Request in the office namespace."""
    soap, o = f"{{{ns.SOAP_ENV_11}}}", f"{{{ns.OFFICE}}}"
    envelope = etree.Element(soap + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "o": ns.OFFICE})
    etree.SubElement(envelope, soap + "Header")
    request = etree.SubElement(etree.SubElement(envelope, soap + "Body"), o + operation + "Request")
    for name, value in fields.items():
        etree.SubElement(request, o + name).text = value
    return envelope


def CLIENT(code: str) -> str:  # noqa: N802 - reads as the faultcode it names
    """The faultcode of a domain fault, as `fault_of` gives it: `{soap}Client.<code>`."""
    return f"{{{ns.SOAP_ENV_11}}}Client.{code}"


def signed_request(identity: SigningIdentity, operation: str, **fields) -> bytes:
    return etree.tostring(sign_envelope(office_request(operation, **fields), identity))


def redeem_fields(coupon_id: str, **extra) -> dict:
    return {
        "RequestId": str(uuid.uuid4()),
        "CouponId": coupon_id,
        "OfficeCode": "1465",
        "CaseNumber": "WK.5410.7.2026",
        "CaseType": "REJ_NEW",
        **extra,
    }


def issue_fields(count: int, **extra) -> dict:
    """IssueCoupons' fields: `count` REJ_NEW coupons for the client's own company, under a new RequestId."""
    return {"RequestId": str(uuid.uuid4()), "CompanyNip": MY_NIP, "CaseType": "REJ_NEW", "Count": count, **extra}


def fault_of(response: etree._Element) -> tuple[str, str]:
    fault = response.find(f"{{{ns.SOAP_ENV_11}}}Body/{{{ns.SOAP_ENV_11}}}Fault")
    assert fault is not None, etree.tostring(response)
    code = fault.findtext("faultcode")
    prefix, _, local = code.partition(":")
    return f"{{{fault.nsmap.get(prefix) or response.nsmap.get(prefix)}}}{local}", fault.findtext("faultstring")


def company_request(operation: str, **fields) -> etree._Element:
    """An unsigned SOAP envelope with <operation>Request in the company namespace;
    a list value repeats its element."""
    envelope = etree.Element(SOAP + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "c": ns.COMPANY})
    etree.SubElement(envelope, SOAP + "Header")
    request = etree.SubElement(etree.SubElement(envelope, SOAP + "Body"), C + operation + "Request")
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            etree.SubElement(request, C + name).text = str(one)
    return envelope


def call(running_hub, operation: str, client_id: str = CLIENT_ID, **fields) -> tuple[int, etree._Element]:
    """POST a signed request; returns (HTTP status, the response payload or the envelope of a fault)."""
    signed = sign_envelope(company_request(operation, **fields), running_hub.identity(client_id))
    status, response = running_hub.post(etree.tostring(signed), path="/soap/company")
    if status != 200:
        return status, response
    payload = response.find(f"{SOAP}Body")[0]
    contract_schema("company").assertValid(payload)
    return status, payload


def ok(running_hub, operation: str, **fields) -> etree._Element:
    status, payload = call(running_hub, operation, **fields)
    assert status == 200, fault_of(payload)
    return payload

"""The SOAP 1.1 processing rules the hub applies to every request before anything else
(SOAP 1.1 sections 4.2.3 and 4.4.1):

| the envelope                                                        | fault               |
| ------------------------------------------------------------------- | ------------------- |
| root `Envelope` in another namespace than SOAP 1.1's (SOAP 1.2: the  | soap:VersionMismatch |
|   hub speaks SOAP 1.1 only)                                          |                     |
| a header block meant for the hub (no `soap:actor`, or the `next`     | soap:MustUnderstand |
|   actor) with `soap:mustUnderstand="1"` that the hub does not process |                     |

The hub processes one header block: wsse:Security (hub.signing). Any other header (WS-Addressing,
a vendor's session header) is ignored unless it is marked mustUnderstand; then the request is
refused before it is verified or served, so nothing changes. Like every answer, the fault is
signed and kept in the message log.
"""

from __future__ import annotations

from lxml import etree

from hub import ns
from hub.services.faults import MustUnderstand, VersionMismatch

HEADER = f"{{{ns.SOAP_ENV_11}}}Header"
MUST_UNDERSTAND = f"{{{ns.SOAP_ENV_11}}}mustUnderstand"
ACTOR = f"{{{ns.SOAP_ENV_11}}}actor"
NEXT_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"
SOAP_12 = "http://www.w3.org/2003/05/soap-envelope"
UNDERSTOOD = frozenset({f"{{{ns.WSSE}}}Security"})


def check_envelope(envelope: etree._Element) -> None:
    """Raise VersionMismatch or MustUnderstand as the table says; otherwise return."""
    name = etree.QName(envelope)
    if name.localname == "Envelope" and name.namespace != ns.SOAP_ENV_11:
        version = "a SOAP 1.2 envelope" if name.namespace == SOAP_12 else f"an Envelope in namespace {name.namespace}"
        raise VersionMismatch(
            f"The message is {version}; the hub speaks SOAP 1.1 only "
            f"(namespace {ns.SOAP_ENV_11}, Content-Type text/xml)."
        )
    for header in envelope.iterchildren(HEADER):
        for block in header.iterchildren(etree.Element):
            if block.tag in UNDERSTOOD or block.get(ACTOR, NEXT_ACTOR) != NEXT_ACTOR:
                continue
            if block.get(MUST_UNDERSTAND, "0").strip() in ("1", "true"):
                raise MustUnderstand(
                    f'The header {block.tag} is marked soap:mustUnderstand="1" and the hub does not process it; '
                    "it processes wsse:Security only. Leave the header out (for WS-Addressing: turn it off)."
                )

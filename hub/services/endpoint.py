"""One SOAP endpoint as a WSGI application, security first.

    raw bytes (size limit) -> hardened parse -> strict WS-Security verification
    -> caller's kind allowed here? -> XSD validation of the signed payload
    -> spyne service (sees only the verified payload) -> response or fault
    -> signed by the hub -> message log (as received, as sent)

spyne's own validator would run before any hook of ours, so spyne gets a
fresh envelope holding only the verified, validated payload. `GET ?wsdl` and
`GET ?xsd=NAME` serve the published contract files with real addresses.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

from lxml import etree
from spyne import Application
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from hub import ns
from hub.audit.messagelog import REQUEST, RESPONSE, Entry, MessageLog
from hub.clock import Clock
from hub.errors import HubError, InvalidRequest, NotAuthorized, SchemaViolation
from hub.services.faults import fault_envelope, server_fault
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.sign import sign_envelope
from hub.signing.trust import TrustStore
from hub.signing.verify import ReplayCache, verify_envelope
from hub.xmlsafe import parse_xml

log = logging.getLogger("hub.soap")
logging.getLogger("spyne.application").setLevel(logging.CRITICAL)  # faults are ours to log
logging.getLogger("spyne.application.server").setLevel(logging.CRITICAL)

CONTRACT = Path(__file__).resolve().parent.parent
SPYNE_RESPONSE_BYTES_MAX = 64 * 1024 * 1024  # our own answers (a 1,000-page PDF is large)


@dataclass(frozen=True)
class Security:
    trust: TrustStore
    policy: SignaturePolicy
    replay: ReplayCache
    identity: SigningIdentity
    request_bytes_max: int
    xml_depth_max: int


def contract_schema(service: str) -> etree.XMLSchema:
    """The published XSD (trusted local files; imports resolve beside it)."""
    return etree.XMLSchema(etree.parse(str(CONTRACT / "xsd" / f"{service}.xsd")))


class SoapEndpoint:
    def __init__(
        self,
        service: str,
        namespace: str,
        spyne_services: Iterable[type],
        kinds: frozenset[str],
        security: Security,
        message_log: MessageLog,
        clock: Clock,
        context: dict | None = None,
    ) -> None:
        self.service = service
        self.kinds = kinds
        self.security = security
        self.message_log = message_log
        self.clock = clock
        self.context = context or {}
        self.schema = contract_schema(service)
        app = Application(list(spyne_services), tns=namespace, in_protocol=Soap11(validator=None), out_protocol=Soap11())
        self.spyne = WsgiApplication(app)

    # -- WSGI -------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable):
        if environ["REQUEST_METHOD"] == "GET":
            return self._describe(environ, start_response)
        if environ["REQUEST_METHOD"] != "POST":
            start_response("405 Method Not Allowed", [("Allow", "GET, POST")])
            return [b""]
        return self._serve(environ, start_response)

    def _serve(self, environ: dict, start_response: Callable):
        log_id = str(uuid.uuid4())
        received_at = self.clock()
        raw, client_id = b"", "-"
        try:
            raw = _read_body(environ, self.security.request_bytes_max)
            envelope = parse_xml(raw, bytes_max=self.security.request_bytes_max, depth_max=self.security.xml_depth_max)
            verified = verify_envelope(envelope, self.security.trust, self.security.policy, self.security.replay, received_at)
            client_id = verified.client.id
            if verified.client.kind not in self.kinds:
                raise NotAuthorized(f"a {verified.client.kind} client may not call the {self.service} service")
            payload = self._validated_payload(verified.body)
            response = self._call_spyne(environ, payload, verified.client, log_id)
        except HubError as error:
            response = fault_envelope(error, log_id)
        except Exception:  # noqa: BLE001 - never a stack trace to the caller
            log.exception("request %s to %s failed", log_id, self.service)
            response = fault_envelope(server_fault(log_id), log_id)
        body = etree.tostring(sign_envelope(response, self.security.identity, now=self.clock()), xml_declaration=True, encoding="UTF-8")
        self.message_log.append(
            Entry(received_at, REQUEST, self.service, client_id, log_id, raw),
            Entry(self.clock(), RESPONSE, self.service, client_id, log_id, body),
        )
        is_fault = response.find(f"{{{ns.SOAP_ENV_11}}}Body/{{{ns.SOAP_ENV_11}}}Fault") is not None
        start_response(
            "500 Internal Server Error" if is_fault else "200 OK",
            [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body))), ("X-Hub-Request-Id", log_id)],
        )
        return [body]

    def _validated_payload(self, body: etree._Element) -> etree._Element:
        children = [c for c in body if isinstance(c.tag, str)]
        if len(children) != 1:
            raise SchemaViolation(f"the soap:Body must hold exactly one request element, it holds {len(children)}")
        payload = children[0]
        if not self.schema.validate(payload):
            error = self.schema.error_log.last_error
            raise SchemaViolation(f"{etree.QName(payload).localname}: {error.message} (line {error.line})", Element=etree.QName(payload).localname)
        return payload

    def _call_spyne(self, environ: dict, payload: etree._Element, client, log_id: str) -> etree._Element:
        envelope = etree.Element(f"{{{ns.SOAP_ENV_11}}}Envelope", nsmap={"soap": ns.SOAP_ENV_11})
        etree.SubElement(envelope, f"{{{ns.SOAP_ENV_11}}}Body").append(payload)
        data = etree.tostring(envelope)
        inner = {
            **environ,
            "wsgi.input": io.BytesIO(data),
            "CONTENT_LENGTH": str(len(data)),
            "CONTENT_TYPE": "text/xml; charset=utf-8",
            "QUERY_STRING": "",
            "hub.client": client,
            "hub.log_id": log_id,
            "hub.context": self.context,
        }
        chunks: list[bytes] = []
        answer = b"".join(self.spyne(inner, lambda status, headers, exc_info=None: chunks.append(status.encode())))
        return parse_xml(answer, bytes_max=SPYNE_RESPONSE_BYTES_MAX, depth_max=self.security.xml_depth_max)

    # -- the published contract ---------------------------------------------

    def _describe(self, environ: dict, start_response: Callable):
        query = environ.get("QUERY_STRING", "")
        base = _own_url(environ)
        if query.lower() == "wsdl":
            return _xml(start_response, self._wsdl(base))
        if query.startswith("xsd="):
            name = query[4:]
            if name in self._xsd_files:
                return _xml(start_response, _rewrite_locations(self._xsd_files[name], base))
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"GET ?wsdl for the service description\n"]

    @cached_property
    def _xsd_files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (CONTRACT / "xsd").glob("*.xsd")}

    def _wsdl(self, base: str) -> bytes:
        tree = etree.fromstring((CONTRACT / "wsdl" / f"{self.service}.wsdl").read_bytes())
        for address in tree.iter(f"{{{ns.WSDL_SOAP}}}address"):
            address.set("location", base)
        return _rewrite_locations(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), base)


def _rewrite_locations(document: bytes, base: str) -> bytes:
    """schemaLocation="../xsd/office.xsd" or "common.xsd" -> "<endpoint>?xsd=office.xsd"."""
    tree = etree.fromstring(document)
    for element in tree.iter(f"{{{ns.XSD}}}import", f"{{{ns.XSD}}}include"):
        location = element.get("schemaLocation")
        if location:
            element.set("schemaLocation", f"{base}?xsd={Path(location).name}")
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _own_url(environ: dict) -> str:
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"


def _xml(start_response: Callable, body: bytes):
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ: dict, bytes_max: int) -> bytes:
    """At most bytes_max + 1 bytes are read, whatever Content-Length claims."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidRequest("Content-Length is not a number") from None
    if declared > bytes_max:
        raise InvalidRequest(f"the request is {declared} bytes; the limit is {bytes_max} bytes")
    data = environ["wsgi.input"].read(min(declared, bytes_max + 1) if declared else bytes_max + 1)
    if len(data) > bytes_max:
        raise InvalidRequest(f"the request is over the limit of {bytes_max} bytes")
    return data

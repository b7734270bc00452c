"""TreeSoap11 hands spyne the envelope `SoapEndpoint.call_service` built around the verified
payload as a tree, taken apart without spyne's XPath queries: the service gets what spyne's
own parse of the same envelope's bytes gives it, and answers the same."""

from __future__ import annotations

import io

from lxml import etree
from spyne import Application, Integer, ServiceBase, Unicode, rpc
from spyne.server.wsgi import WsgiApplication

from hub import ns
from hub.services.endpoint import ANSWER_ENVELOPE, VERIFIED_ENVELOPE, TreeSoap11

TNS = "urn:test:tree"


class Echo(ServiceBase):
    @rpc(Unicode, Integer, _returns=Unicode)
    def Echo(ctx, text, count):  # noqa: N802, N805 - spyne's operation, its context first
        return f"{text}|{count}|header {ctx.in_header_doc}|{etree.QName(ctx.in_body_doc).localname}"


def served(environ: dict) -> tuple[list[etree._Element], bytes]:
    app = WsgiApplication(Application([Echo], tns=TNS, in_protocol=TreeSoap11(), out_protocol=TreeSoap11()))
    answers: list[etree._Element] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "hub",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        ANSWER_ENVELOPE: answers,
        **environ,
    }
    body = b"".join(app(environ, lambda *args: None))
    return answers, body


def envelope() -> etree._Element:
    return etree.fromstring(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}"><soap:Body><t:Echo xmlns:t="{TNS}">'
        "<t:text>Zażółć &amp; gęślą</t:text><t:count>7</t:count></t:Echo></soap:Body></soap:Envelope>"
    )


def test_a_tree_reaches_the_service_as_its_bytes_would():
    raw = etree.tostring(envelope())
    from_bytes, _ = served({"wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))})
    from_tree, _ = served({VERIFIED_ENVELOPE: envelope(), "wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "0"})
    assert len(from_bytes) == len(from_tree) == 1
    assert etree.tostring(from_tree[0], method="c14n") == etree.tostring(from_bytes[0], method="c14n")
    assert from_tree[0].findtext(f".//{{{TNS}}}EchoResult") == "Zażółć & gęślą|7|header None|Echo"

"""OfficeService over real HTTP on 127.0.0.1: accepted clients, signed answers,
and every refusal with the contract's fault and no state change."""

from __future__ import annotations

import copy
import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import zeep
from lxml import etree
from zeep.plugins import HistoryPlugin

from hub import ns
from hub.services.endpoint import contract_schema
from hub.signing.devcerts import self_signed, write_pem
from hub.signing.keys import SigningIdentity
from hub.signing.sign import sign_envelope
from hub.signing.zeep_plugin import HubSignature
from tests.support.cli import client_options
from tests.support.factories import NIP, OPERATOR
from tests.support.signing import require_tool
from tests.support.soap import CLIENT, fault_of, office_request, redeem_fields, signed_request

SOAP = f"{{{ns.SOAP_ENV_11}}}"
WSSE = f"{{{ns.WSSE}}}"


def hub_client(running_hub, client_id="pojazd-1465", history=None):
    wsse = HubSignature.pinned(running_hub.identity(client_id), running_hub.hub_cert, "hub")
    return zeep.Client(running_hub.url + "/soap/office?wsdl", wsse=wsse, plugins=[history] if history else [])


def unchanged(running_hub, coupon_id):
    """The coupon is still issued and its hold in place: nothing happened."""
    check = running_hub.hub.coupons.verify(coupon_id, "1465", actor=OPERATOR)
    account = running_hub.hub.companies.account(NIP, actor=OPERATOR)
    return check.status == "ISSUED" and account.held_grosze == 161_50 and account.posted_grosze == 500_00


def test_hub_client_prints_the_current_fee(running_hub, coupon):
    from click.testing import CliRunner

    from hub.app import cli

    options = client_options(running_hub)
    result = CliRunner().invoke(cli, ["client", "verify-coupon", *options, "--coupon", coupon, "--office", "1465"])
    assert result.exit_code == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert (lines["Amount"], lines["CurrentFee"]) == ("161.50", "161.50")


def test_the_hubs_own_zeep_client_verifies_and_redeems(running_hub, coupon):
    history = HistoryPlugin()
    client = hub_client(running_hub, history=history)
    check = client.service.VerifyCoupon(CouponId=coupon.lower().replace("-", ""), OfficeCode="1465")
    assert (check.CouponId, check.Valid, check.Status, check.Amount, check.PayerNip) == (
        coupon,
        True,
        "ISSUED",
        Decimal("161.50"),
        NIP,
    )
    assert check.CurrentFee == Decimal("161.50")  # the case type's fee today, after the original elements
    response_body = history.last_received["envelope"].find(f"{SOAP}Body")[0]
    contract_schema("office").assertValid(response_body)

    r = client.service.RedeemCoupon(**redeem_fields(coupon, Amount=Decimal("100.00")))
    assert (r.CouponId, r.CapturedAmount, r.ReleasedAmount) == (coupon, Decimal("100.00"), Decimal("61.50"))
    contract_schema("office").assertValid(history.last_received["envelope"].find(f"{SOAP}Body")[0])
    assert running_hub.hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 400_00

    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.RedeemCoupon(**redeem_fields(coupon))
    assert fault.value.code.endswith("Client.CouponNotRedeemable")
    detail = fault.value.detail.find(f"{{{ns.COMMON}}}FaultDetail")
    assert (detail.findtext(f"{{{ns.COMMON}}}Code"), detail.findtext(f"{{{ns.COMMON}}}Reason")) == (
        "CouponNotRedeemable",
        "REDEEMED",
    )


def test_a_plain_zeep_binary_signature_with_timestamp_is_accepted(running_hub, coupon):
    import xmlsec
    from zeep.wsse import Compose
    from zeep.wsse import utils as wsse_utils
    from zeep.wsse.signature import BinarySignature

    class Timestamp:
        def apply(self, envelope, headers):
            created = datetime.now(UTC)
            wsse_utils.get_security_header(envelope).append(
                wsse_utils.WSU.Timestamp(
                    wsse_utils.WSU.Created(wsse_utils.get_timestamp(created, zulu_timestamp=True)),
                    wsse_utils.WSU.Expires(
                        wsse_utils.get_timestamp(created + timedelta(minutes=5), zulu_timestamp=True)
                    ),
                )
            )
            return envelope, headers

        def verify(self, envelope):
            return envelope

    keys = running_hub.config_dir / "keys"
    signature = BinarySignature(
        str(keys / "pojazd-1465.key"),
        str(keys / "pojazd-1465.crt"),
        signature_method=xmlsec.Transform.RSA_SHA256,
        digest_method=xmlsec.Transform.SHA256,
    )
    # zeep would check the answer with the client's own certificate; the hub signs with its own.
    plain = zeep.Client(running_hub.url + "/soap/office?wsdl", wsse=Compose([Timestamp(), _SignOnly(signature)]))
    check = plain.service.VerifyCoupon(CouponId=coupon, OfficeCode="1465")
    assert check.Valid is True


class _SignOnly:
    def __init__(self, signature):
        self.signature = signature

    def apply(self, envelope, headers):
        return self.signature.apply(envelope, headers)

    def verify(self, envelope):
        return envelope


def test_answers_and_faults_verify_with_xmlsec1(running_hub, coupon, tmp_path):
    require_tool(
        shutil.which("xmlsec1") is not None, "xmlsec1 (apt-get install xmlsec1; .ci/run does)"
    )  # CI fails, never skips
    identity = running_hub.identity("pojazd-1465")
    for fields in ({"CouponId": coupon, "OfficeCode": "1465"}, {"CouponId": coupon, "OfficeCode": "1261"}):
        _, response = running_hub.post(signed_request(identity, "VerifyCoupon", **fields))
        path = tmp_path / "answer.xml"
        path.write_bytes(etree.tostring(response))
        result = subprocess.run(
            [
                "xmlsec1",
                "--verify",
                "--id-attr:Id",
                "Body",
                "--id-attr:Id",
                "Timestamp",
                "--pubkey-cert-pem",
                str(running_hub.config_dir / "keys" / "hub.crt"),
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr


# -- refusals: the contract's fault, and nothing changes ---------------------


def _resign_with(running_hub, tmp_path, **cert_options) -> SigningIdentity:
    key, cert = self_signed("pojazd-1465", **cert_options)
    key_path, cert_path = write_pem(tmp_path, f"rogue-{uuid.uuid4().hex[:6]}", key, cert)
    return SigningIdentity.load(key_path, cert_path)


def attack(name, running_hub, coupon, tmp_path) -> bytes:
    identity = running_hub.identity("pojazd-1465")

    def message():
        return sign_envelope(office_request("RedeemCoupon", **redeem_fields(coupon)), identity)

    if name == "unsigned":
        return etree.tostring(office_request("RedeemCoupon", **redeem_fields(coupon)))
    if name == "tampered body":
        m = message()
        m.find(f".//{{{ns.OFFICE}}}CaseNumber").text = "forged"
        return etree.tostring(m)
    if name == "unknown certificate":
        return etree.tostring(
            sign_envelope(office_request("RedeemCoupon", **redeem_fields(coupon)), _resign_with(running_hub, tmp_path))
        )
    if name == "client not allowed here":
        return signed_request(running_hub.identity("kasa-1465-01"), "RedeemCoupon", **redeem_fields(coupon))
    if name == "stale timestamp":
        return etree.tostring(
            sign_envelope(
                office_request("RedeemCoupon", **redeem_fields(coupon)),
                identity,
                now=datetime.now(UTC) - timedelta(hours=2),
            )
        )
    if name == "future timestamp":
        return etree.tostring(
            sign_envelope(
                office_request("RedeemCoupon", **redeem_fields(coupon)),
                identity,
                now=datetime.now(UTC) + timedelta(hours=2),
            )
        )
    if name == "body moved into a header element":
        m = message()
        body = m.find(f"{SOAP}Body")
        wrapper = etree.SubElement(m.find(f"{SOAP}Header"), "{urn:evil}Wrapper")
        forged = copy.deepcopy(body)
        forged.find(f".//{{{ns.OFFICE}}}CaseNumber").text = "forged"
        m.append(forged)
        wrapper.append(body)
        return etree.tostring(m)
    if name == "body moved into wsse:Security":
        m = message()
        body = m.find(f"{SOAP}Body")
        forged = copy.deepcopy(body)
        m.append(forged)
        m.find(f".//{WSSE}Security").append(body)
        return etree.tostring(m)
    if name == "body moved into ds:Object":
        m = message()
        body = m.find(f"{SOAP}Body")
        m.append(copy.deepcopy(body))
        etree.SubElement(m.find(f".//{{{ns.DS}}}Signature"), f"{{{ns.DS}}}Object").append(body)
        return etree.tostring(m)
    if name in ("duplicate id before", "duplicate id after"):
        m = message()
        body = m.find(f"{SOAP}Body")
        twin = etree.Element("{urn:evil}Twin")
        twin.set(f"{{{ns.WSU}}}Id", body.get(f"{{{ns.WSU}}}Id"))
        header = m.find(f"{SOAP}Header")
        header.insert(0, twin) if name.endswith("before") else header.append(twin)
        return etree.tostring(m)
    if name == "signed timestamp wrapped, fresh one added":
        m = message()
        security = m.find(f".//{WSSE}Security")
        timestamp = security.find(f"{{{ns.WSU}}}Timestamp")
        fresh = copy.deepcopy(timestamp)
        del fresh.attrib[f"{{{ns.WSU}}}Id"]
        etree.SubElement(security, "{urn:evil}Wrapper").append(timestamp)
        security.insert(0, fresh)
        return etree.tostring(m)
    if name == "dtd":
        return b'<?xml version="1.0"?><!DOCTYPE x [<!ELEMENT x ANY>]>' + etree.tostring(message())
    if name == "second body":
        m = message()
        m.append(copy.deepcopy(m.find(f"{SOAP}Body")))
        return etree.tostring(m)
    if name == "xxe":
        return (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>&e;</soap:Body></soap:Envelope>'
        )
    if name == "billion laughs":
        entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
        return f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY l0 "lol">{entities}]><x>&l9;</x>'.encode()
    if name == "oversize":
        return b"<x>" + b"a" * 1_100_000 + b"</x>"
    if name == "deep nesting":
        return b"<a>" * 5000 + b"</a>" * 5000
    raise AssertionError(name)


@pytest.mark.parametrize(
    "name,fault",
    [
        ("unsigned", f"{WSSE}InvalidSecurity"),
        ("tampered body", f"{WSSE}FailedCheck"),
        ("unknown certificate", f"{WSSE}FailedAuthentication"),
        ("client not allowed here", CLIENT("NotAuthorized")),
        ("stale timestamp", f"{{{ns.WSU}}}MessageExpired"),
        ("future timestamp", f"{{{ns.WSU}}}MessageExpired"),
        ("body moved into a header element", f"{WSSE}InvalidSecurity"),
        ("body moved into wsse:Security", f"{WSSE}InvalidSecurity"),
        ("second body", f"{WSSE}InvalidSecurity"),
        ("body moved into ds:Object", f"{WSSE}InvalidSecurity"),
        ("duplicate id before", f"{WSSE}InvalidSecurity"),
        ("duplicate id after", f"{WSSE}InvalidSecurity"),
        ("signed timestamp wrapped, fresh one added", f"{WSSE}InvalidSecurity"),
        ("dtd", CLIENT("InvalidRequest")),
        ("xxe", CLIENT("InvalidRequest")),
        ("billion laughs", CLIENT("InvalidRequest")),
        ("oversize", CLIENT("InvalidRequest")),
        ("deep nesting", CLIENT("InvalidRequest")),
    ],
)
def test_refused_with_the_contracts_fault_and_no_state_change(running_hub, coupon, tmp_path, name, fault):
    status, response = running_hub.post(attack(name, running_hub, coupon, tmp_path))
    code, text = fault_of(response)
    assert (status, code) == (500, fault), text
    assert "Traceback" not in text and text
    assert unchanged(running_hub, coupon)


def _sent_by_hand(url: str, head_length: int, body: bytes, slowly: bool) -> tuple[float, bytes]:
    """POST `body` under a Content-Length of `head_length` on a socket of its own, then
    read the answer to the end: (seconds it took, the answer's bytes)."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(
            f"POST /soap/office HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f"Content-Length: {head_length}\r\nConnection: close\r\n\r\n".encode()
        )
        for start in range(0, len(body), 65536):
            sock.sendall(body[start : start + 65536])
            if slowly:
                time.sleep(0.01)  # the hub has answered by the time most of it is sent
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return time.monotonic() - started, answer


def test_a_body_over_the_limit_is_read_to_its_end_so_its_sender_gets_the_fault(running_hub):
    """The server closes the connection after its fault: with the body's bytes unread the
    close resets it, and a client still sending (as a slow one is) never reads the fault."""
    body = b"<x>" + b"a" * 1_500_000 + b"</x>"
    for _ in range(3):
        _, answer = _sent_by_hand(running_hub.url, len(body), body, slowly=True)
        assert answer.startswith(b"HTTP/1.0 500") or answer.startswith(b"HTTP/1.1 500"), answer[:200]
        assert b"the limit is 1000000 bytes" in answer


def test_a_body_declared_far_over_the_limit_is_refused_without_being_read(running_hub):
    """One declared over OVERSIZE_DRAINED_UP_TO times the limit is not waited for: the fault
    goes out at once, however much the client says it will send."""
    seconds, answer = _sent_by_hand(running_hub.url, 100_000_000, b"<x>", slowly=False)
    assert b"500" in answer.split(b"\r\n", 1)[0] and b"100000000 bytes" in answer
    assert seconds < 5  # not the body deadline's 10 s


def test_a_captured_request_replayed_is_refused(running_hub, coupon):
    request = signed_request(running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
    status, _ = running_hub.post(request)
    assert status == 200
    status, response = running_hub.post(request)
    code, text = fault_of(response)
    assert code in (f"{WSSE}FailedCheck", f"{WSSE}InvalidSecurity") and "replay" in text.lower()
    assert running_hub.hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 500_00 - 161_50


def test_schema_violation_names_the_element_and_changes_nothing(running_hub, coupon):
    request = signed_request(
        running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon, Amount="1.234")
    )
    status, response = running_hub.post(request)
    code, text = fault_of(response)
    assert (status, code) == (500, CLIENT("SchemaViolation")) and "Amount" in text
    assert unchanged(running_hub, coupon)


def test_a_client_acts_only_for_its_offices(running_hub, coupon):
    request = signed_request(
        running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon, OfficeCode="1261")
    )
    _, response = running_hub.post(request)
    code, text = fault_of(response)
    assert code == CLIENT("NotAuthorized") and "1261" in text
    assert unchanged(running_hub, coupon)


def test_every_request_and_answer_is_in_the_message_log(running_hub, coupon):
    from hub.audit.messagelog import MessageLog

    running_hub.post(
        signed_request(running_hub.identity("pojazd-1465"), "VerifyCoupon", CouponId=coupon, OfficeCode="1465")
    )
    running_hub.post(b"<not-soap/>")
    running_hub.hub.answer_records.flush()  # the read's answer record, written with others' (within 0.3 s)
    report = MessageLog(running_hub.hub.db).verify()
    assert (report.ok, report.records) == (True, 4)

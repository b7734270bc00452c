"""The profile-narrow signature path against its oracles: signxml (the library the hub checked
and signed with before, tests/signing/oracle.py) and `xmlsec1 --verify` must reach the same
verdict as `verify_envelope` on every generated message, and every answer `sign_envelope`
signs must verify with all three.

Requests are generated as text, spelled as the stacks that send them spell them: soap and
payload prefixes or a default namespace, declarations on the Envelope or where they are used,
unused declarations, `ec:InclusiveNamespaces PrefixList`s on SignedInfo and on each reference
(prefixes declared, undeclared, `#default`), pretty-printed or not, either quote, every key
identifier (BinarySecurityToken, X509IssuerSerial, SubjectKeyIdentifier, ThumbprintSHA1), RSA,
ECDSA and a SHA-1 client. Each is signed in place and then, in its text, left alone, tampered
with (payload, Created, a DigestValue, the SignatureValue, whitespace in the Body, a declaration
of a listed prefix) or respelled in ways that sign the same bytes (the SignatureValue wrapped, a
comment in the payload, whitespace outside SignedInfo, a declaration nobody lists).

HUB_DIFFERENTIAL_EXAMPLES (default 100 per test; about 20 s on a quiet machine) runs more;
each example calls xmlsec1 once.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub import ns
from hub.signing import MemoryReplayCache, SecurityFault, SignaturePolicy, TrustedClient, TrustStore
from hub.signing.c14n import canonicalize
from hub.signing.policy import ECDSA_SHA256, RSA_SHA1, RSA_SHA256, SHA1, SHA256
from hub.signing.sign import format_time, prepare_signature
from hub.signing.trust import SUBJECT_KEY_IDENTIFIER, THUMBPRINT_SHA1, certificate_key
from hub.signing.verify import verify_envelope
from hub.xmlsafe import parse_xml
from tests.support.oracle import verify_with_signxml
from tests.support.signing import BYTES_MAX, DEPTH_MAX, ECHO, NOW, Party, require_tool

EXAMPLES = int(os.environ.get("HUB_DIFFERENTIAL_EXAMPLES", "100"))
DIFFERENTIAL = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
ID_OPTIONS = ["--id-attr:Id", "Body", "--id-attr:Id", "Timestamp"]
X509_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
KEY_IDENTIFIER_TYPES = {
    SUBJECT_KEY_IDENTIFIER: f"{X509_PROFILE}#X509SubjectKeyIdentifier",
    THUMBPRINT_SHA1: "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1",
}
# who signs: (signature method, digest method, key references it may use)
SIGNERS = {
    "pojazd": (RSA_SHA256, SHA256, ("bst", "issuer_serial", "ski", "thumbprint")),
    "word_ec": (ECDSA_SHA256, SHA256, ("bst", "issuer_serial", "ski", "thumbprint")),
    "kierowca": (RSA_SHA256, SHA256, ("bst",)),  # trusted through its CA: must carry its token
    "legacy": (RSA_SHA1, SHA1, ("bst", "thumbprint")),  # allow_sha1
}
NEUTRAL = ("none", "signature_value_wrapped", "comment_in_payload", "space_in_signature")
BREAKING = ("amount", "created", "digest_value", "signature_value", "space_in_body")
AMOUNT = "100.00"


@dataclass(frozen=True)
class Shape:
    """How one request is spelled and signed."""

    signer: str
    key_reference: str
    soap: str
    payload: str | None  # payload prefix; None: a default namespace
    payload_on_envelope: bool
    ds: str
    ds_on_envelope: bool
    wsu_on_envelope: bool
    unused: tuple[str, ...]  # where an unused xmlns:x is declared: envelope, header, body
    signed_info_list: tuple[str, ...] | None
    timestamp_list: tuple[str, ...] | None
    body_list: tuple[str, ...] | None
    timestamp_first: bool
    pretty: bool
    quote: str
    declaration: bool
    text: str
    tamper: str

    def listed(self) -> set[str]:
        lists = (self.signed_info_list, self.timestamp_list, self.body_list)
        return {p for prefixes in lists if prefixes for p in prefixes}


xml_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), include_characters="\t\n\r&<>\"'ąęłńóśźżĄĘŁŃÓŚŹŻ€"),
    max_size=40,
)


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    signer = draw(st.sampled_from(sorted(SIGNERS)))
    soap = draw(st.sampled_from(["soap", "SOAP-ENV", "s", "env"]))
    payload = draw(st.sampled_from(["o", "ns1", "e", None]))
    payload_name = payload or "#default"
    candidates = [soap, payload_name, "wsse", "x", "zz"]
    prefix_lists = st.one_of(st.none(), st.lists(st.sampled_from(candidates), min_size=1, max_size=4, unique=True))
    lists = [draw(prefix_lists) for _ in range(3)]
    return Shape(
        signer=signer,
        key_reference=draw(st.sampled_from(SIGNERS[signer][2])),
        soap=soap,
        payload=payload,
        payload_on_envelope=draw(st.booleans()),
        ds=draw(st.sampled_from(["ds", "dsig", "sig"])),
        ds_on_envelope=draw(st.booleans()),
        wsu_on_envelope=draw(st.booleans()),
        unused=tuple(draw(st.lists(st.sampled_from(["envelope", "header", "body"]), max_size=2, unique=True))),
        signed_info_list=None if lists[0] is None else tuple(lists[0]),
        timestamp_list=None if lists[1] is None else tuple(lists[1]),
        body_list=None if lists[2] is None else tuple(lists[2]),
        timestamp_first=draw(st.booleans()),
        pretty=draw(st.booleans()),
        quote=draw(st.sampled_from(['"', "'"])),
        declaration=draw(st.booleans()),
        text=draw(xml_text),
        tamper=draw(st.sampled_from((*NEUTRAL, *BREAKING, "declare_zz"))),
    )


# --- requests spelled as text, signed in place ---------------------------------------------------


@dataclass(frozen=True)
class Message:
    text: str  # with @@TS@@, @@BODY@@ and @@SV@@ where the signature values go
    created: str


def spell(shape: Shape, party: Party) -> Message:
    """The unsigned request, as text; its wsse:Security complete but for the three values."""
    q = shape.quote

    def a(name: str, value: str) -> str:
        return f" {name}={q}{value}{q}"

    nl, ds, soap = ("\n  " if shape.pretty else ""), shape.ds, shape.soap
    payload_decl = a(f"xmlns:{shape.payload}" if shape.payload else "xmlns", ECHO)
    method, digest, _ = SIGNERS[shape.signer]
    unused = a("xmlns:x", "urn:x")
    envelope_decls = a(f"xmlns:{soap}", ns.SOAP_ENV_11)
    envelope_decls += payload_decl if shape.payload_on_envelope else ""
    envelope_decls += a(f"xmlns:{ds}", ns.DS) if shape.ds_on_envelope else ""
    envelope_decls += a("xmlns:wsu", ns.WSU) if shape.wsu_on_envelope else ""
    envelope_decls += unused if "envelope" in shape.unused else ""
    wsu_decl = "" if shape.wsu_on_envelope else a("xmlns:wsu", ns.WSU)
    created = format_time(NOW)

    def c14n_method(tag: str, prefixes: tuple[str, ...] | None) -> str:
        inner = ""
        if prefixes is not None:
            inner = f"<ec:InclusiveNamespaces{a('xmlns:ec', ns.EXC_C14N)}{a('PrefixList', ' '.join(prefixes))}/>"
        return f"<{ds}:{tag}{a('Algorithm', ns.EXC_C14N)}>{inner}</{ds}:{tag}>"

    def reference(uri: str, prefixes: tuple[str, ...] | None, slot: str) -> str:
        return (
            f"{nl}<{ds}:Reference{a('URI', uri)}><{ds}:Transforms>{c14n_method('Transform', prefixes)}"
            f"</{ds}:Transforms><{ds}:DigestMethod{a('Algorithm', digest)}/>"
            f"<{ds}:DigestValue>@@{slot}@@</{ds}:DigestValue></{ds}:Reference>"
        )

    references = [reference("#TS-1", shape.timestamp_list, "TS"), reference("#Body-1", shape.body_list, "BODY")]
    if not shape.timestamp_first:
        references.reverse()
    cert = party.identity.cert
    token = ""
    if shape.key_reference == "bst":
        der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        token = (
            f"{nl}<wsse:BinarySecurityToken{a('wsu:Id', 'X509-1')}{a('ValueType', ns.X509_TOKEN_V3)}"
            f"{a('EncodingType', ns.BASE64_ENCODING)}>{der}</wsse:BinarySecurityToken>"
        )
        pointer = f"<wsse:Reference{a('URI', '#X509-1')}{a('ValueType', ns.X509_TOKEN_V3)}/>"
    elif shape.key_reference == "issuer_serial":
        pointer = (
            f"<{ds}:X509Data><{ds}:X509IssuerSerial><{ds}:X509IssuerName>"
            f"{_escape(cert.issuer.rfc4514_string())}</{ds}:X509IssuerName><{ds}:X509SerialNumber>"
            f"{cert.serial_number}</{ds}:X509SerialNumber></{ds}:X509IssuerSerial></{ds}:X509Data>"
        )
    else:
        kind = SUBJECT_KEY_IDENTIFIER if shape.key_reference == "ski" else THUMBPRINT_SHA1
        value = base64.b64encode(certificate_key(kind, cert)).decode()  # type: ignore[arg-type]
        pointer = (
            f"<wsse:KeyIdentifier{a('ValueType', KEY_IDENTIFIER_TYPES[kind])}"
            f"{a('EncodingType', ns.BASE64_ENCODING)}>{value}</wsse:KeyIdentifier>"
        )
    signature = (
        f"{nl}<{ds}:Signature{'' if shape.ds_on_envelope else a(f'xmlns:{ds}', ns.DS)}>"
        f"{nl}<{ds}:SignedInfo>{nl}{c14n_method('CanonicalizationMethod', shape.signed_info_list)}"
        f"{nl}<{ds}:SignatureMethod{a('Algorithm', method)}/>{''.join(references)}{nl}</{ds}:SignedInfo>"
        f"{nl}<{ds}:SignatureValue>@@SV@@</{ds}:SignatureValue>"
        f"{nl}<{ds}:KeyInfo><wsse:SecurityTokenReference>{pointer}</wsse:SecurityTokenReference>"
        f"</{ds}:KeyInfo>{nl}</{ds}:Signature>"
    )
    security = (
        f"<wsse:Security{a('xmlns:wsse', ns.WSSE)}{wsu_decl}{a(f'{soap}:mustUnderstand', '1')}>"
        f"{nl}<wsu:Timestamp{a('wsu:Id', 'TS-1')}><wsu:Created>{created}</wsu:Created>"
        f"<wsu:Expires>{format_time(NOW + timedelta(seconds=300))}</wsu:Expires></wsu:Timestamp>"
        f"{token}{signature}{nl}</wsse:Security>"
    )
    p = f"{shape.payload}:" if shape.payload else ""
    payload = (
        f"<{p}EchoRequest{'' if shape.payload_on_envelope else payload_decl}>{nl}"
        f"<{p}Text>{_escape(shape.text)}</{p}Text>{nl}<{p}Amount>{AMOUNT}</{p}Amount>{nl}</{p}EchoRequest>"
    )
    text = (
        f"{'<?xml version=' + q + '1.0' + q + ' encoding=' + q + 'UTF-8' + q + '?>' if shape.declaration else ''}"
        f"<{soap}:Envelope{envelope_decls}>"
        f"<{soap}:Header{unused if 'header' in shape.unused else ''}>{security}</{soap}:Header>{nl}"
        f"<{soap}:Body{a('wsu:Id', 'Body-1')}{wsu_decl}{unused if 'body' in shape.unused else ''}>{nl}"
        f"{payload}{nl}</{soap}:Body></{soap}:Envelope>"
    )
    return Message(text, created)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def sign_text(shape: Shape, message: Message, party: Party) -> tuple[str, dict[str, str]]:
    """The request signed: digests over the exc-c14n of Body and Timestamp where they stand,
    the signature over SignedInfo where it stands, put into the text as spelled."""
    tree = _parse(message.text)
    ds = {"ds": ns.DS}
    lists = {"TS": shape.timestamp_list, "BODY": shape.body_list}
    targets = {"TS": tree.find(f".//{{{ns.WSU}}}Timestamp"), "BODY": tree.find(f"{{{ns.SOAP_ENV_11}}}Body")}
    digest = hashlib.sha1 if SIGNERS[shape.signer][1] == SHA1 else hashlib.sha256
    values: dict[str, str] = {}
    for slot in ("TS", "BODY"):
        prefixes = list(lists[slot]) if lists[slot] else None
        values[slot] = base64.b64encode(digest(canonicalize(targets[slot], prefixes)).digest()).decode()
    for node in tree.iterfind(".//ds:DigestValue", ds):
        node.text = values[node.text.strip("@")]
    signed_info = tree.find(".//ds:SignedInfo", ds)
    prefixes = list(shape.signed_info_list) if shape.signed_info_list else None
    values["SV"] = base64.b64encode(_sign(party, shape, canonicalize(signed_info, prefixes))).decode()
    text = message.text
    for slot, value in values.items():
        text = text.replace(f"@@{slot}@@", value)
    return text, values


def _sign(party: Party, shape: Shape, data: bytes) -> bytes:
    key = party.identity.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    digest = hashes.SHA1() if SIGNERS[shape.signer][1] == SHA1 else hashes.SHA256()
    return key.sign(data, padding.PKCS1v15(), digest)


def tamper(shape: Shape, text: str, values: dict[str, str], created: str) -> tuple[str, bool]:
    """The text after `shape.tamper`, and whether it must still verify."""
    match shape.tamper:
        case "none":
            return text, True
        case "signature_value_wrapped":
            sv = values["SV"]
            return text.replace(sv, "\n".join(sv[i : i + 64] for i in range(0, len(sv), 64))), True
        case "comment_in_payload":
            return text.replace(f">{AMOUNT}<", ">10<!-- comment -->0.00<"), True
        case "space_in_signature":
            return text.replace(f"<{shape.ds}:SignatureValue>", f"\n <{shape.ds}:SignatureValue>"), True
        case "amount":
            return text.replace(f">{AMOUNT}<", ">900.00<"), False
        case "created":
            later = format_time(NOW + timedelta(seconds=1))
            return text.replace(f">{created}<", f">{later}<"), False
        case "digest_value":
            value = values["BODY"]
            return text.replace(value, ("B" if value[0] == "A" else "A") + value[1:]), False
        case "signature_value":
            sv = values["SV"]
            return text.replace(sv, sv[:10] + ("B" if sv[10] == "A" else "A") + sv[11:]), False
        case "space_in_body":
            at = text.index(">", text.index("Body-1")) + 1
            return text[:at] + " " + text[at:], False
        case "declare_zz":
            # zz is declared nowhere: in scope now, it changes every canonical form that lists it
            at = text.index(":Envelope") + len(":Envelope")
            return text[:at] + ' xmlns:zz="urn:zz"' + text[at:], "zz" not in shape.listed()
    raise AssertionError(shape.tamper)


# --- verdicts -----------------------------------------------------------------------------------


def drops_default(shape: Shape) -> bool:
    """Whether signxml is wrong by construction: through lxml, it drops `#default` from a
    PrefixList, and its copy of a signed element loses a default namespace declared on the
    Envelope, so where one is in scope at a signed element and listed, its canonical bytes are
    not exc-c14n's (hub.signing.c14n.with_default_namespace). xmlsec1 still judges those."""
    return shape.payload is None and shape.payload_on_envelope and "#default" in shape.listed()


def _parse(text: str) -> etree._Element:
    return parse_xml(text.encode("utf-8"), bytes_max=BYTES_MAX, depth_max=DEPTH_MAX)


def fast_verdict(text: str, trust: TrustStore) -> str:
    try:
        verified = verify_envelope(_parse(text), trust, SignaturePolicy(), _replay(), NOW)
    except SecurityFault as fault:
        return fault.code
    return f"ok {etree.tostring(verified.body, method='c14n').hex()[:64]} {verified.signature_key}"


def oracle_verdict(text: str, trust: TrustStore) -> str:
    try:
        verified = verify_with_signxml(_parse(text), trust, SignaturePolicy(), _replay(), NOW)
    except SecurityFault as fault:
        return fault.code
    except Exception as error:  # noqa: BLE001 - a crash in the oracle is a verdict to compare
        return f"oracle crashed: {error!r}"
    return f"ok {etree.tostring(verified.body, method='c14n').hex()[:64]} {verified.signature_key}"


def xmlsec1_verifies(text: str, cert_path: Path) -> bool:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "message.xml"
        path.write_bytes(text.encode("utf-8"))
        result = subprocess.run(
            ["xmlsec1", "--verify", *ID_OPTIONS, "--pubkey-cert-pem", str(cert_path), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    return result.returncode == 0 and "SignedInfo References (ok/all): 2/2" in result.stderr


def _replay() -> MemoryReplayCache:
    return MemoryReplayCache(lambda: NOW)


@pytest.fixture(scope="module")
def xmlsec1() -> None:
    require_tool(shutil.which("xmlsec1") is not None, "the xmlsec1 command (apt-get install xmlsec1)")


# --- the tests ----------------------------------------------------------------------------------


@DIFFERENTIAL
@given(shape=shapes())
def test_fast_path_signxml_and_xmlsec1_agree_on_requests(pki, trust, xmlsec1, shape):
    """The generated requests, each with its tampering: the fast path and signxml reach the
    same verdict (the same fault, or the same signed Body and replay key), and xmlsec1 too."""
    compare(shape, pki, trust)


def compare(shape: Shape, pki, trust: TrustStore) -> None:
    """The three verdicts on `shape`, signed and tampered with: the fast path's and signxml's
    the same (fault, or the signed Body and replay key), xmlsec1's the same, and as expected."""
    party = getattr(pki, shape.signer)
    message = spell(shape, party)
    signed, values = sign_text(shape, message, party)
    text, valid = tamper(shape, signed, values, message.created)
    fast = fast_verdict(text, trust)
    if not drops_default(shape):
        assert fast == oracle_verdict(text, trust), text
    assert xmlsec1_verifies(text, party.cert_path) is valid, text
    assert fast.startswith("ok ") if valid else fast == "FailedCheck", (fast, text)


answer_payloads = st.builds(
    lambda prefix, on_envelope, header, text: (prefix, on_envelope, header, text),
    st.sampled_from(["o", "tns", "ds", None]),
    st.booleans(),
    st.booleans(),
    xml_text,
)


@DIFFERENTIAL
@given(answer=answer_payloads, who=st.sampled_from(["hub", "word_ec"]), tampered=st.booleans())
def test_answers_signed_by_the_fast_signer_verify_with_signxml_and_xmlsec1(pki, xmlsec1, answer, who, tampered):
    """As the hub signs its answers: the envelope signed but for its SignatureValue and
    serialised (what the message log records), then sealed by putting the value into those
    bytes, which must be the bytes the sealed envelope serialises to."""
    prefix, on_envelope, header, text = answer
    party = getattr(pki, who)
    declaration = f' xmlns{":" + prefix if prefix else ""}="{ECHO}"'
    p = f"{prefix}:" if prefix else ""
    unsigned = _parse(
        f'<soap:Envelope xmlns:soap="{ns.SOAP_ENV_11}"{declaration if on_envelope else ""}>'
        f"{'<soap:Header/>' if header else ''}<soap:Body><{p}EchoResponse{'' if on_envelope else declaration}>"
        f"<{p}Text>{_escape(text)}</{p}Text><{p}Amount>{AMOUNT}</{p}Amount></{p}EchoResponse></soap:Body>"
        "</soap:Envelope>"
    )
    signature = prepare_signature(unsigned, party.identity, now=NOW)
    sealed = signature.sealed_bytes(etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8"))
    assert sealed == etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8")
    sent = sealed.decode()
    if tampered:
        sent = sent.replace(f">{AMOUNT}<", ">900.00<")
    peer = TrustStore([TrustedClient(id=who, kind="PEER", cert=party.identity.cert)])
    fast = fast_verdict(sent, peer)
    assert fast == oracle_verdict(sent, peer)
    assert xmlsec1_verifies(sent, party.cert_path) is not tampered
    assert (fast == "FailedCheck") if tampered else fast.startswith("ok "), fast


GRID_BASE = Shape(
    signer="pojazd", key_reference="bst", soap="soap", payload="o", payload_on_envelope=True,
    ds="ds", ds_on_envelope=False, wsu_on_envelope=False, unused=("envelope",),
    signed_info_list=("o", "soap"), timestamp_list=("wsse", "o", "soap"), body_list=("o", "zz"),
    timestamp_first=True, pretty=True, quote='"', declaration=True, text="Zażółć & <gęślą>\r",
    tamper="none",
)  # fmt: skip


@pytest.mark.parametrize("tampering", [*NEUTRAL, *BREAKING, "declare_zz"])
@pytest.mark.parametrize(
    ("signer", "key_reference"), [(signer, reference) for signer, (_, _, refs) in SIGNERS.items() for reference in refs]
)
def test_every_key_reference_with_every_tampering(pki, trust, xmlsec1, signer, key_reference, tampering):
    """Each signer with each key reference it may use and each tampering, whatever the
    generator happens to draw (WSS4J's prefix lists, with one undeclared prefix listed)."""
    shape = replace(GRID_BASE, signer=signer, key_reference=key_reference, tamper=tampering)
    compare(shape, pki, trust)

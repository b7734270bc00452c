"""xmlsec1 (the command-line tool of libxmlsec1) on both sides of the profile: it signs a
request from a wsse:Security template laid out as WSS4J lays it out (exclusive c14n with
`ec:InclusiveNamespaces PrefixList`), and it verifies the hub's answers."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from hub import ns
from hub.signing.policy import ECDSA_SHA256, RSA_SHA256, SHA256
from hub.signing.sign import format_time
from tests.support.signing import require_tool

ID_OPTIONS = ["--id-attr:Id", "Body", "--id-attr:Id", "Timestamp"]
WSU_ID = f"{{{ns.WSU}}}Id"
# The prefix lists WSS4J writes (SignedInfo, Timestamp, Body); {p} is the payload's prefix.
PREFIX_LISTS = {"SignedInfo": "{p} soap", "Timestamp": "wsse {p} soap", "Body": "{p}"}


def xmlsec1() -> str:
    require_tool(shutil.which("xmlsec1") is not None, "the xmlsec1 command (apt-get install xmlsec1)")
    return "xmlsec1"


def signed_by_xmlsec1(
    unsigned: etree._Element, key_path: Path, cert: x509.Certificate, now: datetime | None = None, ttl_s: int = 300
) -> bytes:
    """`unsigned` (a SOAP 1.1 envelope with a soap:Header) signed by `xmlsec1 --sign`."""
    message = etree.fromstring(etree.tostring(unsigned))
    header, body = (message.find(f"{{{ns.SOAP_ENV_11}}}Header"), message.find(f"{{{ns.SOAP_ENV_11}}}Body"))
    suffix = uuid.uuid4().hex
    body.set(WSU_ID, f"Body-{suffix}")
    payload_prefix = next(c for c in body if isinstance(c.tag, str)).prefix
    lists = {k: v.replace("{p}", payload_prefix or "#default") for k, v in PREFIX_LISTS.items()}
    header.insert(0, _security(cert, now or datetime.now(UTC), ttl_s, suffix, lists))
    with tempfile.TemporaryDirectory() as work:
        template, output = Path(work) / "template.xml", Path(work) / "signed.xml"
        template.write_bytes(etree.tostring(message))
        result = subprocess.run(
            [xmlsec1(), "--sign", *ID_OPTIONS, "--privkey-pem", str(key_path), "--output", str(output), str(template)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return output.read_bytes()


def xmlsec1_verifies(message: bytes, cert_path: Path) -> tuple[bool, str]:
    """Whether `xmlsec1 --verify` with the certificate at `cert_path` accepts `message` with
    both references (Body and Timestamp) valid, and its report."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "message.xml"
        path.write_bytes(message)
        result = subprocess.run(
            [xmlsec1(), "--verify", *ID_OPTIONS, "--pubkey-cert-pem", str(cert_path), str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    return (result.returncode == 0 and "SignedInfo References (ok/all): 2/2" in result.stderr, result.stderr)


def _security(cert: x509.Certificate, now: datetime, ttl_s: int, suffix: str, lists: dict[str, str]) -> etree._Element:
    wsse, wsu, ds, ec_ns = (f"{{{n}}}" for n in (ns.WSSE, ns.WSU, ns.DS, ns.EXC_C14N))
    security = etree.Element(wsse + "Security", nsmap={"wsse": ns.WSSE, "wsu": ns.WSU})
    security.set(f"{{{ns.SOAP_ENV_11}}}mustUnderstand", "1")
    timestamp = etree.SubElement(security, wsu + "Timestamp", {WSU_ID: f"TS-{suffix}"})
    etree.SubElement(timestamp, wsu + "Created").text = format_time(now)
    etree.SubElement(timestamp, wsu + "Expires").text = format_time(now + timedelta(seconds=ttl_s))
    token = etree.SubElement(
        security,
        wsse + "BinarySecurityToken",
        {WSU_ID: f"X509-{suffix}"},
        ValueType=ns.X509_TOKEN_V3,
        EncodingType=ns.BASE64_ENCODING,
    )
    token.text = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

    signature = etree.SubElement(security, ds + "Signature", nsmap={"ds": ns.DS})
    signed_info = etree.SubElement(signature, ds + "SignedInfo")
    method = etree.SubElement(signed_info, ds + "CanonicalizationMethod", Algorithm=ns.EXC_C14N)
    etree.SubElement(method, ec_ns + "InclusiveNamespaces", nsmap={"ec": ns.EXC_C14N}, PrefixList=lists["SignedInfo"])
    algorithm = ECDSA_SHA256 if isinstance(cert.public_key(), ec.EllipticCurvePublicKey) else RSA_SHA256
    etree.SubElement(signed_info, ds + "SignatureMethod", Algorithm=algorithm)
    for uri, prefixes in ((f"#TS-{suffix}", lists["Timestamp"]), (f"#Body-{suffix}", lists["Body"])):
        reference = etree.SubElement(signed_info, ds + "Reference", URI=uri)
        transform = etree.SubElement(
            etree.SubElement(reference, ds + "Transforms"), ds + "Transform", Algorithm=ns.EXC_C14N
        )
        etree.SubElement(transform, ec_ns + "InclusiveNamespaces", nsmap={"ec": ns.EXC_C14N}, PrefixList=prefixes)
        etree.SubElement(reference, ds + "DigestMethod", Algorithm=SHA256)
        etree.SubElement(reference, ds + "DigestValue")
    etree.SubElement(signature, ds + "SignatureValue")
    pointer = etree.SubElement(etree.SubElement(signature, ds + "KeyInfo"), wsse + "SecurityTokenReference")
    etree.SubElement(pointer, wsse + "Reference", URI=f"#X509-{suffix}", ValueType=ns.X509_TOKEN_V3)
    return security

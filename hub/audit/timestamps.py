"""RFC 3161 time-stamps of the message log's seals, from a time-stamping authority (TSA).

A seal says when the hub signed the head, by the hub's own clock and key. A time-stamp
token from a TSA named in `[audit] tsa_url` adds a third party's word: this seal's digest
existed at genTime. Because every seal names the one before it, stamping the newest seal
vouches for every earlier one and all the records they sealed (X-Road stamps its message
log in batches the same way). `hub audit seal` (the timer) stamps the newest seal that has
no token; the write path never waits for the TSA.

The request is a TimeStampReq over SHA-256 of the seal's canonical body (its `digest`),
with a nonce and certReq, POSTed as `application/timestamp-query`. A token is accepted,
and later verified by `hub audit verify`, only when: the TSA granted it; its TSTInfo
imprints exactly that digest with SHA-256; the signed attributes carry the TSTInfo's
digest; and the CMS signature verifies with one of the certificates pinned in
`[audit] tsa_certs`. ASN.1 is read and written with asn1crypto; signatures are checked
with cryptography.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from collections.abc import Iterable
from datetime import datetime

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hub.errors import TimestampError

RESPONSE_BYTES_MAX = 64 * 1024
_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}


class TimeStamper:
    """A TSA client: `stamp(digest)` -> the token (DER), checked before it is returned."""

    def __init__(self, url: str, certs: Iterable[x509.Certificate], timeout_s: float = 10) -> None:
        self.url = url
        self.certs = tuple(certs)
        self.timeout_s = timeout_s

    def stamp(self, digest_hex: str) -> bytes:
        nonce = secrets.randbits(63)
        request = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": bytes.fromhex(digest_hex),
                },
                "nonce": nonce,
                "cert_req": True,
            }
        )
        http = urllib.request.Request(
            self.url, data=request.dump(), headers={"Content-Type": "application/timestamp-query"}
        )
        try:
            with urllib.request.urlopen(http, timeout=self.timeout_s) as answer:
                data = answer.read(RESPONSE_BYTES_MAX + 1)
        except (OSError, urllib.error.URLError) as error:
            raise TimestampError(
                f"the TSA at {self.url} did not answer ({error}); the seal stays unstamped until the next run"
            ) from None
        if len(data) > RESPONSE_BYTES_MAX:
            raise TimestampError(f"the TSA at {self.url} answered more than {RESPONSE_BYTES_MAX} bytes")
        try:
            response = tsp.TimeStampResp.load(data)
            status = response["status"]["status"].native
            token = response["time_stamp_token"]
            if status not in ("granted", "granted_with_mods") or token.native is None:
                raise TimestampError(f"the TSA at {self.url} refused the request ({status})")
            der = token.dump()
            if _tst_info(der)["nonce"].native != nonce:
                raise TimestampError(f"the TSA at {self.url} answered another request (nonce)")
        except (ValueError, TypeError, KeyError) as error:
            raise TimestampError(
                f"the TSA at {self.url} answered something that is not a time-stamp response ({error})"
            ) from None
        verify_token(der, digest_hex, self.certs)
        return der


def _tst_info(token_der: bytes) -> tsp.TSTInfo:
    content = cms.ContentInfo.load(token_der)
    if content["content_type"].native != "signed_data":
        raise ValueError("not CMS SignedData")
    encap = content["content"]["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise ValueError("SignedData without a TSTInfo")
    return encap["content"].parsed


def verify_token(token_der: bytes, digest_hex: str, certs: Iterable[x509.Certificate]) -> datetime:
    """The token's genTime, if it time-stamps `digest_hex` and is signed by one of `certs`; else TimestampError."""
    try:
        signed = cms.ContentInfo.load(token_der)["content"]
        info = _tst_info(token_der)
        imprint = info["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256" or imprint[
            "hashed_message"
        ].native != bytes.fromhex(digest_hex):
            raise TimestampError("the time-stamp is of other data than this seal")
        [signer] = list(signed["signer_infos"])
        algorithm = _HASHES.get(signer["digest_algorithm"]["algorithm"].native)
        attributes = signer["signed_attrs"]
        tst_der = signed["encap_content_info"]["content"].contents
        digests = [a["values"][0].native for a in attributes if a["type"].native == "message_digest"]
        if algorithm is None or not digests:
            raise TimestampError("the time-stamp's signature uses an algorithm the hub does not accept")
        h = hashes.Hash(algorithm)
        h.update(tst_der)
        if digests != [h.finalize()]:
            raise TimestampError("the time-stamp's signed attributes are not of its TSTInfo (altered)")
        to_verify = b"\x31" + attributes.dump()[1:]  # signed as a SET OF (tag 0x31), not as the [0] it is stored with
        signature = signer["signature"].native
        gen_time = info["gen_time"].native
    except (ValueError, TypeError, KeyError) as error:
        raise TimestampError(f"the time-stamp cannot be read ({error})") from None
    for cert in certs:
        if _signature_valid(cert, signature, to_verify, algorithm):
            return gen_time
    raise TimestampError("the time-stamp is not signed by a TSA certificate in [audit] tsa_certs")


def _signature_valid(cert: x509.Certificate, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True

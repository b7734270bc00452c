"""signxml as the oracle of the hub's profile-narrow signature path (hub.signing.verify's
`check_signature`, hub.signing.sign's template signer): the general XML Signature library the hub
verified and signed with before, kept here so the differential tests can hold both to the same
verdicts.

`signxml_check` is the cryptographic step as it was: signxml verifies the whole envelope (a copy
of it for each reference), with the signing certificate and the hub's policy, reading exc-c14n's
PrefixList through hub.signing.c14n; the signed bytes it returns must be those of the elements at
their fixed places. `verify_with_signxml` is `verify_envelope` with that step: every check of the
message's shape is the same, only the cryptography differs. `signxml_signature` signs detached
references with signxml (for tests that need a signature over other references).
"""

from __future__ import annotations

from datetime import datetime

from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    InvalidCertificate,
    InvalidInput,
    InvalidSignature,
    SignatureConfiguration,
    SignatureMethod,
    VerifyResult,
    XMLSigner,
    XMLVerifier,
    methods,
)

from hub import ns
from hub.signing.c14n import canonicalize, prefix_list, signature_schema
from hub.signing.faults import FailedCheck, InvalidSecurity, InvalidSecurityToken
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.trust import TrustStore
from hub.signing.verify import (
    ReplayCache,
    SignatureCheck,
    SignatureUnderCheck,
    SignedReference,
    VerifiedRequest,
    verify_envelope,
)
from hub.xmlsafe import new_parser

HEADER = f"{{{ns.SOAP_ENV_11}}}Header"
SECURITY = f"{{{ns.WSSE}}}Security"


def verify_with_signxml(
    envelope: etree._Element, trust: TrustStore, policy: SignaturePolicy, replay: ReplayCache, now: datetime
) -> VerifiedRequest:
    """verify_envelope, its cryptographic check done by signxml."""
    return verify_envelope(envelope, trust, policy, replay, now, check=signxml_check(policy, now))


def signxml_check(policy: SignaturePolicy, now: datetime) -> SignatureCheck:
    def check(message: SignatureUnderCheck) -> dict[int, etree._Element]:
        envelope = message.signature.getroottree().getroot()
        results = _verify_signature(envelope, message, policy, now)
        return _signed_elements(results, message.references)

    return check


def _verify_signature(
    envelope: etree._Element, message: SignatureUnderCheck, policy: SignaturePolicy, now: datetime
) -> list[VerifyResult]:
    config = SignatureConfiguration(
        require_x509=True,
        location=f"./{HEADER}/{SECURITY}/",
        expect_references=2,
        signature_methods=frozenset(SignatureMethod(m) for m in policy.allowed_signature_methods(message.allow_sha1)),
        digest_algorithms=frozenset(DigestAlgorithm(d) for d in policy.allowed_digest_methods(message.allow_sha1)),
        ignore_ambiguous_key_info=False,
        verification_time=now,
        default_reference_c14n_method=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    try:
        return _HubXMLVerifier().verify(
            envelope, x509_cert=message.cert, expect_config=config, parser=new_parser(), validate_schema=True
        )
    except InvalidCertificate as exc:
        raise InvalidSecurityToken(f"The signing certificate is not valid: {exc}") from None
    except InvalidSignature as exc:  # also InvalidDigest
        raise FailedCheck(f"The signature does not verify: {exc}. The message was changed after signing.") from None
    except (InvalidInput, etree.DocumentInvalid) as exc:
        raise InvalidSecurity(f"The ds:Signature cannot be processed: {exc}") from None


class _HubXMLVerifier(XMLVerifier):
    """signxml, reading exc-c14n's PrefixList and validating ds:Signature the hub's way."""

    def _get_inclusive_ns_prefixes(self, transform_node: etree._Element) -> list[str] | None:
        return prefix_list(transform_node)

    def validate_schema(self, signature: etree._Element) -> None:
        signature_schema().assertValid(signature)


def _signed_elements(results: list[VerifyResult], references: list[SignedReference]) -> dict[int, etree._Element]:
    """The signed elements as signxml returns them; their bytes must be the elements' at
    their fixed places."""
    signed = {}
    for result, reference in zip(results, references, strict=True):
        if result.signed_xml is None or result.signed_data != canonicalize(reference.element, reference.prefixes):
            raise InvalidSecurity(f"The data signed under {reference.uri} is not the element the service reads.")
        signed[id(reference.element)] = result.signed_xml
    return signed


def signxml_signature(
    envelope: etree._Element, identity: SigningIdentity, method: str, ids: list[str], token_id: str
) -> etree._Element:
    """A ds:Signature by signxml over the elements with wsu:Id `ids` (detached, exclusive c14n),
    its KeyInfo pointing at the BinarySecurityToken `token_id`."""
    signer = XMLSigner(
        method=methods.detached,
        signature_algorithm=SignatureMethod(method),
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    key_info = etree.Element(f"{{{ns.DS}}}KeyInfo", nsmap={"ds": ns.DS})
    holder = etree.SubElement(key_info, f"{{{ns.WSSE}}}SecurityTokenReference", nsmap={"wsse": ns.WSSE})
    etree.SubElement(holder, f"{{{ns.WSSE}}}Reference", URI=f"#{token_id}", ValueType=ns.X509_TOKEN_V3)
    return signer.sign(envelope, key=identity.private_key, reference_uri=[f"#{i}" for i in ids], key_info=key_info)

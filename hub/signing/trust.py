"""Who may sign: the clients of config/clients.toml, as certificates to match.

A client is trusted through a pinned certificate (exact DER match) or through a CA that issued a
certificate with the configured subject DN. `TrustStore.identify` names the client or refuses:

| case                                                         | fault                   |
| ------------------------------------------------------------ | ----------------------- |
| no pinned certificate matches and no configured CA is issuer | wsse:FailedAuthentication |
| issuer names a configured CA, signature does not verify      | wsse:FailedAuthentication |
| issued by a configured CA, subject is no client's subject    | wsse:FailedAuthentication |
| a known client's certificate outside its validity dates      | wsse:InvalidSecurityToken |
| the issuing CA's certificate outside its validity dates      | wsse:InvalidSecurityToken |

FailedAuthentication ("could not be authenticated or authorized") is the code for a token we do
not know; InvalidSecurityToken ("an invalid security token") for a token we know that is not
valid now. An unknown certificate is refused as unknown even when it is also expired.

A signature may also name its certificate without carrying it (WSS X.509 Token Profile 1.1:
X509IssuerSerial, X509SubjectKeyIdentifier, ThumbprintSHA1; WSS4J's default is the first).
`certificate_key` computes such a name for a certificate, and `TrustStore.pinned_certificate`
finds the pinned certificate it names. A CA-trusted client cannot be found that way: its
certificate must travel in the message.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from hub.errors import ConfigError
from hub.signing.faults import FailedAuthentication, InvalidSecurityToken


@dataclass(frozen=True)
class TrustedClient:
    """One `[[client]]` entry: either `cert` (pinned) or `ca` with `subject` (RFC 4514 DN)."""

    id: str
    kind: str
    offices: tuple[str, ...] = ()
    company_nip: str | None = None
    allow_sha1: bool = False
    cert: x509.Certificate | None = None
    ca: x509.Certificate | None = None
    subject: str | None = None
    # More pinned certificates of the same client, during a key rotation (its next one):
    # a signature with any of them is this client's.
    rotation_certs: tuple[x509.Certificate, ...] = ()

    def __post_init__(self) -> None:
        pinned = self.cert is not None and self.ca is None and self.subject is None
        issued = self.cert is None and self.ca is not None and self.subject is not None
        if not (pinned or issued):
            raise ValueError(f"client {self.id}: give either cert, or ca together with subject")
        if self.rotation_certs and not pinned:
            raise ValueError(f"client {self.id}: rotation certificates go with a pinned cert")
        if issued and self.subject is not None:
            _normalized_dn(self.subject)  # raises ValueError on a malformed DN

    @property
    def pinned_certs(self) -> tuple[x509.Certificate, ...]:
        return () if self.cert is None else (self.cert, *self.rotation_certs)

    @property
    def subject_dn(self) -> str | None:
        """The configured subject in cryptography's RFC 4514 spelling, for comparison."""
        return None if self.subject is None else _normalized_dn(self.subject)


def fingerprint_sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


# How a signature names a certificate it does not carry (the token profile's ValueType names).
ISSUER_SERIAL = "X509IssuerSerial"
SUBJECT_KEY_IDENTIFIER = "X509SubjectKeyIdentifier"
THUMBPRINT_SHA1 = "ThumbprintSHA1"
CERTIFICATE_KEY_KINDS = (ISSUER_SERIAL, SUBJECT_KEY_IDENTIFIER, THUMBPRINT_SHA1)
# Spellings of attribute names that Java and .NET write and RFC 4514 does not define.
_DN_NAMES = {
    "E": NameOID.EMAIL_ADDRESS,
    "EMAILADDRESS": NameOID.EMAIL_ADDRESS,
    "S": NameOID.STATE_OR_PROVINCE_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
}


def certificate_key(kind: str, cert: x509.Certificate) -> Hashable:
    """The certificate's name of `kind`, comparable with what `issuer_serial_key` and a
    KeyIdentifier's bytes give: (issuer, serial), the SKI, or the SHA-1 of the DER."""
    if kind == ISSUER_SERIAL:
        return _name_key(cert.issuer), cert.serial_number
    if kind == SUBJECT_KEY_IDENTIFIER:
        try:
            return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:  # RFC 5280 method 1, as WSS4J and xmlsec compute it
            return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    if kind == THUMBPRINT_SHA1:
        return cert.fingerprint(hashes.SHA1())  # noqa: S303 - a name, not a signature
    raise ValueError(f"unknown certificate key kind {kind}")


def issuer_serial_key(issuer: str, serial: str) -> Hashable:
    """(issuer, serial) from X509IssuerName and X509SerialNumber texts, as `certificate_key`
    gives it; ValueError if the DN or the decimal serial does not parse. Java writes RFC 2253
    (`CN=a,O=b`), .NET puts a space after each comma (`CN=a, O=b`): both are read."""
    serial = serial.strip()
    if not serial or len(serial) > 60 or not all("0" <= c <= "9" for c in serial):  # RFC 5280: at most 20 octets
        raise ValueError(f"X509SerialNumber {serial!r} is not a decimal number")
    compact = re.sub(r"(?<!\\)([,+])[ ]+", r"\1", issuer.strip())
    try:
        name = x509.Name.from_rfc4514_string(compact, _DN_NAMES)
    except ValueError:
        raise ValueError(f"X509IssuerName {issuer!r} is not a distinguished name like CN=Name,O=Org,C=PL") from None
    return _name_key(name), int(serial)


def _name_key(name: x509.Name) -> tuple[tuple[tuple[str, str | bytes], ...], ...]:
    return tuple(tuple(sorted((a.oid.dotted_string, a.value) for a in rdn)) for rdn in name.rdns)


class TrustStore:
    """The trusted clients, indexed for `identify`; built once per config load."""

    def __init__(self, clients: Iterable[TrustedClient]) -> None:
        self._pinned: dict[str, TrustedClient] = {}
        self._named: dict[tuple[str, Hashable], list[x509.Certificate]] = {}
        self._issued: list[TrustedClient] = []
        for client in clients:
            self._add(client)

    def _add(self, client: TrustedClient) -> None:
        if client.cert is not None:
            for cert in client.pinned_certs:
                key = fingerprint_sha256(cert)
                if key in self._pinned:
                    raise ValueError(f"clients {self._pinned[key].id} and {client.id} pin the same certificate")
                self._pinned[key] = client
                for kind in CERTIFICATE_KEY_KINDS:
                    self._named.setdefault((kind, certificate_key(kind, cert)), []).append(cert)
            return
        for other in self._issued:
            if other.ca == client.ca and other.subject_dn == client.subject_dn:
                raise ValueError(f"clients {other.id} and {client.id} name the same CA and subject")
        self._issued.append(client)

    @property
    def clients(self) -> tuple[TrustedClient, ...]:
        return (*dict.fromkeys(self._pinned.values()), *self._issued)

    @classmethod
    def from_pem_files(cls, entries: Iterable[Any]) -> TrustStore:
        """Build from config entries with fields id, kind, cert, ca, subject, offices,
        company_nip, allow_sha1 and optionally rotation_certs (duck-typed); cert and ca are
        paths to PEM files or None, rotation_certs a sequence of paths."""
        cache: dict[Path, x509.Certificate] = {}
        clients = []
        for entry in entries:
            try:
                clients.append(
                    TrustedClient(
                        id=entry.id,
                        kind=entry.kind,
                        offices=tuple(entry.offices or ()),
                        company_nip=entry.company_nip,
                        allow_sha1=bool(entry.allow_sha1),
                        cert=_load_optional(entry.cert, entry.id, cache),
                        ca=_load_optional(entry.ca, entry.id, cache),
                        subject=entry.subject,
                        rotation_certs=tuple(
                            _load_pem(p, entry.id, cache) for p in getattr(entry, "rotation_certs", ())
                        ),
                    )
                )
            except ValueError as exc:
                raise ConfigError(f"clients.toml, client {entry.id}: {exc}") from None
        try:
            return cls(clients)
        except ValueError as exc:
            raise ConfigError(f"clients.toml: {exc}") from None

    def pinned_certificate(self, kind: str, key: Hashable) -> x509.Certificate | None:
        """The one pinned certificate (current or rotation) whose `certificate_key(kind)` is
        `key`; None when none is, or (a name two certificates share) more than one."""
        found = self._named.get((kind, key), [])
        return found[0] if len(found) == 1 else None

    def identify(self, cert: x509.Certificate, now: datetime) -> TrustedClient:
        """The client this certificate belongs to, valid at `now`, or a SecurityFault."""
        client = self._pinned.get(fingerprint_sha256(cert)) or self._issued_client(cert)
        _check_dates(cert, now, "The signing certificate")
        if client.ca is not None:
            _check_dates(client.ca, now, "The certificate of the CA that issued the signing certificate")
        return client

    def _issued_client(self, cert: x509.Certificate) -> TrustedClient:
        described = _describe(cert)
        by_issuer = [c for c in self._issued if c.ca is not None and c.ca.subject == cert.issuer]
        if not by_issuer:
            raise FailedAuthentication(f"The signing certificate ({described}) belongs to no configured client.")
        signed = [c for c in by_issuer if c.ca is not None and _signed_by(cert, c.ca)]
        if not signed:
            raise FailedAuthentication(
                f"The signing certificate ({described}) names a configured CA as issuer, "
                "but its signature does not verify with that CA's key."
            )
        subject = cert.subject.rfc4514_string()
        for client in signed:
            if client.subject_dn == subject:
                return client
        raise FailedAuthentication(
            f"The signing certificate subject {subject} is not the subject configured for any client of its CA."
        )


def _signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_dates(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if now < cert.not_valid_before_utc:
        raise InvalidSecurityToken(
            f"{what} ({_describe(cert)}) is not valid before {cert.not_valid_before_utc.isoformat()}."
        )
    if now > cert.not_valid_after_utc:
        raise InvalidSecurityToken(
            f"{what} ({_describe(cert)}) expired at {cert.not_valid_after_utc.isoformat()}; renew it."
        )


def _describe(cert: x509.Certificate) -> str:
    return f"subject {cert.subject.rfc4514_string()}, serial {cert.serial_number:x}"


def _normalized_dn(dn: str) -> str:
    try:
        return x509.Name.from_rfc4514_string(dn).rfc4514_string()
    except ValueError:
        raise ValueError(f"subject {dn!r} is not an RFC 4514 DN like 'CN=Name,O=Org,C=PL'") from None


def _load_optional(
    path: Path | str | None, client_id: str, cache: dict[Path, x509.Certificate]
) -> x509.Certificate | None:
    return None if path is None else _load_pem(path, client_id, cache)


def _load_pem(path: Path | str, client_id: str, cache: dict[Path, x509.Certificate]) -> x509.Certificate:
    path = Path(path)
    if path not in cache:
        try:
            cache[path] = x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"clients.toml, client {client_id}: cannot read certificate {path}: {exc}") from None
    return cache[path]

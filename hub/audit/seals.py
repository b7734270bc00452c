"""Seals of the message log: the chain's head signed with the hub's own key.

The hash chain (hub.audit.messagelog) shows a record changed on its own, but not a
rewrite that rehashes every later record, nor a tail cut off with the head row moved
back: both need only write access to the table. A seal is the head at some record,
signed by the hub:

    {"format": "hub-message-log-seal/1", "seq": 4200, "head_hash": "<record 4200's hash>",
     "sealed_at": "2026-03-10T09:30:00+00:00", "prev_seal": "<the previous seal's digest>",
     "signer": "<SHA-256 of the hub's certificate>"}

`digest` is the SHA-256 of that body as canonical JSON, and the signature is over the
same bytes (hub.signing.detached). Each seal names the one before it, so the seals form
a chain of their own: one removed from the middle breaks it.

The write path seals when `seal_every_records` records or `seal_every_s` seconds have
passed since the last seal (inside the append's transaction, with the head row already
locked: one signature per N records, no extra query); `hub audit seal` seals whatever is
new (run it from a timer so a quiet hub's last records do not wait for traffic). Seals
live in `message_log_seals` beside the log; `hub audit archive` moves those of the records
it archives into the archive's signed manifest. With `[audit] tsa_url`, `hub audit seal`
also has the newest seal time-stamped by an RFC 3161 TSA (hub.audit.timestamps); the token
is kept with the seal.

What a verifier (hub.audit.archive.ArchivedLog.verify) then finds: a record rewritten up
to the last seal (some seal's head_hash no longer matches), a record inserted or cut (the
same, or a seal past the end of the log), a seal removed (the seal chain breaks, or the
head row names a seal that is gone), and a tail after the last seal longer than the hub
ever leaves unsealed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from sqlalchemy import BigInteger, Connection, String, Table, Text, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from hub.audit.messagelog import Head, MessageLogHead
from hub.audit.timestamps import TimeStamper, verify_token
from hub.clock import Clock
from hub.db.base import Base, UtcDateTime
from hub.db.database import Database
from hub.errors import TimestampError
from hub.signing.detached import sign_bytes, signature_valid
from hub.signing.keys import SigningIdentity

SEAL_FORMAT = "hub-message-log-seal/1"
SEAL_EVERY_RECORDS = 100
SEAL_EVERY_S = 60


class MessageLogSeal(Base):
    __tablename__ = "message_log_seals"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # the record sealed
    sealed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    head_hash: Mapped[str] = mapped_column(String(64))
    prev_seal: Mapped[str] = mapped_column(String(64))
    signer: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(20))
    signature: Mapped[str] = mapped_column(Text)  # base64
    timestamp: Mapped[str | None] = mapped_column(
        Text
    )  # base64 DER of an RFC 3161 token over `digest` (hub.audit.timestamps)


# Core statements on the mapped tables (declarative types __table__ as a mere FromClause)
_SEALS, _HEAD = cast(Table, MessageLogSeal.__table__), cast(Table, MessageLogHead.__table__)
_ADD_SEAL = insert(_SEALS)
_MOVE_SEAL = update(_HEAD).where(_HEAD.c.id == 1)
SEAL_FIELDS = ("seq", "sealed_at", "head_hash", "prev_seal", "signer", "digest", "algorithm", "signature")


@dataclass(frozen=True)
class Seal:
    seq: int
    sealed_at: datetime
    head_hash: str
    prev_seal: str
    signer: str
    digest: str
    algorithm: str
    signature: str
    timestamp: str | None = None  # not signed by the hub: the TSA's token signs the digest

    def body(self) -> dict:
        return {
            "format": SEAL_FORMAT,
            "seq": self.seq,
            "head_hash": self.head_hash,
            "sealed_at": self.sealed_at.isoformat(),
            "prev_seal": self.prev_seal,
            "signer": self.signer,
        }

    def as_json(self) -> dict:
        """As an archive manifest keeps it."""
        return {
            **{name: getattr(self, name) for name in SEAL_FIELDS},
            "sealed_at": self.sealed_at.isoformat(),
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_json(cls, data: dict) -> Seal:
        """From a manifest; ValueError, KeyError or TypeError when it is not a seal."""
        fields = {name: data[name] for name in SEAL_FIELDS}
        if not isinstance(fields["seq"], int) or not all(isinstance(fields[n], str) for n in SEAL_FIELDS if n != "seq"):
            raise ValueError("a seal's fields have the wrong types")
        timestamp = data.get("timestamp")
        if timestamp is not None and not isinstance(timestamp, str):
            raise ValueError("a seal's time-stamp is not text")
        return cls(**{**fields, "sealed_at": datetime.fromisoformat(fields["sealed_at"]), "timestamp": timestamp})

    @classmethod
    def of_row(cls, row: MessageLogSeal) -> Seal:
        return cls(**{name: getattr(row, name) for name in SEAL_FIELDS}, timestamp=row.timestamp)

    def stamp_problem(self, tsa_certs: tuple[x509.Certificate, ...]) -> tuple[datetime | None, str | None]:
        """(genTime, None) of a time-stamp that verifies, (None, why) of one that does not; (None, None) without one."""
        if self.timestamp is None:
            return None, None
        if not tsa_certs:
            return None, "it carries a time-stamp, but no [audit] tsa_certs are set to check it"
        try:
            return verify_token(base64.b64decode(self.timestamp, validate=True), self.digest, tsa_certs), None
        except ValueError:
            return None, "its time-stamp is not readable"
        except TimestampError as error:
            return None, f"its time-stamp does not verify: {error.message}"

    def problem(self, trusted: dict[str, x509.Certificate]) -> str | None:
        """Why this seal cannot be believed, or None."""
        cert = trusted.get(self.signer)
        if cert is None:
            return f"signed by a certificate the hub does not trust (sha256 {self.signer[:16]}...)"
        if _digest(self.body()) != self.digest:
            return "its digest is not that of its content (the seal was changed)"
        try:
            value = base64.b64decode(self.signature, validate=True)
        except ValueError:
            return "its signature is not readable"
        if not signature_valid(cert, self.algorithm, canonical(self.body()), value):
            return "its signature does not verify (the seal was changed)"
        return None


def canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(body: dict) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def trusted_signers(
    identity_cert: x509.Certificate, earlier: Iterable[x509.Certificate]
) -> dict[str, x509.Certificate]:
    """The hub's certificate and its earlier ones (`[audit] archive_certs`), by fingerprint."""
    return {fingerprint(identity_cert): identity_cert, **{fingerprint(c): c for c in earlier}}


@dataclass(eq=False)
class Sealer:
    """Seals the message log's head with the hub's key (hub.audit.messagelog.Sealer)."""

    identity: SigningIdentity
    clock: Clock
    every_records: int = SEAL_EVERY_RECORDS
    every_s: int = SEAL_EVERY_S
    signer: str = field(init=False)  # the fingerprint of the identity's certificate

    def __post_init__(self) -> None:
        self.signer = fingerprint(self.identity.cert)

    def due(self, head: Head, seq: int) -> bool:
        """After an append that moved the head to `seq`: N records, or T seconds, since the last seal."""
        return (
            seq - head.sealed_seq >= self.every_records
            or head.sealed_at_s is None
            or self.clock().timestamp() - head.sealed_at_s >= self.every_s
        )

    def seal_in(self, connection: Connection, head: Head, seq: int, head_hash: str) -> Seal:
        """Seal record `seq` (whose hash is `head_hash`) in the caller's transaction, which
        holds the head row's lock."""
        at = self.clock()
        body = {
            "format": SEAL_FORMAT,
            "seq": seq,
            "head_hash": head_hash,
            "sealed_at": at.isoformat(),
            "prev_seal": head.seal_digest,
            "signer": self.signer,
        }
        algorithm, value = sign_bytes(self.identity, canonical(body))
        seal = Seal(
            seq,
            at,
            head_hash,
            head.seal_digest,
            self.signer,
            _digest(body),
            algorithm,
            base64.b64encode(value).decode(),
        )
        connection.execute(_ADD_SEAL, {name: getattr(seal, name) for name in SEAL_FIELDS})
        connection.execute(
            _MOVE_SEAL, {"sealed_seq": seq, "sealed_at_s": int(at.timestamp()), "seal_digest": seal.digest}
        )
        return seal


def stamp_newest(db: Database, stamper: TimeStamper) -> Seal | None:
    """Time-stamp the newest seal if it has no token yet (by the seal chain, that vouches for every
    earlier seal too); the seal as stamped, or None when there was nothing to stamp."""
    with db.read() as session:
        row = session.scalars(select(MessageLogSeal).order_by(MessageLogSeal.seq.desc()).limit(1)).first()
        if row is None or row.timestamp is not None:
            return None
        seal = Seal.of_row(row)
    token = base64.b64encode(stamper.stamp(seal.digest)).decode()  # outside any transaction: the TSA is far away
    with db.transaction() as session:
        session.execute(update(_SEALS).where(_SEALS.c.seq == seal.seq).values(timestamp=token))
    return replace(seal, timestamp=token)

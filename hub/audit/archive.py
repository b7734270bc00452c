"""Archives of the message log: old records moved out of the live table into files
whose chain head is signed by the hub, checked together with the live log.

An archive is two files in the archive directory, named by the records they hold:

    message-log-000000000001-000000004200.jsonl.gz          the records, one JSON object a line
    message-log-000000000001-000000004200.manifest.json     what they are, signed

A record line keeps every field of the live record (`payload` in base64, `at` exactly as
hashed), so the hash chain re-derives from the file alone. The manifest names the data
file and its SHA-256, the first and last sequence numbers, the hash the first record
follows (`prev_hash`: the previous archive's head, or the genesis hash), the last
record's hash (`head_hash`) and the seals of those records (`seals`, hub.audit.seals),
signed with the hub's key (hub.signing.detached) and carrying the signing certificate.
A verifier trusts that certificate only if it is the hub's own or listed in
`[audit] archive_certs` (the hub's earlier certificates).

Moving is safe against a crash at any point: a run writes the data file and the
manifest under temporary names, fsyncs them, renames them into place and fsyncs the
directory; only then does it delete the archived records from the live table. A run
that stopped after the rename and before the delete leaves records that are already
in an archive: the next run checks that they are exactly the archived ones and deletes
them. Records are archived only after their chain checks; a broken chain is refused,
never sealed. One run at a time (a lock file in the directory).

`ArchivedLog.verify()` checks every archive (signature, trusted signer, data digest,
the chain inside it, its link to the archive before it) and then the live log, whose
first record must follow the last archive's head; then every seal, archived or live (its
signature, the seal chain, the record it sealed), and the tail after the last seal. Each
problem names the archive and the record. It also lists the requests that have no
answer record.
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy import delete, func, select

from hub.audit.messagelog import (
    GENESIS,
    REQUEST,
    ChainReport,
    MessageLog,
    MessageLogHead,
    MessageRecord,
    Unanswered,
    record_hash,
)
from hub.audit.seals import MessageLogSeal, Seal, fingerprint, trusted_signers
from hub.clock import Clock, utcnow
from hub.db.backup import fsync_path
from hub.db.database import Database
from hub.errors import ArchiveError, InvalidRequest
from hub.signing.detached import sign_bytes, signature_valid
from hub.signing.keys import SigningIdentity

FORMAT = "hub-message-log-archive/1"
RECORDS_PER_FILE_MAX = 50_000  # one archive file; a run writes as many as it needs
READ_BATCH_COUNT = 1000
_MANIFEST = re.compile(r"^message-log-(\d{12})-(\d{12})\.manifest\.json$")


@dataclass(frozen=True)
class ArchiveRun:
    files: tuple[str, ...]  # the manifests written
    records: int
    first_seq: int | None
    last_seq: int | None
    leftover_deleted: int  # records a crashed run had archived and not yet deleted


@dataclass(frozen=True)
class Manifest:
    path: Path
    body: dict  # everything but the signature
    signature: dict
    problem: str | None = None  # the file could not be read as a manifest

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".manifest.json")

    @property
    def first_seq(self) -> int:
        """As the file is named (the signed body must say the same)."""
        return self._named_seq(1)

    @property
    def last_seq(self) -> int:
        return self._named_seq(2)

    def _named_seq(self, group: int) -> int:
        match = _MANIFEST.match(self.path.name)
        if match is None:  # ArchivedLog.manifests() reads only files named like one
            raise ArchiveError(f"{self.path.name} is not named as an archive's manifest")
        return int(match.group(group))

    @property
    def prev_hash(self) -> str:
        return self.body["prev_hash"]

    @property
    def head_hash(self) -> str:
        return self.body["head_hash"]


class ArchivedLog:
    """The message log as archives in `directory` plus the live table."""

    def __init__(
        self,
        db: Database,
        directory: Path,
        identity: SigningIdentity,
        trusted_certs: Iterable[x509.Certificate] = (),
        clock: Clock = utcnow,
        records_per_file_max: int = RECORDS_PER_FILE_MAX,
        tsa_certs: Iterable[x509.Certificate] = (),
    ) -> None:
        self.db = db
        self.directory = directory
        self.identity = identity
        self.trusted = trusted_signers(identity.cert, trusted_certs)
        self.clock = clock
        self.records_per_file_max = records_per_file_max
        self.tsa_certs = tuple(tsa_certs)

    # -- archiving ----------------------------------------------------------------------

    def archive(self, before: datetime, progress: Callable[[int, int], None] | None = None) -> ArchiveRun:
        """Move every record older than `before` (a prefix of the chain: up to the first
        record at or after `before`) into archive files; delete them from the live table
        once their files are on disk. `progress(records done, records in all)` after each file."""
        if before.tzinfo is None:
            raise InvalidRequest("the archive cutoff needs a time zone")
        if before > self.clock():
            raise InvalidRequest(f"the archive cutoff {before.isoformat()} is in the future")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._locked():
            after_seq, after_hash = self._last_head(check_signatures=True)
            leftover = self._delete_leftover(after_seq, after_hash)
            written: list[str] = []
            first = last = None
            total = 0
            limit_seq = self._last_seq_before(before)
            start_seq = after_seq
            while after_seq < limit_seq:
                last_seq = min(limit_seq, after_seq + self.records_per_file_max)
                seals = self._seals(after_seq + 1, last_seq)
                manifest = self._write(
                    self._records(after_seq, after_hash, last_seq), after_seq + 1, last_seq, after_hash, before, seals
                )
                with self.db.transaction() as session:
                    session.execute(
                        delete(MessageRecord).where(MessageRecord.seq.between(manifest.first_seq, manifest.last_seq))
                    )
                    session.execute(
                        delete(MessageLogSeal).where(MessageLogSeal.seq.between(manifest.first_seq, manifest.last_seq))
                    )
                written.append(manifest.path.name)
                first = manifest.first_seq if first is None else first
                last, total = manifest.last_seq, total + manifest.body["records"]
                after_seq, after_hash = manifest.last_seq, manifest.head_hash
                if progress is not None:
                    progress(after_seq - start_seq, limit_seq - start_seq)
            return ArchiveRun(tuple(written), total, first, last, leftover)

    def _last_seq_before(self, before: datetime) -> int:
        """The last sequence number of the prefix of records all older than `before`."""
        with self.db.read() as session:
            first_kept = session.scalar(select(func.min(MessageRecord.seq)).where(MessageRecord.at >= before))
            if first_kept is not None:
                return first_kept - 1
            return session.scalar(select(func.max(MessageRecord.seq))) or 0

    def _seals(self, first_seq: int, last_seq: int) -> list[Seal]:
        with self.db.read() as session:
            rows = session.scalars(
                select(MessageLogSeal)
                .where(MessageLogSeal.seq.between(first_seq, last_seq))
                .order_by(MessageLogSeal.seq)
            )
            return [Seal.of_row(r) for r in rows]

    def _records(self, after_seq: int, after_hash: str, last_seq: int) -> Iterator[dict]:
        """Records after_seq+1..last_seq as archive lines, streamed, their chain checked on the way."""
        expected, prev = after_seq + 1, after_hash
        with self.db.read() as session:
            query = (
                select(MessageRecord)
                .where(MessageRecord.seq > after_seq, MessageRecord.seq <= last_seq)
                .order_by(MessageRecord.seq)
            )
            for r in session.execute(query.execution_options(yield_per=READ_BATCH_COUNT)).scalars():
                if r.seq != expected or r.prev_hash != prev:
                    raise ArchiveError(
                        f"record {r.seq} does not follow record {expected - 1}; the live log's chain is broken, "
                        "so it is not archived: run `hub audit verify`"
                    )
                if (
                    record_hash(r.prev_hash, r.seq, r.at, r.direction, r.service, r.client_id, r.log_id, r.payload)
                    != r.hash
                ):
                    raise ArchiveError(
                        f"record {r.seq} does not match its hash (altered); it is not archived: run `hub audit verify`"
                    )
                yield _line(r)
                expected, prev = r.seq + 1, r.hash
        if expected != last_seq + 1:
            raise ArchiveError(
                f"records {expected}..{last_seq} are missing from the live log; nothing is archived:"
                " run `hub audit verify`"
            )

    def _write(
        self, lines: Iterator[dict], first_seq: int, last_seq: int, prev_hash: str, before: datetime, seals: list[Seal]
    ) -> Manifest:
        """The data file and its signed manifest, on disk (fsynced, renamed into place)."""
        stem = f"message-log-{first_seq:012d}-{last_seq:012d}"
        data_path, data_tmp = (self.directory / f"{stem}.jsonl.gz", self.directory / f".{stem}.jsonl.gz.tmp")
        manifest_path, manifest_tmp = (
            self.directory / f"{stem}.manifest.json",
            self.directory / f".{stem}.manifest.json.tmp",
        )
        count, head_hash = 0, prev_hash
        try:
            with open(data_tmp, "wb") as raw:
                with gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0
                ) as gz:  # mtime 0: same records, same bytes
                    for line in lines:
                        gz.write(json.dumps(line, sort_keys=True, separators=(",", ":")).encode() + b"\n")
                        count, head_hash = count + 1, line["hash"]
                raw.flush()
                os.fsync(raw.fileno())
            body = {
                "format": FORMAT,
                "data": data_path.name,
                "data_sha256": _sha256_file(data_tmp),
                "records": count,
                "first_seq": first_seq,
                "last_seq": last_seq,
                "prev_hash": prev_hash,
                "head_hash": head_hash,
                "seals": [seal.as_json() for seal in seals],
                "before": before.isoformat(),
                "created_at": self.clock().isoformat(),
                "certificate": self.identity.cert_pem.decode(),
            }
            algorithm, value = sign_bytes(self.identity, _canonical(body))
            signature = {"algorithm": algorithm, "value": base64.b64encode(value).decode()}
            with open(manifest_tmp, "wb") as f:
                f.write(json.dumps({**body, "signature": signature}, indent=2, sort_keys=True).encode() + b"\n")
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            data_tmp.unlink(missing_ok=True)
            manifest_tmp.unlink(missing_ok=True)
            raise
        os.replace(data_tmp, data_path)
        os.replace(manifest_tmp, manifest_path)
        fsync_path(self.directory)
        return Manifest(manifest_path, body, signature)

    def _delete_leftover(self, after_seq: int, after_hash: str) -> int:
        """Live records at or below the last archive's head: a run stopped between writing
        its files and deleting. They must be the archived ones (the head record matches)."""
        with self.db.transaction() as session:
            count = session.scalar(
                select(func.count()).select_from(MessageRecord).where(MessageRecord.seq <= after_seq)
            )
            if not count:
                return 0
            head = session.get(MessageRecord, after_seq)
            if head is None or head.hash != after_hash:
                raise ArchiveError(
                    f"the live log holds records up to {after_seq} that differ from the archive ending there; "
                    "run `hub audit verify`"
                )
            session.execute(delete(MessageRecord).where(MessageRecord.seq <= after_seq))
            session.execute(delete(MessageLogSeal).where(MessageLogSeal.seq <= after_seq))
            return count

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.directory / ".lock", "a+b") as lock:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ArchiveError(f"another `hub audit archive` is running on {self.directory}") from None
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    # -- reading ------------------------------------------------------------------------

    def manifests(self) -> list[Manifest]:
        """Every archive's manifest, oldest first (unread fields unchecked)."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.iterdir():
            if _MANIFEST.match(path.name):
                try:
                    document = json.loads(path.read_bytes())
                    if not isinstance(document, dict):
                        raise ValueError("not a JSON object")
                except (OSError, ValueError) as error:
                    found.append(Manifest(path, {}, {}, f"the manifest cannot be read ({error})"))
                    continue
                signature = document.pop("signature", {})
                found.append(Manifest(path, document, signature))
        return sorted(found, key=lambda m: (m.first_seq, m.last_seq))

    def last_head(self) -> tuple[int, str]:
        """(seq, hash) of the last archived record, its manifest's signature checked; (0, genesis) without archives."""
        return self._last_head(check_signatures=True)

    def archived_records(self, after_seq: int) -> Iterator[dict]:
        """The archived records after `after_seq` as their lines (payload decoded), oldest first,
        from archives whose signature and data digest check."""
        for manifest in self.manifests():
            if manifest.last_seq <= after_seq:
                continue
            data = self.directory / manifest.body.get("data", "")
            problem = manifest.problem or self._signature_problem(manifest)
            if problem is None and (not data.is_file() or _sha256_file(data) != manifest.body.get("data_sha256")):
                problem = "its data file is missing or not the one the manifest signed"
            if problem:
                raise ArchiveError(f"archive {manifest.name}: {problem}; run `hub audit verify`")
            with gzip.open(data, "rb") as lines:
                for raw in lines:
                    line = json.loads(raw)
                    if line["seq"] > after_seq:
                        yield {
                            **line,
                            "at": datetime.fromisoformat(line["at"]),
                            "payload": base64.b64decode(line["payload"]),
                        }

    def _last_head(self, check_signatures: bool) -> tuple[int, str]:
        manifests = self.manifests()
        if not manifests:
            return 0, GENESIS
        last = manifests[-1]
        if check_signatures and (problem := self._signature_problem(last)):
            raise ArchiveError(f"archive {last.name}: {problem}; run `hub audit verify`")
        return last.last_seq, last.head_hash

    def _signature_problem(self, manifest: Manifest) -> str | None:
        try:
            cert = x509.load_pem_x509_certificate(manifest.body["certificate"].encode())
            value = base64.b64decode(manifest.signature["value"], validate=True)
            algorithm = manifest.signature["algorithm"]
        except (KeyError, TypeError, ValueError):
            return "the manifest has no readable signature or certificate"
        if fingerprint(cert) not in self.trusted:
            return (
                "signed by a certificate the hub does not trust"
                f" ({cert.subject.rfc4514_string()}, sha256 {fingerprint(cert)[:16]}...)"
            )
        if not signature_valid(cert, algorithm, _canonical(manifest.body), value):
            return "the manifest's signature does not verify (the manifest was changed)"
        return None

    # -- verifying ----------------------------------------------------------------------

    def verify(self, seal_every_records: int | None = None) -> ChainReport:
        """Every archive, then the live log following the last of them, then the seals.
        With `seal_every_records`, a tail after the last seal at least that long is a
        problem: the hub never leaves one (seals were removed, or sealing failed)."""
        problems: list[str] = []
        stamps: list[datetime] = []
        walk = _SealWalk(self._all_seals(problems, stamps))
        records = 0
        after_seq = 0
        after_hash: str | None = GENESIS  # None after an archive that cannot be read
        for manifest in self.manifests():
            where = f"archive {manifest.name}"
            if manifest.problem or manifest.body.get("format") != FORMAT:
                problems.append(f"{where}: {manifest.problem or 'unknown format ' + repr(manifest.body.get('format'))}")
                after_seq, after_hash = manifest.last_seq, None
                continue
            if (manifest.body.get("first_seq"), manifest.body.get("last_seq")) != (
                manifest.first_seq,
                manifest.last_seq,
            ):
                problems.append(
                    f"{where}: the manifest signs records"
                    f" {manifest.body.get('first_seq')}..{manifest.body.get('last_seq')},"
                    " not those its name says (renamed)"
                )
            if problem := self._signature_problem(manifest):
                problems.append(f"{where}: {problem}")
            if manifest.first_seq != after_seq + 1:
                problems.append(
                    f"{where}: starts at record {manifest.first_seq}, but the archive before ends at {after_seq} "
                    f"(records {after_seq + 1}..{manifest.first_seq - 1} are missing)"
                    if manifest.first_seq > after_seq + 1
                    else f"{where}: overlaps the archive before it (starts at record {manifest.first_seq})"
                )
            elif after_hash is not None and manifest.prev_hash != after_hash:
                problems.append(
                    f"{where}: does not follow the archive before it (its prev_hash is not that archive's head)"
                )
            count, chain_problems = self._verify_data(manifest, where, walk)
            records += count
            problems.extend(chain_problems)
            after_seq, after_hash = manifest.last_seq, manifest.head_hash
        live = MessageLog(self.db).verify(after_seq, after_hash or "(an unreadable archive's head)", watch=walk.record)
        problems.extend(f"live log: {p}" for p in live.problems)
        last_seq = max(live.last_seq, after_seq)
        with self.db.read() as session:
            head = session.get(MessageLogHead, 1)
        problems.extend(walk.finish(last_seq, head, seal_every_records))
        return ChainReport(
            records + live.records,
            tuple(problems),
            seals=len(walk.seals),
            last_sealed_seq=walk.last_sealed_seq,
            last_seq=last_seq,
            unanswered=tuple(walk.open.values()),
            stamped=len(stamps),
            last_stamp_at=max(stamps) if stamps else None,
        )

    def _all_seals(self, problems: list[str], stamps: list[datetime]) -> list[Seal]:
        """Every seal, archived (in the manifests, which sign them) and live, oldest first, each
        checked (signature, trusted signer, the seal chain, its time-stamp if any); the ones that
        check. The genTime of each time-stamp that verifies goes into `stamps`."""
        found: list[tuple[str, Seal]] = []
        for manifest in self.manifests():
            for i, data in enumerate(manifest.body.get("seals", []) if not manifest.problem else []):
                try:
                    seal = Seal.from_json(data)
                except (ValueError, KeyError, TypeError):
                    problems.append(f"archive {manifest.name}: seal {i + 1} is not readable")
                    continue
                if not manifest.first_seq <= seal.seq <= manifest.last_seq:
                    problems.append(
                        f"archive {manifest.name}: holds the seal of record {seal.seq}, outside its records"
                    )
                found.append((f"archive {manifest.name}", seal))
        with self.db.read() as session:
            found += [
                ("live log", Seal.of_row(r))
                for r in session.scalars(select(MessageLogSeal).order_by(MessageLogSeal.seq))
            ]
        good: list[Seal] = []
        prev_seq, prev_digest = 0, GENESIS
        for where, seal in found:
            about = f"{where}: seal of record {seal.seq} ({seal.sealed_at.isoformat()})"
            if problem := seal.problem(self.trusted):
                problems.append(f"{about}: {problem}")
                continue
            if seal.seq <= prev_seq:
                problems.append(f"{about}: not after the seal before it (record {prev_seq})")
            elif seal.prev_seal != prev_digest:
                problems.append(
                    f"{about}: does not follow the seal before it"
                    f" (a seal between record {prev_seq} and {seal.seq} was removed)"
                )
            stamped_at, stamp_problem = seal.stamp_problem(self.tsa_certs)
            if stamp_problem:
                problems.append(f"{about}: {stamp_problem}")
            elif stamped_at is not None:
                stamps.append(stamped_at)
            good.append(seal)
            prev_seq, prev_digest = seal.seq, seal.digest
        return good

    def _verify_data(self, manifest: Manifest, where: str, walk: _SealWalk) -> tuple[int, list[str]]:
        problems: list[str] = []
        data = self.directory / manifest.body.get("data", "")
        if not data.is_file():
            return 0, [f"{where}: the data file {data.name} is missing"]
        if _sha256_file(data) != manifest.body.get("data_sha256"):
            problems.append(
                f"{where}: the data file {data.name} is not the one the manifest signed (altered or replaced)"
            )
        expected, prev, count = manifest.first_seq, manifest.prev_hash, 0
        try:
            with gzip.open(data, "rb") as lines:
                for number, raw in enumerate(lines, 1):
                    count += 1
                    try:
                        r = json.loads(raw)
                        seq, line_prev, line_hash = r["seq"], r["prev_hash"], r["hash"]
                        digest = record_hash(
                            line_prev,
                            seq,
                            datetime.fromisoformat(r["at"]),
                            r["direction"],
                            r["service"],
                            r["client_id"],
                            r["log_id"],
                            base64.b64decode(r["payload"], validate=True),
                        )
                    except (ValueError, KeyError, TypeError):
                        problems.append(f"{where}: line {number} is not a readable record")
                        continue
                    if seq != expected:
                        problems.append(
                            f"{where}: record {seq} is where record {expected} belongs (deleted or inserted)"
                        )
                    if line_prev != prev:
                        problems.append(
                            f"{where}: record {seq}: does not follow the record before it"
                            " (inserted, or one before it deleted or altered)"
                        )
                    if digest != line_hash:
                        problems.append(f"{where}: record {seq}: content does not match its hash (altered)")
                    expected, prev = seq + 1, line_hash
                    walk.record(
                        _Archived(
                            seq,
                            line_hash,
                            r["direction"],
                            r["service"],
                            r["client_id"],
                            r["log_id"],
                            datetime.fromisoformat(r["at"]),
                        )
                    )
        except (OSError, EOFError, gzip.BadGzipFile) as error:
            problems.append(f"{where}: the data file cannot be read to the end ({error})")
        if count != manifest.body.get("records") or expected != manifest.last_seq + 1 or prev != manifest.head_hash:
            problems.append(
                f"{where}: the records do not end at the signed head"
                f" (record {manifest.last_seq}, {manifest.body.get('records')} records)"
            )
        return count, problems


@dataclass(frozen=True)
class _Archived:
    """An archived record as the seal walk sees it (the fields of MessageRecord it reads)."""

    seq: int
    hash: str
    direction: str
    service: str
    client_id: str
    log_id: str
    at: datetime


class _SealWalk:
    """Goes along every record, archived and live, in order: checks each seal against the
    record it sealed, and keeps the requests no answer has followed yet."""

    def __init__(self, seals: list[Seal]) -> None:
        self.seals = seals
        self.by_seq = {seal.seq: seal for seal in seals}
        self.matched: set[int] = set()
        self.problems: list[str] = []
        self.open: dict[str, Unanswered] = {}
        self.last_sealed_seq = 0

    def record(self, r) -> None:
        seal = self.by_seq.get(r.seq)
        if seal is not None:
            self.matched.add(r.seq)
            if seal.head_hash != r.hash:
                self.problems.append(
                    f"record {r.seq}: not the record the hub sealed at {seal.sealed_at.isoformat()} "
                    "(it or a record before it was rewritten, inserted or deleted, and the chain rehashed)"
                )
        if r.direction == REQUEST:
            self.open[r.log_id] = Unanswered(r.seq, r.at, r.service, r.client_id, r.log_id)
        else:
            self.open.pop(r.log_id, None)

    def finish(self, last_seq: int, head: MessageLogHead | None, seal_every_records: int | None) -> list[str]:
        problems = list(self.problems)
        for seal in self.seals:
            if seal.seq > last_seq:
                problems.append(
                    f"the hub sealed record {seal.seq} at {seal.sealed_at.isoformat()},"
                    f" but the log ends at record {last_seq}:"
                    f" records {last_seq + 1}..{seal.seq} were cut off"
                )
            elif seal.seq not in self.matched:
                problems.append(f"record {seal.seq}, sealed at {seal.sealed_at.isoformat()}, is missing (deleted)")
        last = self.seals[-1] if self.seals else None
        self.last_sealed_seq = last.seq if last else 0
        if (
            head is not None
            and head.sealed_seq
            and (last is None or (head.sealed_seq, head.seal_digest) != (last.seq, last.digest))
        ):
            problems.append(
                f"the log's head names a seal of record {head.sealed_seq}, but the last seal found is "
                f"{'of record ' + str(last.seq) if last else 'none'}: seals were removed"
            )
        unsealed = last_seq - self.last_sealed_seq
        if seal_every_records is not None and unsealed >= seal_every_records:
            problems.append(
                f"records {self.last_sealed_seq + 1}..{last_seq} ({unsealed}) are not sealed,"
                f" though the hub seals every {seal_every_records} records: seals were removed,"
                " or sealing failed (`hub audit seal` seals them now)"
            )
        return problems


def _line(r: MessageRecord) -> dict:
    return {
        "seq": r.seq,
        "at": r.at.isoformat(),
        "direction": r.direction,
        "service": r.service,
        "client_id": r.client_id,
        "log_id": r.log_id,
        "payload": base64.b64encode(r.payload).decode(),
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_certificates(paths: Iterable[Path]) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(Path(p).read_bytes()) for p in paths]

"""Message log archives: old records moved into signed files, checked with the live log;
a tampered archived record is named; crashes and broken chains are handled."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from hub.app import cli
from hub.audit.messagelog import REQUEST, RESPONSE, Entry, MessageLog, MessageRecord
from hub.errors import ArchiveError
from hub.signing import devcerts
from hub.signing.keys import SigningIdentity
from tests.support.factories import config_copy
from tests.support.ops import DAY1, DAY3, NOW, archived


def fill(db, old: int = 6, new: int = 4) -> None:
    """`old` records on DAY1 and `new` on DAY3, requests and answers in turn."""
    log = MessageLog(db)
    for i in range(old + new):
        at = (DAY1 if i < old else DAY3) + timedelta(seconds=i)
        log.append(
            Entry(
                at,
                REQUEST if i % 2 == 0 else RESPONSE,
                "office",
                "pojazd-1465",
                f"log-{i // 2}",
                f"<m{i}>ABCD</m{i}>".encode(),
            )
        )


def live_count(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(MessageRecord))


def rewrite_record(data_file: Path, seq: int, **changes) -> None:
    """Change one archived record's fields in the gzip file, as a tamperer would."""
    lines = [json.loads(line) for line in gzip.decompress(data_file.read_bytes()).splitlines()]
    for line in lines:
        if line["seq"] == seq:
            line.update(changes)
    data_file.write_bytes(gzip.compress(b"".join(json.dumps(line).encode() + b"\n" for line in lines)))


def test_old_records_move_into_a_signed_archive_and_the_chain_still_verifies(db, tmp_path):
    fill(db)
    archive = archived(db, tmp_path / "archive")
    run = archive.archive(DAY1 + timedelta(days=1))
    assert (run.records, run.first_seq, run.last_seq) == (6, 1, 6)
    assert run.files == ("message-log-000000000001-000000000006.manifest.json",)
    assert live_count(db) == 4
    report = archive.verify()
    assert (report.ok, report.records) == (True, 10), report.problems
    # the head of the chain is signed by the hub's key, with its certificate
    manifest = json.loads((tmp_path / "archive" / run.files[0]).read_text())
    assert (manifest["last_seq"], manifest["records"], manifest["signature"]["algorithm"]) == (6, 6, "rsa-sha256")
    with db.read() as session:
        assert manifest["head_hash"] != session.get(MessageRecord, 7).hash
        assert session.get(MessageRecord, 7).prev_hash == manifest["head_hash"]


def test_a_second_run_continues_the_chain_and_small_files_split(db, tmp_path):
    fill(db, old=6, new=4)
    archive = archived(db, tmp_path / "archive", records_per_file_max=4)
    assert archive.archive(DAY1 + timedelta(days=1)).files == (
        "message-log-000000000001-000000000004.manifest.json",
        "message-log-000000000005-000000000006.manifest.json",
    )
    assert archive.archive(DAY1 + timedelta(days=1)).records == 0  # nothing more before that day
    assert archive.archive(NOW).last_seq == 10
    assert live_count(db) == 0
    MessageLog(db).append(Entry(NOW, REQUEST, "office", "pojazd-1465", "log-9", b"<later/>"))
    report = archive.verify()
    assert (report.ok, report.records, len(archive.manifests())) == (True, 11, 3), report.problems


def test_a_tampered_archived_record_is_named(db, tmp_path):
    fill(db)
    archive = archived(db, tmp_path / "archive")
    archive.archive(DAY1 + timedelta(days=1))
    rewrite_record(
        tmp_path / "archive" / "message-log-000000000001-000000000006.jsonl.gz",
        3,
        payload=base64.b64encode(b"<m2>WXYZ</m2>").decode(),
    )
    problems = archive.verify().problems
    assert (
        "archive message-log-000000000001-000000000006: record 3: content does not match its hash (altered)" in problems
    )
    assert any("is not the one the manifest signed" in p for p in problems)


def test_a_record_forged_with_its_hash_recomputed_still_breaks_the_signed_head(db, tmp_path):
    from hub.audit.messagelog import record_hash

    fill(db)
    archive = archived(db, tmp_path / "archive")
    archive.archive(DAY1 + timedelta(days=1))
    data = tmp_path / "archive" / "message-log-000000000001-000000000006.jsonl.gz"
    line = next(json.loads(x) for x in gzip.decompress(data.read_bytes()).splitlines() if json.loads(x)["seq"] == 6)
    forged = record_hash(
        line["prev_hash"],
        6,
        datetime.fromisoformat(line["at"]),
        line["direction"],
        line["service"],
        line["client_id"],
        line["log_id"],
        b"<forged/>",
    )
    rewrite_record(data, 6, payload=base64.b64encode(b"<forged/>").decode(), hash=forged)
    problems = archive.verify().problems
    assert any("do not end at the signed head" in p for p in problems), problems


def test_a_changed_manifest_or_a_missing_archive_is_found(db, tmp_path):
    fill(db)
    archive = archived(db, tmp_path / "archive", records_per_file_max=2)
    archive.archive(DAY1 + timedelta(days=1))
    first = tmp_path / "archive" / "message-log-000000000001-000000000002.manifest.json"
    manifest = json.loads(first.read_text())
    manifest["records"] = 1
    first.write_text(json.dumps(manifest))
    assert (
        "archive message-log-000000000001-000000000002: "
        "the manifest's signature does not verify (the manifest was changed)" in archive.verify().problems
    )
    (tmp_path / "archive" / "message-log-000000000003-000000000004.manifest.json").unlink()
    assert any("records 3..4 are missing" in p for p in archive.verify().problems)


def test_an_archive_signed_by_an_unknown_key_is_refused_and_an_old_hub_key_is_trusted_when_listed(db, tmp_path):
    fill(db)
    key, cert = devcerts.self_signed("old hub key")
    old = SigningIdentity(key, cert)
    archived(db, tmp_path / "archive", identity=old).archive(DAY1 + timedelta(days=1))
    problems = archived(db, tmp_path / "archive").verify().problems
    assert any("signed by a certificate the hub does not trust (CN=old hub key" in p for p in problems)
    # after a rotation the hub lists its earlier certificate in [audit] archive_certs
    assert archived(db, tmp_path / "archive", trusted_certs=[cert]).verify().ok


def test_a_run_stopped_before_the_delete_is_finished_by_the_next(db, tmp_path, monkeypatch):
    fill(db)
    archive = archived(db, tmp_path / "archive")

    def crash(*_a, **_kw):
        raise RuntimeError("power cut")

    monkeypatch.setattr("hub.audit.archive.delete", crash)
    with pytest.raises(RuntimeError):
        archive.archive(DAY1 + timedelta(days=1))
    monkeypatch.undo()
    assert live_count(db) == 10 and len(archive.manifests()) == 1  # on disk, not yet deleted
    assert any("still in the live log although archived" in p for p in archive.verify().problems)
    run = archive.archive(DAY1 + timedelta(days=1))
    assert (run.leftover_deleted, run.records, live_count(db)) == (6, 0, 4)
    assert archive.verify().ok


def test_a_broken_live_chain_is_never_sealed_into_an_archive(db, tmp_path):
    fill(db)
    with db.transaction() as session:
        session.execute(update(MessageRecord).where(MessageRecord.seq == 2).values(payload=b"<forged/>"))
    archive = archived(db, tmp_path / "archive")
    with pytest.raises(ArchiveError, match="record 2 does not match its hash"):
        archive.archive(DAY1 + timedelta(days=1))
    assert archive.manifests() == [] and live_count(db) == 10
    assert list((tmp_path / "archive").glob("*.tmp")) == []


def test_a_cutoff_in_the_future_is_refused(db, tmp_path):
    with pytest.raises(Exception, match="in the future"):
        archived(db, tmp_path / "archive").archive(NOW + timedelta(days=1))


# -- the hub command, as the daily timer runs it ------------------------------------------


@pytest.fixture
def run(tmp_path, db_url):
    config_dir = config_copy(tmp_path, db_url)

    def run(*args: str, code: int = 0):
        result = CliRunner().invoke(cli, ["--config", str(config_dir), *args], catch_exceptions=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    run.config_dir = config_dir
    return run


def test_hub_audit_archive_then_verify_names_the_tampered_archived_record(run, db):
    fill(db)
    result = json.loads(run("audit", "archive", "--before", "2026-01-06", "--json").stdout)
    assert (result["records"], result["first_seq"], result["last_seq"]) == (6, 1, 6)
    directory = Path(result["directory"])
    assert directory == run.config_dir / "var" / "message-log-archive"
    assert "10 records (1 archives and the live log), chain intact" in run("audit", "verify").stdout

    rewrite_record(directory / "message-log-000000000001-000000000006.jsonl.gz", 4, log_id="log-forged")
    failed = run("audit", "verify", code=1)
    assert (
        "hub: message log: archive message-log-000000000001-000000000006: "
        "record 4: content does not match its hash (altered)" in failed.stderr
    )
    report = json.loads(run("audit", "verify", "--json", code=1).stdout)
    assert report["ok"] is False and report["archives"] == 1


def test_hub_audit_archive_uses_the_retention_setting(run, db):
    hub_toml = run.config_dir / "hub.toml"
    hub_toml.write_text(hub_toml.read_text() + "\n[audit]\nretention_days = 30\n")
    old = datetime.now(UTC) - timedelta(days=40)
    log = MessageLog(db)
    log.append(
        Entry(old, REQUEST, "office", "pojazd-1465", "a", b"<old/>"),
        Entry(old, RESPONSE, "office", "pojazd-1465", "a", b"<old/>"),
    )
    log.append(Entry(datetime.now(UTC), REQUEST, "office", "pojazd-1465", "b", b"<new/>"))
    assert "archived records 1..2 (2)" in run("audit", "archive").stdout
    assert live_count(db) == 1


def test_hub_audit_archive_without_a_cutoff_says_what_to_give(run):
    failed = run("audit", "archive", code=1)
    assert failed.stderr.strip() == "hub: InvalidRequest: give --before DATE, or set [audit] retention_days in hub.toml"

"""Seals: the message log's head signed with the hub's key (issue 19). The two attacks that
passed `hub audit verify` on the bare hash chain (a cut tail with the head moved back; a
record rewritten and every later one rehashed) are found, and so is a seal removed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from hub.app import Hub
from hub.audit.messagelog import REQUEST, Entry, MessageLog, MessageLogHead, MessageRecord, record_hash
from hub.audit.seals import MessageLogSeal, Sealer
from hub.config import load_config
from tests.support.ops import DAY1, archived, exchange, hub_identity

T0 = DAY1


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def sealed_log(db, clock, every_records: int = 5, every_s: int = 60) -> MessageLog:
    return MessageLog(db, Sealer(hub_identity(), clock, every_records, every_s))


def exchanged(db, exchanges: int, every_records: int) -> MessageLog:
    """A sealing log at T0 holding `exchanges` request/answer pairs (two records each)."""
    log = sealed_log(db, Clock(), every_records=every_records)
    for i in range(exchanges):
        exchange(log, i)
    return log


def seal_seqs(db) -> list[int]:
    with db.read() as s:
        return list(s.scalars(select(MessageLogSeal.seq).order_by(MessageLogSeal.seq)))


def rehash_from(db, seq: int, payload: bytes) -> None:
    """The second attack: rewrite record `seq` and rehash it and every later record with the hub's own
    record_hash, then move the head to the new last hash. The bare chain verifies afterwards."""
    with db.transaction() as s:
        records = list(s.scalars(select(MessageRecord).where(MessageRecord.seq >= seq).order_by(MessageRecord.seq)))
        prev = s.get(MessageRecord, seq - 1).hash
        for r in records:
            if r.seq == seq:
                r.payload = payload
            r.prev_hash = prev
            r.hash = prev = record_hash(
                r.prev_hash, r.seq, r.at, r.direction, r.service, r.client_id, r.log_id, r.payload
            )
        s.execute(update(MessageLogHead).where(MessageLogHead.id == 1).values(hash=prev))


def cut_tail(db, keep: int) -> None:
    """The first attack: delete the records after `keep` and move the head back to it."""
    with db.transaction() as s:
        last = s.get(MessageRecord, keep)
        s.execute(delete(MessageRecord).where(MessageRecord.seq > keep))
        s.execute(update(MessageLogHead).where(MessageLogHead.id == 1).values(seq=keep, hash=last.hash))


def test_the_write_path_seals_every_n_records_and_after_t_seconds(db, tmp_path):
    clock = Clock()
    log = sealed_log(db, clock, every_records=5, every_s=60)
    for i in range(6):
        exchange(log, i)  # records 1..12
    # the first append seals (nothing sealed yet), then every 5 records
    assert seal_seqs(db) == [1, 6, 11]
    clock.now += timedelta(seconds=61)
    exchange(log, 6, clock)  # records 13, 14: 13 is sealed, 60 s after the last seal
    assert seal_seqs(db) == [1, 6, 11, 13]
    report = archived(db, tmp_path / "archive").verify(seal_every_records=5)
    assert report.ok, report.problems
    assert (report.seals, report.last_sealed_seq, report.unsealed, report.records) == (4, 13, 1, 14)


def test_a_group_commit_s_batch_seals_once_committed_when_a_seal_is_due(db, tmp_path):
    """Records appended three at a time in one transaction, as the group commit's flush appends
    its batch (`MessageLog.append`), seal the head once committed, when a seal is due."""
    log = sealed_log(db, Clock(), every_records=5)
    for batch in range(3):
        entries = [Entry(T0, REQUEST, "office", "pojazd-1465", f"log-{batch}-{i}", b"<a/>") for i in range(3)]
        assert log.append(*entries) == 3 * (batch + 1)
    assert seal_seqs(db) == [3, 9]  # the first batch's end (nothing sealed yet), then 6 records on
    report = archived(db, tmp_path / "archive").verify(seal_every_records=5)
    assert (report.ok, report.last_sealed_seq, report.records) == (True, 9, 9), report.problems


def test_a_seal_on_demand_covers_the_tail_and_a_second_finds_nothing_new(db, tmp_path):
    log = exchanged(db, 3, every_records=100)
    assert seal_seqs(db) == [1]
    seal = log.seal()
    assert (seal.seq, log.seal()) == (6, None)
    report = archived(db, tmp_path / "archive").verify(seal_every_records=100)
    assert (report.ok, report.unsealed, report.last_sealed_seq) == (True, 0, 6)


def test_a_cut_tail_with_the_head_moved_back_is_found(db, tmp_path):
    log = exchanged(db, 10, every_records=100)
    log.seal()  # as `hub audit seal` from its timer
    cut_tail(db, 18)
    assert log.verify().ok  # the bare chain cannot tell
    report = archived(db, tmp_path / "archive").verify(seal_every_records=100)
    assert any("the log ends at record 18: records 19..20 were cut off" in p for p in report.problems), report.problems


def test_a_record_rewritten_and_every_later_one_rehashed_is_found(db, tmp_path):
    log = exchanged(db, 200, every_records=100)  # 400 records, sealed at 1, 101, 201, 301 (and 400 below)
    log.seal()
    rehash_from(db, 300, b"<forged/>")
    assert log.verify().ok  # the bare chain cannot tell
    problems = archived(db, tmp_path / "archive").verify(seal_every_records=100).problems
    assert [p for p in problems if "not the record the hub sealed" in p] == [
        "record 301: not the record the hub sealed at 2026-01-05T10:00:00+00:00 "
        "(it or a record before it was rewritten, inserted or "
        "deleted, and the chain rehashed)",
        "record 400: not the record the hub sealed at 2026-01-05T10:00:00+00:00 "
        "(it or a record before it was rewritten, inserted or "
        "deleted, and the chain rehashed)",
    ]


def test_removing_the_seals_too_is_found(db, tmp_path):
    exchanged(db, 200, every_records=100)
    rehash_from(db, 300, b"<forged/>")
    # the tamperer also deletes the seals that would give the rewrite away, and points the head at the last one left
    with db.transaction() as s:
        s.execute(delete(MessageLogSeal).where(MessageLogSeal.seq >= 300))
        kept = s.get(MessageLogSeal, 201)
        s.execute(update(MessageLogHead).where(MessageLogHead.id == 1).values(sealed_seq=201, seal_digest=kept.digest))
    problems = archived(db, tmp_path / "archive").verify(seal_every_records=100).problems
    assert problems == (
        "records 202..400 (199) are not sealed, though the hub seals every 100 records: seals were removed, or sealing "
        "failed (`hub audit seal` seals them now)",
    )


def test_a_seal_removed_from_the_middle_or_changed_is_found(db, tmp_path):
    exchanged(db, 8, every_records=5)  # seals at 1, 6, 11, 16
    with db.transaction() as s:
        s.execute(delete(MessageLogSeal).where(MessageLogSeal.seq == 6))
        s.execute(update(MessageLogSeal).where(MessageLogSeal.seq == 16).values(head_hash="0" * 64))
    problems = archived(db, tmp_path / "archive").verify(seal_every_records=5).problems
    assert any("seal of record 11" in p and "a seal between record 1 and 11 was removed" in p for p in problems), (
        problems
    )
    assert any("seal of record 16" in p and "the seal was changed" in p for p in problems), problems


def test_seals_move_into_the_archive_with_their_records_and_still_check(db, tmp_path):
    log = exchanged(db, 8, every_records=5)
    archive = archived(db, tmp_path / "archive")
    run = archive.archive(T0 + timedelta(seconds=1))
    assert (run.first_seq, run.last_seq) == (1, 16)
    assert seal_seqs(db) == []
    manifest = json.loads((tmp_path / "archive" / run.files[0]).read_text())
    assert [s["seq"] for s in manifest["seals"]] == [1, 6, 11, 16]
    exchange(log, 8)  # the chain of seals continues after the archive: record 17 is not due yet, 21 would be
    for i in range(9, 11):
        exchange(log, i)
    assert seal_seqs(db) == [21]
    report = archive.verify(seal_every_records=5)
    assert (report.ok, report.seals, report.last_sealed_seq) == (True, 5, 21), report.problems


def test_requests_with_no_answer_are_listed(db, tmp_path):
    clock = Clock()
    log = sealed_log(db, clock)
    exchange(log, 1)
    log.append(Entry(T0, REQUEST, "company", "firma-1", "lost-answer", b"<in/>"))
    exchange(log, 2)
    report = archived(db, tmp_path / "archive").verify()
    assert report.ok
    assert [(u.seq, u.log_id, u.service, u.client_id) for u in report.unanswered] == [
        (3, "lost-answer", "company", "firma-1")
    ]


# -- the `hub` command --------------------------------------------------------


def test_hub_audit_seal_and_verify_report_the_seals_and_find_both_attacks(run, config_dir):
    hub = Hub(load_config(config_dir))
    for i in range(5):
        exchange(hub.message_log, i)
    hub.message_log.append(Entry(T0, REQUEST, "office", "pojazd-1465", "no-answer", b"<in/>"))
    assert run("audit", "seal").stdout == "message log: sealed at record 11\n"
    assert run("audit", "seal").stdout == "message log: nothing new since the last seal\n"
    out = run("audit", "verify").stdout
    assert (
        "message log: 11 records, chain intact; 2 seals, the last of record 11; 0 records after it not yet sealed"
        in out
    )
    assert "request no-answer (record 11, office, pojazd-1465" in out and "no answer record" in out

    cut_tail(hub.db, 9)
    result = run("audit", "verify", ok=False)
    assert result.exit_code == 1
    assert "the log ends at record 9: records 10..11 were cut off" in result.stderr
    hub.close()


def test_hub_audit_verify_finds_a_rewrite_rehashed_through_the_cli(run, config_dir):
    hub = Hub(load_config(config_dir))
    for i in range(160):
        exchange(hub.message_log, i)
    rehash_from(hub.db, 300, b"<forged/>")
    result = run("audit", "verify", ok=False)
    assert result.exit_code == 1 and "record 301: not the record the hub sealed" in result.stderr
    hub.close()


@pytest.mark.parametrize(
    "key, value, message", [("seal_every_records", "0", "seal_every_records"), ("seal_every_s", '"60"', "seal_every_s")]
)
def test_the_seal_settings_are_checked(config_dir, run, key, value, message):
    hub_toml = config_dir / "hub.toml"
    hub_toml.write_text(
        hub_toml.read_text() + f"\n[audit]\n{key} = {value}\n"
        if "[audit]" not in hub_toml.read_text()
        else hub_toml.read_text().replace("[audit]", f"[audit]\n{key} = {value}")
    )
    result = run("config", "check", ok=False)
    assert result.exit_code == 1 and message in result.stderr

"""Journals for the offices' finance-accounting systems: built from the day's
redemptions, reversals and cash desk takings; exported as files, or queued for
PostJournal when the office has an FK system (offices.toml fk_wsdl)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.access import REPORTS_READ, Actor
from hub.clock import Clock, utcnow
from hub.config import Offices, Tariff
from hub.db.database import Database
from hub.errors import NotFound
from hub.fk.courier import KIND
from hub.fk.journal import DayTakings, Journal, build_journal, journal_id
from hub.outbox import enqueue
from hub.outbox.models import OutboxRecord


class Takings(Protocol):
    """What the office's cash desks took on a day, asked as `actor` (hub.cashdesk's day_takings)."""

    def __call__(self, office_code: str, day: date, *, actor: Actor) -> DayTakings: ...


class JournalFiles(Protocol):
    """Writes a journal as `<JournalId>.csv` and `.xml` in a folder (made if missing);
    returns both paths (hub.adapters.fk_export.write_files)."""

    def __call__(self, journal: Journal, out_dir: Path) -> tuple[Path, Path]: ...


@dataclass(frozen=True)
class ExportedJournal:
    journal: Journal
    csv_path: Path
    xml_path: Path


class JournalService:
    def __init__(
        self,
        db: Database,
        tariff: Tariff,
        offices: Offices,
        clock: Clock = utcnow,
        takings: Takings | None = None,
        *,
        files: JournalFiles,
    ) -> None:
        self.db = db
        self.tariff = tariff
        self.offices = offices
        self.clock = clock
        self.takings = takings  # hub.cashdesk's day_takings, when the cash desk is there
        self.files = files  # the CSV and XML writer (hub.adapters.fk_export, injected by hub.app)

    def journal(self, office_code: str, day: date, *, actor: Actor) -> Journal:
        self.offices.known(office_code)
        actor.require(REPORTS_READ, office_code=office_code)
        with self.db.read() as session:
            return self._build(session, office_code, day, actor)

    def export(self, office_code: str, day: date, out_dir: Path, *, actor: Actor) -> ExportedJournal:
        """`FK-<office>-<yyyymmdd>.csv` and `.xml` in `out_dir`."""
        journal = self.journal(office_code, day, actor=actor)
        if not journal.lines:
            raise NotFound(
                f"office {office_code} has nothing to book on {day.isoformat()}: no captures, reversals or takings"
            )
        csv_path, xml_path = self.files(journal, out_dir)
        return ExportedJournal(journal, csv_path, xml_path)

    def enqueue_for(self, session: Session, office_code: str, day: date, *, actor: Actor) -> OutboxRecord | None:
        """In the caller's transaction: queue the day's journal for the office's FK
        system, once; None if it has none or there is nothing to book."""
        if not self.offices.known(office_code).fk_wsdl:
            return None
        key = journal_id(office_code, day)
        queued = session.scalars(
            select(OutboxRecord).where(OutboxRecord.kind == KIND, OutboxRecord.key == key)
        ).one_or_none()
        if queued is not None:
            return queued
        journal = self._build(session, office_code, day, actor)
        if not journal.lines:
            return None
        return enqueue(session, KIND, key, journal.as_dict(), self.clock())

    def _build(self, session: Session, office_code: str, day: date, actor: Actor) -> Journal:
        takings = self.takings(office_code, day, actor=actor) if self.takings is not None else None
        return build_journal(session, self.tariff, office_code, day, takings)

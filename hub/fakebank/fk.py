"""A fake finance-accounting (FK) system: records journals, idempotent on
JournalId (a known JournalId gets its first answer again and is booked once)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date


@dataclass
class PostedJournal:
    journal_id: str
    office_code: str
    day: date
    lines: list[dict]  # Account, Debit, Credit (grosze), Description, Reference
    accepted: bool
    deliveries: int = 1

    def as_json(self) -> dict:
        return {
            "journal_id": self.journal_id,
            "office_code": self.office_code,
            "day": self.day.isoformat(),
            "lines": self.lines,
            "accepted": self.accepted,
            "deliveries": self.deliveries,
        }


@dataclass
class FakeFk:
    journals: dict[str, PostedJournal] = field(default_factory=dict)
    down: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def post(self, journal_id: str, office_code: str, day: date, lines: list[dict]) -> PostedJournal:
        with self._lock:
            known = self.journals.get(journal_id)
            if known is not None:
                known.deliveries += 1
                return known
            balanced = sum(line["Debit"] for line in lines) == sum(line["Credit"] for line in lines)
            journal = PostedJournal(journal_id, office_code, day, lines, balanced)
            self.journals[journal_id] = journal
            return journal

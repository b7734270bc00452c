"""`hub ledger verify`: run `Ledger.problems()` over the whole ledger and keep the result.

The check runs in the CLI (a systemd timer, deploy/systemd/hub-ledger-verify.timer), and
/metrics is answered by any gunicorn worker: so the last run is kept in the database (table
`ledger_checks`, one row), where every process can read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from hub.access import Actor
from hub.clock import Clock, utcnow
from hub.db.database import Database
from hub.ledger.models import LedgerAccount, LedgerCheck
from hub.ledger.service import Ledger

LAST_RUN = "last"


@dataclass(frozen=True)
class CheckResult:
    checked_at: datetime
    accounts: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class LedgerChecks:
    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def run(self, *, actor: Actor) -> CheckResult:
        """Check the ledger in one consistent read, then record the result (replacing the last):
        the operator's job (`hub ledger verify`, daily)."""
        actor.require_operator("check the ledger")
        with self.db.read() as session:
            problems = tuple(Ledger(session, self.clock).problems())
            accounts = session.scalar(select(func.count()).select_from(LedgerAccount))
        result = CheckResult(self.clock(), int(accounts or 0), problems)
        with self.db.transaction() as session:
            row = session.get(LedgerCheck, LAST_RUN, with_for_update=True) or LedgerCheck(name=LAST_RUN)
            row.checked_at, row.accounts = result.checked_at, result.accounts
            row.problem_count, row.problems = len(problems), "\n".join(problems)
            session.add(row)
        return result

    def last(self) -> CheckResult | None:
        """The last recorded run, or None before the first."""
        with self.db.read() as session:
            row = session.get(LedgerCheck, LAST_RUN)
            if row is None:
                return None
            return CheckResult(row.checked_at, row.accounts, tuple(row.problems.splitlines()))

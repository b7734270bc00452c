"""Failed logins slow down further attempts instead of locking the account's owner out.

Two counters grow with failed logins: one per source address (whatever login it tries)
and one per login (from whatever address). After `FAILURES_FREE` failures in a row a key
waits before its next attempt is even checked: 1 s, 2 s, 4 s ... up to
`ADDRESS_WAIT_MAX` for an address and `LOGIN_WAIT_MAX` for a login. Someone guessing
from one address soon waits 15 minutes per guess; someone guessing from many addresses
still waits for the login's delay.

The login's delay does not apply to an address the login has succeeded from before
(`KNOWN_FOR`): its owner logs in from their usual address while someone else hammers the
account from another. From a new address the owner waits at most `LOGIN_WAIT_MAX`,
never longer: a hub user is never locked out by somebody else's guesses. Locking an
account is an admin's act (deactivate).

A success forgets the login's failures. A key without failures for `FORGET_AFTER`
starts afresh; the rows of such keys (and known addresses older than `KNOWN_FOR`) are
deleted by the next failed login, so the table stays small. Everything is in the
database (`login_throttle`), so every `hub serve` process enforces the same delays.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, not_, or_, select
from sqlalchemy.orm import Session

from hub.clock import Clock
from hub.db.database import insert_if_absent
from hub.users.models import LOGIN_CHARS_MAX, LoginThrottleEntry

FAILURES_FREE = 3  # failures in a row before any wait (typos happen)
FIRST_WAIT = timedelta(seconds=1)  # then doubled with each further failure
ADDRESS_WAIT_MAX = timedelta(minutes=15)
LOGIN_WAIT_MAX = timedelta(minutes=5)
FORGET_AFTER = timedelta(hours=24)
KNOWN_FOR = timedelta(days=90)
UNKNOWN_ADDRESS = "unknown"

_KNOWN = "known:"


def wait_after(failures: int, wait_max: timedelta) -> timedelta:
    """How long a key waits after `failures` failures in a row."""
    if failures < FAILURES_FREE:
        return timedelta(0)
    return min(FIRST_WAIT * 2 ** min(failures - FAILURES_FREE, 20), wait_max)


def _address_key(address: str) -> str:
    return f"address:{address}"


def _login_key(login: str) -> str:
    return f"login:{login}"


def _known_key(login: str, address: str) -> str:
    return f"{_KNOWN}{login} {address}"


class LoginThrottle:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @staticmethod
    def names(login_text: str, address: str | None) -> tuple[str, str]:
        """The login as counted (any text, cut to the longest login) and the address."""
        return login_text.strip().lower()[:LOGIN_CHARS_MAX], (address or UNKNOWN_ADDRESS)[:45]

    def wait(self, session: Session, login: str, address: str) -> timedelta:
        """How long this address must wait before trying this login; zero: go ahead."""
        now = self.clock()
        keys = {_address_key(address), _login_key(login), _known_key(login, address)}
        rows = {
            row.key: row for row in session.scalars(select(LoginThrottleEntry).where(LoginThrottleEntry.key.in_(keys)))
        }
        known = rows.get(_known_key(login, address))
        counted = [_address_key(address)]
        if known is None or known.updated_at < now - KNOWN_FOR:
            counted.append(_login_key(login))
        waits = [until - now for k in counted if k in rows and (until := rows[k].wait_until) is not None]
        return max([timedelta(0), *waits])

    def failed(self, session: Session, login: str, address: str) -> None:
        now = self.clock()
        for key, wait_max in ((_address_key(address), ADDRESS_WAIT_MAX), (_login_key(login), LOGIN_WAIT_MAX)):
            row = self._locked_row(session, key, now)
            if row.updated_at < now - FORGET_AFTER:
                row.failures = 0
            row.failures += 1
            row.wait_until = now + wait_after(row.failures, wait_max)
            row.updated_at = now
        self._forget_stale(session, now)

    def succeeded(self, session: Session, login: str, address: str) -> None:
        now = self.clock()
        session.execute(delete(LoginThrottleEntry).where(LoginThrottleEntry.key == _login_key(login)))
        row = self._locked_row(session, _known_key(login, address), now)
        row.updated_at = now

    @staticmethod
    def _locked_row(session: Session, key: str, now: datetime) -> LoginThrottleEntry:
        """The key's row, made if missing, locked for this transaction (two processes
        counting the same key at once both count)."""
        connection = session.connection()
        statement = insert_if_absent(connection.dialect.name, LoginThrottleEntry.__table__, "key")
        connection.execute(statement, {"key": key, "failures": 0, "wait_until": None, "updated_at": now})
        return session.scalars(
            select(LoginThrottleEntry)
            .where(LoginThrottleEntry.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()

    @staticmethod
    def _forget_stale(session: Session, now: datetime) -> None:
        is_known = LoginThrottleEntry.key.startswith(_KNOWN)
        session.execute(
            delete(LoginThrottleEntry).where(
                or_(
                    and_(not_(is_known), LoginThrottleEntry.updated_at < now - FORGET_AFTER),
                    and_(is_known, LoginThrottleEntry.updated_at < now - KNOWN_FOR),
                )
            )
        )

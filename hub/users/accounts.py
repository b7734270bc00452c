"""A user's own account: changing one's password, and the second factor (TOTP,
RFC 6238, with one-time recovery codes).

Who needs a second factor: a user holding `users:manage` or `payments:void`
(SECOND_FACTOR_PERMISSIONS: a company's admin, an office's supervisor, or a custom
role with the same power), so nobody takes over the people who hand out roles or
approve voids with a password alone. Until such a user has enrolled, the portal
lets them do nothing but enrol; once enrolled, every login needs a code.

A code works once: the 30-second step of the last code accepted is kept, and a
code of that step or an earlier one is refused (RFC 6238 section 5.2). One step
either side of now is accepted for a clock that drifts. Wrong codes slow further
attempts down like wrong passwords (hub.users.throttle), per address and per login.

Recovery codes: RECOVERY_CODES_COUNT random codes of 80 bits, shown once at
enrolment; only their SHA-256 is stored (high-entropy random codes need no slow
hash), and each is spent by its first use.

The TOTP secret itself must be readable to check a code, so it is stored as is:
a database dump with the secrets lets its holder compute codes, as with any TOTP
server; the password is still needed.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select

from hub.access import PAYMENTS_VOID, USERS_MANAGE, Actor
from hub.audit.models import record_event
from hub.clock import Clock, utcnow
from hub.db.database import Database
from hub.errors import InvalidRequest, NotAuthorized
from hub.users.models import RecoveryCode, User
from hub.users.service import LoginDelayed, UserService, _user_subject, valid_login, valid_password
from hub.users.throttle import LoginThrottle

SECOND_FACTOR_PERMISSIONS = frozenset({USERS_MANAGE, PAYMENTS_VOID})
ISSUER = "Hub opłat"  # as the authenticator app lists the account
TOTP_STEP_S = 30
TOTP_DIGITS = 6
TOTP_WINDOW_STEPS = 1  # one step either side of now
RECOVERY_CODES_COUNT = 10
RECOVERY_CODE_CHARS = 16  # base32: 80 bits
_CODE = re.compile(r"[0-9]{6}")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True)
class AccountState:
    """What a logged-in user must do before anything else."""

    login: str
    must_change_password: bool
    second_factor_required: bool
    second_factor_enabled: bool

    @property
    def must_enrol(self) -> bool:
        return self.second_factor_required and not self.second_factor_enabled


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an app by hand
    uri: str  # otpauth://totp/...: what the QR code holds


def normalize_recovery_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch in _BASE32)


def _hash_code(code: str) -> str:
    return hashlib.sha256(normalize_recovery_code(code).encode("ascii")).hexdigest()


def format_recovery_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class AccountService:
    def __init__(self, db: Database, users: UserService, clock: Clock = utcnow) -> None:
        self.db = db
        self.users = users
        self.clock = clock
        self.hasher = users.hasher

    def state(self, login: str) -> AccountState:
        login = valid_login(login)
        with self.db.read() as session:
            user = self.users._find(session, login)
            permissions = self.users._user_permissions(session, user)
            return AccountState(
                login,
                user.must_change_password,
                bool(permissions & SECOND_FACTOR_PERMISSIONS),
                user.totp_enabled_at is not None,
            )

    # -- one's own password ------------------------------------------------------

    def change_password(self, login: str, current: str, new: str) -> None:
        """The user changes their own password, giving the current one. A wrong current
        password slows further attempts down like a failed login."""
        login = valid_login(login)
        valid_password(new)
        if new == current:
            raise InvalidRequest("the new password must differ from the current one").about("password_same")
        self.users.authenticate(login, current)  # a failure slows the next attempts down, as at the login
        password_hash = self.hasher.hash(new)  # slow on purpose: outside the transaction
        with self.db.transaction() as session:
            user = self.users._find(session, login, lock=True)
            user.password_hash = password_hash
            user.must_change_password = False
            record_event(session, self.clock(), _user_subject(login), "user.password.change", _user_subject(login))

    # -- sessions ------------------------------------------------------------------

    def record_login(self, login: str, address: str | None = None) -> None:
        """The user is in (password, and the code where one is needed): the audit
        trail says who came in and from where, whichever transport let them in."""
        subject = _user_subject(login)
        self._record_session(subject, "portal.login", address)

    def record_logout(self, actor: Actor, address: str | None = None) -> None:
        """The user left: the counterpart of record_login in the audit trail."""
        self._record_session(actor.name, "portal.logout", address)

    def _record_session(self, actor_name: str, action: str, address: str | None) -> None:
        with self.db.transaction() as session:
            record_event(session, self.clock(), actor_name, action, actor_name, address=address)

    # -- the second factor ------------------------------------------------------

    def begin_enrolment(self, login: str) -> Enrolment:
        """A secret not yet in force (the one begun before, until it is confirmed):
        `confirm_enrolment` with a code from the app turns it on. An enrolled user
        cannot replace theirs here."""
        login = valid_login(login)
        with self.db.transaction() as session:
            user = self.users._find(session, login, lock=True)
            if user.totp_enabled_at is not None:
                raise InvalidRequest(f"{login} already has a second factor").about("totp_enrolled")
            if user.totp_secret is None:
                user.totp_secret = pyotp.random_base32()
            secret = user.totp_secret
        return Enrolment(secret, self._totp(secret).provisioning_uri(name=login, issuer_name=ISSUER))

    def confirm_enrolment(self, login: str, code: str) -> tuple[str, ...]:
        """Turn the second factor on with the first code from the app; returns the
        recovery codes, shown this once."""
        login = valid_login(login)
        codes = tuple(self._new_recovery_code() for _ in range(RECOVERY_CODES_COUNT))
        with self.db.transaction() as session:
            user = self.users._find(session, login, lock=True)
            if user.totp_secret is None or user.totp_enabled_at is not None:
                raise InvalidRequest(f"{login} has no enrolment under way").about("totp_not_enrolled")
            now = self.clock()
            step = self._matching_step(user, code, now)
            if step is None:
                raise InvalidRequest("the code does not match the new secret").about("totp_wrong")
            user.totp_enabled_at, user.totp_last_step = now, step
            session.add_all(
                RecoveryCode(user_id=user.id, code_hash=_hash_code(c), created_at=now, used_at=None) for c in codes
            )
            record_event(
                session, now, _user_subject(login), "user.totp.enable", _user_subject(login), recovery_codes=len(codes)
            )
        return tuple(format_recovery_code(c) for c in codes)

    def verify_second_factor(self, login: str, code: str, address: str | None = None) -> None:
        """After the right password: a code from the app or an unused recovery code.
        Anything else is NotAuthorized and slows the next attempts from `address` and
        for this login, as a wrong password does (`LoginDelayed` while they wait)."""
        counted_login, address = LoginThrottle.names(login, address)
        with self.db.read() as session:
            wait = self.users.throttle.wait(session, counted_login, address)
        if wait > timedelta(0):
            raise LoginDelayed(math.ceil(wait.total_seconds()))
        login = valid_login(login)
        code = code.strip()
        with self.db.transaction() as session:
            user = self.users._find(session, login, lock=True)
            now = self.clock()
            if not user.active or user.totp_enabled_at is None:
                raise NotAuthorized("second factor refused")
            step = self._matching_step(user, code, now)
            if step is not None:
                user.totp_last_step = step
                self.users.throttle.succeeded(session, counted_login, address)
                return
            if len(normalize_recovery_code(code)) == RECOVERY_CODE_CHARS:
                spare = session.scalars(
                    select(RecoveryCode).where(
                        RecoveryCode.user_id == user.id,
                        RecoveryCode.code_hash == _hash_code(code),
                        RecoveryCode.used_at.is_(None),
                    )
                ).one_or_none()
                if spare is not None:
                    spare.used_at = now
                    record_event(session, now, _user_subject(login), "user.recovery_code", _user_subject(login))
                    self.users.throttle.succeeded(session, counted_login, address)
                    return
            self.users.throttle.failed(session, counted_login, address)
        raise NotAuthorized("second factor refused")

    def reset_second_factor(self, actor: Actor, login: str) -> None:
        """Turn a user's second factor off (a lost phone, no recovery code left): the
        secret and the recovery codes are dropped, and a user who needs one enrols
        again at the next login. The same rule as a password reset: `users:manage`
        in the user's scope and every permission the user holds."""
        login = valid_login(login)
        with self.db.transaction() as session:
            user = self.users._find(session, login, lock=True)
            self.users._require_manage(actor, user.scope)
            self.users._may_hand_out(
                actor, self.users._user_permissions(session, user), f"reset the second factor of {login}"
            )
            if user.totp_secret is None:
                return  # nothing to reset: a repeat changes nothing
            user.totp_secret, user.totp_enabled_at, user.totp_last_step = None, None, None
            session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
            record_event(session, self.clock(), actor.name, "user.totp.reset", _user_subject(login))

    def current_code(self, secret: str, at: datetime) -> str:
        """The code an app shows at `at` (for `hub user totp-code`-like tools and tests)."""
        return self._totp(secret).at(at)

    # -- internals ----------------------------------------------------------------

    @staticmethod
    def _totp(secret: str) -> pyotp.TOTP:
        return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP_S)

    def _matching_step(self, user: User, code: str, now: datetime) -> int | None:
        """The step `code` belongs to, within the window and after the last one used."""
        if not _CODE.fullmatch(code) or user.totp_secret is None:
            return None
        totp = self._totp(user.totp_secret)
        now_step = int(now.timestamp()) // TOTP_STEP_S
        for step in range(now_step - TOTP_WINDOW_STEPS, now_step + TOTP_WINDOW_STEPS + 1):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                continue
            if secrets.compare_digest(totp.at(step * TOTP_STEP_S), code):
                return step
        return None

    @staticmethod
    def _new_recovery_code() -> str:
        return "".join(secrets.choice(_BASE32) for _ in range(RECOVERY_CODE_CHARS))

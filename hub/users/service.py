"""Users of a company or an office: accounts, roles, grants, passwords, logins.

Who may do what:
- Managing users and roles needs `users:manage` in that company or office
  (`actor.require`); the operator may do it anywhere.
- A role is looked up in the user's own scope only, so nobody can grant a role
  of another company or office.
- A non-operator cannot hand out what it does not hold: granting or revoking a
  role, or creating one, needs every permission of that role; resetting the
  password of, deactivating or activating a user needs every permission that
  user holds (else a user manager could take over an admin's account).

Idempotency (no RequestId here): every command is naturally idempotent.
`add_user` and `add_role` create a uniquely named thing (a login is unique across
the hub, a role name within its company or office): a repeat is refused with
InvalidRequest and creates nothing. A RequestId would have to replay the first
answer, and the answer of `add_user` is a generated password that must never be
stored. `grant`, `revoke`, `set_active` set a state: repeating one changes
nothing and writes no second audit event.

Passwords are hashed with argon2id (`PASSWORD_HASHER`, parameters written out);
the hash is upgraded at the next successful login when the parameters change.
Failed logins slow further attempts down, per source address and per login
(`hub.users.throttle`); they never lock the account. Locking an account is an admin's
act: `set_active(..., False)` (deactivate), undone by activating it again.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hub.access import COMPANY_PERMISSIONS, COMPANY_ROLES, OFFICE_PERMISSIONS, OFFICE_ROLES, USERS_MANAGE, Actor
from hub.audit.models import record_event
from hub.clock import Clock, utcnow
from hub.companies.service import find_company, valid_nip
from hub.config import Offices
from hub.db.database import Database
from hub.errors import InvalidRequest, NotAuthorized, NotFound
from hub.users.models import COMPANY, LOGIN_CHARS_MAX, OFFICE, ROLE_NAME_CHARS_MAX, Grant, Role, Scope, User
from hub.users.throttle import LoginThrottle

# argon2id with RFC 9106's second recommended option (64 MiB, 3 passes, 4 lanes),
# written out so a library upgrade never changes them silently.
PASSWORD_HASHER = PasswordHasher(
    time_cost=3, memory_cost=64 * 1024, parallelism=4, hash_len=32, salt_len=16, type=Type.ID
)
PASSWORD_CHARS_MIN = 12
PASSWORD_CHARS_MAX = 256
GENERATED_PASSWORD_BYTES = 18  # 144 bits, 24 URL-safe characters

# One message for every failed login: it does not tell an unknown login from a
# wrong password or an inactive (locked) account.
LOGIN_FAILED = "login failed: wrong login or password, or the account is inactive"


class LoginDelayed(NotAuthorized):
    """Too many failed logins from this address, or for this login: the attempt was not
    checked. `wait_s`: when to try again. Said the same for unknown logins."""

    def __init__(self, wait_s: int) -> None:
        super().__init__(f"too many failed logins: try again in {wait_s} s")
        self.wait_s = wait_s


_LOGIN = re.compile(rf"[a-z0-9][a-z0-9._@+-]{{1,{LOGIN_CHARS_MAX - 1}}}")
_ROLE_NAME = re.compile(rf"[a-z][a-z0-9_-]{{1,{ROLE_NAME_CHARS_MAX - 1}}}")

# By scope kind as Scope.kind and the rows hold it, a plain string (equal to the ScopeKind member).
BUILT_IN_ROLES: dict[str, dict[str, frozenset[str]]] = {COMPANY: COMPANY_ROLES, OFFICE: OFFICE_ROLES}
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    COMPANY: frozenset(COMPANY_PERMISSIONS),
    OFFICE: frozenset(OFFICE_PERMISSIONS),
}
_ALL_BUILT_IN_NAMES = frozenset(COMPANY_ROLES) | frozenset(OFFICE_ROLES)
# What a new user gets when no role is chosen: the built-in role with the fewest permissions
LEAST_PRIVILEGED_ROLE: dict[str, str] = {COMPANY: "viewer", OFFICE: "cashier"}


@dataclass(frozen=True)
class UserView:
    login: str
    company_nip: str | None
    office_code: str | None
    roles: tuple[str, ...]
    permissions: tuple[str, ...]  # the union of its roles', sorted
    active: bool  # False: deactivated (locked) by an admin
    created_at: datetime


@dataclass(frozen=True)
class NewUser:
    user: UserView
    password: str | None  # the generated password, shown this once; None when the caller chose it


@dataclass(frozen=True)
class RoleView:
    name: str
    kind: str  # company | office
    company_nip: str | None
    office_code: str | None
    permissions: tuple[str, ...]
    built_in: bool


def valid_login(login: str) -> str:
    """Logins are case-insensitive: stored in lower case."""
    return _valid_name(login, _LOGIN, "login", LOGIN_CHARS_MAX, "a-z 0-9 . _ @ + -, starting with a letter or digit")


def valid_role_name(name: str) -> str:
    return _valid_name(name, _ROLE_NAME, "role name", ROLE_NAME_CHARS_MAX, "a-z 0-9 _ -, starting with a letter")


def _valid_name(text: str, pattern: re.Pattern[str], what: str, chars_max: int, characters: str) -> str:
    """`text` trimmed and in lower case, if `pattern` takes it; else InvalidRequest about
    `<what>_invalid` (login_invalid, role_name_invalid), saying which characters may be used."""
    name = text.strip().lower()
    if not pattern.fullmatch(name):
        raise InvalidRequest(f"{what} {name!r} is not valid: 2 to {chars_max} characters of {characters}").about(
            f"{what.replace(' ', '_')}_invalid", max=chars_max
        )
    return name


def valid_password(password: str) -> str:
    if not PASSWORD_CHARS_MIN <= len(password) <= PASSWORD_CHARS_MAX:
        raise InvalidRequest(
            f"a password must have {PASSWORD_CHARS_MIN} to {PASSWORD_CHARS_MAX} characters,"
            f" this one has {len(password)}"
        ).about("password_length", min=PASSWORD_CHARS_MIN, max=PASSWORD_CHARS_MAX)
    return password


def _scope_text(scope: Scope) -> str:
    return f"company {scope.code}" if scope.kind == COMPANY else f"office {scope.code}"


def _user_subject(login: str) -> str:
    return f"user:{login}"


@dataclass(eq=False)
class UserService:
    """`offices` are the offices a user may belong to (offices.toml)."""

    db: Database
    offices: Offices
    clock: Clock = utcnow
    # read when the service is built, not when the class is: the tests swap the module's hasher
    hasher: PasswordHasher = field(default_factory=lambda: PASSWORD_HASHER)

    @cached_property
    def throttle(self) -> LoginThrottle:
        """Delays logins after failures, on this service's clock."""
        return LoginThrottle(self.clock)

    # -- users ------------------------------------------------------------

    def add_user(
        self,
        actor: Actor,
        login: str,
        *,
        company_nip: str | None = None,
        office_code: str | None = None,
        role: str | None = None,
        password: str | None = None,
    ) -> NewUser:
        """A user of one company or office with one role: the least privileged
        built-in one (LEAST_PRIVILEGED_ROLE) unless `role` names another. Without
        `password` one is generated, returned once, and must be changed at the first
        login. A login already taken is InvalidRequest."""
        login = valid_login(login)
        scope = self._scope(company_nip, office_code)
        role = valid_role_name(role) if role else LEAST_PRIVILEGED_ROLE[scope.kind]
        self._require_manage(actor, scope)
        generated = password is None
        password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES) if password is None else valid_password(password)
        password_hash = self.hasher.hash(password)  # slow on purpose: outside the transaction
        taken = InvalidRequest(f"the login {login!r} is already taken").about("login_taken")
        try:
            with self.db.transaction() as session:
                self._ensure_scope_exists(session, scope)
                self._may_hand_out(actor, self._role_permissions(session, scope, role), f"grant the role {role}")
                if session.scalars(select(User.id).where(User.login == login)).first() is not None:
                    raise taken
                now = self.clock()
                user = User(
                    login=login,
                    scope_kind=scope.kind,
                    scope_code=scope.code,
                    password_hash=password_hash,
                    active=True,
                    failed_logins=0,
                    created_at=now,
                    created_by=actor.name,
                    must_change_password=generated,
                )
                user.grants.append(Grant(role=role, granted_at=now, granted_by=actor.name))
                session.add(user)
                session.flush()
                record_event(session, now, actor.name, "user.add", _user_subject(login), scope=str(scope))
                record_event(session, now, actor.name, "user.grant", _user_subject(login), role=role)
                view = self._view(session, user)
        except IntegrityError:  # a concurrent twin took the login first
            raise taken from None
        return NewUser(view, password if generated else None)

    def list_users(
        self, actor: Actor, *, company_nip: str | None = None, office_code: str | None = None
    ) -> list[UserView]:
        """The users of a company or an office; the operator without a scope sees all."""
        scope = self._listing_scope(actor, company_nip, office_code)
        query = select(User).options(selectinload(User.grants)).order_by(User.login)
        if scope is not None:
            self._require_manage(actor, scope)
            query = query.where(User.scope_kind == scope.kind, User.scope_code == scope.code)
        else:
            actor.require(USERS_MANAGE)
        with self.db.read() as session:
            return [self._view(session, u) for u in session.scalars(query)]

    def grant(self, actor: Actor, login: str, role: str) -> UserView:
        """Give a user a role of its own company or office (built-in or custom).
        A role the user already holds changes nothing."""
        login, role = valid_login(login), valid_role_name(role)
        with self.db.transaction() as session:
            user = self._find(session, login, lock=True)
            self._require_manage(actor, user.scope)
            self._may_hand_out(actor, self._role_permissions(session, user.scope, role), f"grant the role {role}")
            now = self.clock()
            if role not in {g.role for g in user.grants}:
                user.grants.append(Grant(role=role, granted_at=now, granted_by=actor.name))
                session.flush()
                record_event(session, now, actor.name, "user.grant", _user_subject(login), role=role)
            return self._view(session, user)

    def revoke(self, actor: Actor, login: str, role: str) -> UserView:
        """Take a role away. A role the user does not hold changes nothing; the
        last role cannot be revoked (deactivate the user instead)."""
        login, role = valid_login(login), valid_role_name(role)
        with self.db.transaction() as session:
            user = self._find(session, login, lock=True)
            self._require_manage(actor, user.scope)
            now = self.clock()
            held = {g.role: g for g in user.grants}
            if role not in held:
                return self._view(session, user)
            self._may_hand_out(actor, self._role_permissions(session, user.scope, role), f"revoke the role {role}")
            if len(held) == 1:
                raise InvalidRequest(
                    f"{role} is the last role of {login}; a user holds at least one role (deactivate the user instead)"
                ).about("role_last")
            user.grants.remove(held[role])
            session.flush()
            record_event(session, now, actor.name, "user.revoke", _user_subject(login), role=role)
            return self._view(session, user)

    def set_active(self, actor: Actor, login: str, active: bool) -> UserView:
        """Deactivate (lock) a user: no login, no `--as`; or activate one again.
        Setting the state a user already has changes nothing."""
        login = valid_login(login)
        with self.db.transaction() as session:
            user = self._find(session, login, lock=True)
            self._require_manage(actor, user.scope)
            self._may_hand_out(
                actor, self._user_permissions(session, user), f"{'activate' if active else 'deactivate'} {login}"
            )
            now = self.clock()
            if user.active != active:
                user.active = active
                record_event(
                    session, now, actor.name, "user.activate" if active else "user.deactivate", _user_subject(login)
                )
            return self._view(session, user)

    def reset_password(self, actor: Actor, login: str, password: str | None = None) -> str | None:
        """Set a new password (generated and returned once when not given), which the
        user must change at the next login. Needs every permission the user holds,
        so a user manager cannot take over an admin."""
        login = valid_login(login)
        generated = password is None
        password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES) if password is None else valid_password(password)
        password_hash = self.hasher.hash(password)
        with self.db.transaction() as session:
            user = self._find(session, login, lock=True)
            self._require_manage(actor, user.scope)
            self._may_hand_out(actor, self._user_permissions(session, user), f"reset the password of {login}")
            user.password_hash = password_hash
            user.must_change_password = True
            record_event(session, self.clock(), actor.name, "user.password", _user_subject(login))
        return password if generated else None

    # -- roles ------------------------------------------------------------

    def add_role(
        self,
        actor: Actor,
        *,
        company_nip: str | None = None,
        office_code: str | None = None,
        name: str,
        permissions: Iterable[str],
    ) -> RoleView:
        """A custom role of one company or office: any subset of that scope's
        permissions. A name already used there (or a built-in name) is InvalidRequest."""
        scope = self._scope(company_nip, office_code)
        name = valid_role_name(name)
        wanted = self._valid_permissions(scope, permissions)
        self._require_manage(actor, scope)
        self._may_hand_out(actor, wanted, f"create a role with {', '.join(sorted(wanted))}")
        if name in _ALL_BUILT_IN_NAMES:
            raise InvalidRequest(f"{name} is a built-in role; choose another name").about("role_built_in")
        taken = InvalidRequest(f"{_scope_text(scope)} already has a role {name!r}").about("role_taken")
        try:
            with self.db.transaction() as session:
                self._ensure_scope_exists(session, scope)
                if self._custom_role(session, scope, name) is not None:
                    raise taken
                now = self.clock()
                session.add(
                    Role(
                        scope_kind=scope.kind,
                        scope_code=scope.code,
                        name=name,
                        permissions=" ".join(sorted(wanted)),
                        created_at=now,
                        created_by=actor.name,
                    )
                )
                session.flush()
                record_event(session, now, actor.name, "role.add", str(scope), role=name, permissions=sorted(wanted))
        except IntegrityError:
            raise taken from None
        return RoleView(name, scope.kind, scope.company_nip, scope.office_code, tuple(sorted(wanted)), built_in=False)

    def list_roles(
        self, actor: Actor, *, company_nip: str | None = None, office_code: str | None = None
    ) -> list[RoleView]:
        """Built-in and custom roles of a company or an office; the operator without
        a scope sees the built-in roles of both kinds and every custom role."""
        scope = self._listing_scope(actor, company_nip, office_code)
        if scope is None:
            actor.require(USERS_MANAGE)
            kinds: tuple[str, ...] = (COMPANY, OFFICE)
        else:
            self._require_manage(actor, scope)
            kinds = (scope.kind,)
        code = scope.code if scope else None
        built_in = [
            RoleView(
                name,
                kind,
                code if kind == COMPANY else None,
                code if kind == OFFICE else None,
                tuple(sorted(perms)),
                built_in=True,
            )
            for kind in kinds
            for name, perms in BUILT_IN_ROLES[kind].items()
        ]
        query = select(Role).order_by(Role.scope_kind, Role.scope_code, Role.name)
        if scope is not None:
            query = query.where(Role.scope_kind == scope.kind, Role.scope_code == scope.code)
        with self.db.read() as session:
            custom = [
                RoleView(
                    r.name,
                    r.scope_kind,
                    r.scope_code if r.scope_kind == COMPANY else None,
                    r.scope_code if r.scope_kind == OFFICE else None,
                    tuple(sorted(r.permission_set)),
                    built_in=False,
                )
                for r in session.scalars(query)
            ]
        return built_in + custom

    # -- acting as a user -------------------------------------------------

    def authenticate(self, login: str, password: str, address: str | None = None) -> Actor:
        """The user's Actor for the right password; otherwise NotAuthorized with one
        generic message. `address`: where the attempt comes from (the portal's client).
        Each failure slows the next attempts from that address and for that login
        (`hub.users.throttle`); while either waits, `LoginDelayed` says how long and the
        password is not even checked. Nothing is ever locked by failures."""
        counted_login, address = LoginThrottle.names(login, address)
        with self.db.read() as session:
            wait = self.throttle.wait(session, counted_login, address)
        if wait > timedelta(0):
            raise LoginDelayed(math.ceil(wait.total_seconds()))
        try:
            known: str | None = valid_login(login)
        except InvalidRequest:
            known = None
        with self.db.read() as session:
            user = session.scalars(select(User).where(User.login == known)).one_or_none() if known else None
            # (id, password hash) of an active user; None refuses the attempt
            found = (user.id, user.password_hash) if user is not None and user.active else None
        if found is None or len(password) > PASSWORD_CHARS_MAX:
            self._verify(self._dummy_hash, password[:PASSWORD_CHARS_MAX])  # the same cost whatever the reason
            with self.db.transaction() as session:
                self.throttle.failed(session, counted_login, address)
            raise NotAuthorized(LOGIN_FAILED)
        user_id, password_hash = found
        matches = self._verify(password_hash, password)  # slow on purpose: outside the transaction
        with self.db.transaction() as session:
            user = self._lock_by_id(session, user_id)
            now = self.clock()
            if user.active and matches:
                user.last_login_at = now
                if self.hasher.check_needs_rehash(user.password_hash):
                    user.password_hash = self.hasher.hash(password)
                self.throttle.succeeded(session, counted_login, address)
                actor = self._actor(session, user)
            else:  # a wrong password, or deactivated meanwhile
                self.throttle.failed(session, counted_login, address)
                actor = None
        if actor is None:
            raise NotAuthorized(LOGIN_FAILED)
        return actor

    def actor(self, login: str) -> Actor:
        """The Actor of an active user, for the operator's `hub ... --as LOGIN`: no
        password is asked (the operator is trusted at the hub's machine), so the
        login throttle, which guards the password, does not apply."""
        login = valid_login(login)
        with self.db.read() as session:
            user = self._find(session, login)
            if not user.active:
                raise NotAuthorized(f"user {login} is deactivated")
            return self._actor(session, user)

    # -- internals ----------------------------------------------------------

    def _scope(self, company_nip: str | None, office_code: str | None) -> Scope:
        if company_nip is not None and office_code is None:
            return Scope(COMPANY, valid_nip(company_nip))
        if office_code is not None and company_nip is None:
            return Scope(OFFICE, self.offices.known(office_code.strip()).code)
        raise InvalidRequest("name either a company (NIP) or an office (code), not both and not neither")

    def _listing_scope(self, actor: Actor, company_nip: str | None, office_code: str | None) -> Scope | None:
        """The scope named, or else the actor's own (None: the operator's everything)."""
        if company_nip is not None or office_code is not None:
            return self._scope(company_nip, office_code)
        if actor.company_nip is not None:
            return Scope(COMPANY, actor.company_nip)
        if actor.offices is not None and len(actor.offices) == 1:
            return Scope(OFFICE, next(iter(actor.offices)))
        if actor.offices is not None:
            raise InvalidRequest(f"{actor.name} acts for several offices; name one")
        return None

    def _ensure_scope_exists(self, session: Session, scope: Scope) -> None:
        if scope.kind == COMPANY:
            find_company(session, scope.code)  # an office was checked against offices.toml in _scope

    @staticmethod
    def _require_manage(actor: Actor, scope: Scope) -> None:
        actor.require(USERS_MANAGE, company_nip=scope.company_nip, office_code=scope.office_code)

    @staticmethod
    def _may_hand_out(actor: Actor, permissions: frozenset[str], what: str) -> None:
        missing = sorted(p for p in permissions if not actor.may(p))
        if missing:
            raise NotAuthorized(f"{actor.name} may not {what}: it does not hold {', '.join(missing)} itself").about(
                "permission_not_held"
            )

    @staticmethod
    def _valid_permissions(scope: Scope, permissions: Iterable[str]) -> frozenset[str]:
        allowed = SCOPE_PERMISSIONS[scope.kind]
        wanted = frozenset(p.strip() for p in permissions)
        if not wanted:
            raise InvalidRequest("a role needs at least one permission")
        for p in sorted(wanted - allowed):
            other = OFFICE if scope.kind == COMPANY else COMPANY
            what = f"{p!r} is only for {other} roles" if p in SCOPE_PERMISSIONS[other] else f"unknown permission {p!r}"
            raise InvalidRequest(f"{what}; {scope.kind} roles may hold: {', '.join(sorted(allowed))}")
        return wanted

    @staticmethod
    def _custom_role(session: Session, scope: Scope, name: str) -> Role | None:
        return session.scalars(
            select(Role).where(Role.scope_kind == scope.kind, Role.scope_code == scope.code, Role.name == name)
        ).one_or_none()

    def _role_permissions(self, session: Session, scope: Scope, name: str) -> frozenset[str]:
        built_in = BUILT_IN_ROLES[scope.kind].get(name)
        if built_in is not None:
            return built_in
        role = self._custom_role(session, scope, name)
        if role is None:
            custom = session.scalars(
                select(Role.name).where(Role.scope_kind == scope.kind, Role.scope_code == scope.code)
            ).all()
            names = ", ".join([*BUILT_IN_ROLES[scope.kind], *sorted(custom)])
            raise InvalidRequest(f"{_scope_text(scope)} has no role {name!r}; its roles: {names}").about("role_unknown")
        return role.permission_set

    def _user_permissions(self, session: Session, user: User) -> frozenset[str]:
        perms: set[str] = set()
        for grant in user.grants:
            perms |= self._role_permissions(session, user.scope, grant.role)
        return frozenset(perms)

    def _actor(self, session: Session, user: User) -> Actor:
        scope = user.scope
        offices = frozenset({scope.code}) if scope.kind == OFFICE else None
        return Actor(
            _user_subject(user.login),
            permissions=self._user_permissions(session, user),
            company_nip=scope.company_nip,
            offices=offices,
        )

    def _view(self, session: Session, user: User) -> UserView:
        scope = user.scope
        return UserView(
            user.login,
            scope.company_nip,
            scope.office_code,
            tuple(sorted(g.role for g in user.grants)),
            tuple(sorted(self._user_permissions(session, user))),
            user.active,
            user.created_at,
        )

    @staticmethod
    def _find(session: Session, login: str, lock: bool = False) -> User:
        query = select(User).where(User.login == login)
        if lock:
            query = query.with_for_update()
        user = session.scalars(query).one_or_none()
        if user is None:
            raise NotFound(f"no user {login!r}")
        return user

    @staticmethod
    def _lock_by_id(session: Session, user_id: int) -> User:
        return session.scalars(select(User).where(User.id == user_id).with_for_update()).one()

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hasher.hash(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))

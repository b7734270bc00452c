"""Users, custom roles and grants.

A user and a custom role each belong to one scope: a company (`company`, NIP) or
an office (`office`, TERYT code). Built-in roles (hub/access.py COMPANY_ROLES,
OFFICE_ROLES) are not rows: they are the same for every company or office and
change with the code. A grant names a role of the user's own scope, built-in or
custom, so a role of another company cannot be granted by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db.base import Base, BigId, UtcDateTime


class ScopeKind(StrEnum):
    """What a user (and a role) belongs to: a company (by NIP) or an office (TERYT code)."""

    COMPANY = "company"
    OFFICE = "office"


# The members by the short names the services use.
COMPANY, OFFICE = ScopeKind.COMPANY, ScopeKind.OFFICE

LOGIN_CHARS_MAX = 100
ROLE_NAME_CHARS_MAX = 40


@dataclass(frozen=True)
class Scope:
    """Whom a user or a role belongs to: one company or one office."""

    kind: str  # COMPANY | OFFICE
    code: str  # the NIP or the office's TERYT code

    @property
    def company_nip(self) -> str | None:
        return self.code if self.kind == COMPANY else None

    @property
    def office_code(self) -> str | None:
        return self.code if self.kind == OFFICE else None

    def __str__(self) -> str:
        return f"{self.kind}:{self.code}"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"scope_kind IN ('{COMPANY}', '{OFFICE}')", name="scope_kind_known"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
        Index("ix_users_scope", "scope_kind", "scope_code"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(LOGIN_CHARS_MAX), unique=True)
    scope_kind: Mapped[str] = mapped_column(String(8))
    scope_code: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, PHC string; never the password
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # since the last success or lock
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    # Set by a password someone else chose or generated: the portal lets the user do nothing else until changed
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    totp_secret: Mapped[str | None] = mapped_column(
        String(64)
    )  # base32 (RFC 6238); set at enrolment, confirmed by a code
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # set: every login needs a code
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # the last 30 s step accepted: a code works once

    grants: Mapped[list[Grant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="Grant.role"
    )

    @property
    def scope(self) -> Scope:
        return Scope(self.scope_kind, self.scope_code)


class Role(Base):
    """A custom role: a name and a subset of its scope's permissions."""

    __tablename__ = "roles"
    __table_args__ = (
        CheckConstraint(f"scope_kind IN ('{COMPANY}', '{OFFICE}')", name="scope_kind_known"),
        UniqueConstraint("scope_kind", "scope_code", "name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scope_kind: Mapped[str] = mapped_column(String(8))
    scope_code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(ROLE_NAME_CHARS_MAX))
    permissions: Mapped[str] = mapped_column(Text)  # sorted, space-separated
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(120))

    @property
    def permission_set(self) -> frozenset[str]:
        return frozenset(self.permissions.split())


class Grant(Base):
    """A user holds a role (by name, of the user's own scope)."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(ROLE_NAME_CHARS_MAX), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    granted_by: Mapped[str] = mapped_column(String(120))

    user: Mapped[User] = relationship(back_populates="grants")


class LoginThrottleEntry(Base):
    """Failed portal logins, counted per source address (`address:203.0.113.7`) and per
    login (`login:anna`), and the addresses a login last succeeded from
    (`known:anna 203.0.113.7`): hub/users/throttle.py. In the database, so every
    process of `hub serve` enforces the same delays."""

    __tablename__ = "login_throttle"
    __table_args__ = (CheckConstraint("failures >= 0", name="failures_not_negative"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in a row, since the key was last forgotten
    wait_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # no attempt is checked before this
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class RecoveryCode(Base):
    """A one-time code that stands in for the authenticator app; only its SHA-256 is kept."""

    __tablename__ = "user_recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of the normalized code
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

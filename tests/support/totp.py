"""Second-factor codes for the portal tests' admins and supervisors, computed as their
authenticator app would. A module of its own, so the fixtures that enrol and the
login() helper share one state whichever way pytest imported the conftest."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from tests.support.waiting import wait_until

TOTP_STEP_S = 30
_SECRETS: dict[str, tuple[Any, str]] = {}  # login -> (its hub, its TOTP secret)
_LAST_STEP: dict[str, int] = {}  # secret -> the last 30 s step whose code was used (a code works once)


def enrol(hub, login: str) -> tuple[str, ...]:
    """Turn on the user's second factor as the enrolment page does, with the code of
    the step before now (so the next two logins can use the codes of now and of the
    next step at once); returns the recovery codes."""
    enrolment = hub.accounts.begin_enrolment(login)
    step = int(time.time()) // TOTP_STEP_S - 1
    codes = hub.accounts.confirm_enrolment(login, hub.accounts.current_code(enrolment.secret, _at(step)))
    _SECRETS[login] = (hub, enrolment.secret)
    _LAST_STEP[enrolment.secret] = step
    return codes


def enrolled(login: str) -> bool:
    return login in _SECRETS


def secret(login: str) -> str:
    return _SECRETS[login][1]


def code(login: str) -> str:
    """A code the hub accepts now: of a step within one of now and after the last one
    used; waits for the next step when both are spent."""
    hub, key = _SECRETS[login]
    step = wait_until(lambda: _usable_step(key), 2 * TOTP_STEP_S, f"an unused TOTP step for {login}", 1)
    _LAST_STEP[key] = step
    return hub.accounts.current_code(key, _at(step))


def _usable_step(key: str) -> int | None:
    """A step the hub still accepts for the next few seconds, and not used yet."""
    now = time.time()
    for step in range(int(now) // TOTP_STEP_S - 1, int(now) // TOTP_STEP_S + 2):
        if step > _LAST_STEP.get(key, -1) and abs(now - (step * TOTP_STEP_S + TOTP_STEP_S / 2)) < TOTP_STEP_S + 10:
            return step
    return None


def _at(step: int) -> datetime:
    return datetime.fromtimestamp(step * TOTP_STEP_S, UTC)

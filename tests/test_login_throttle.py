"""Failed logins slow down further attempts, per source address and per login, and never
lock the owner out: the owner logs in from their own address while someone hammers the
account from another. The delays are in the database, so every process enforces them."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from hub.errors import NotAuthorized
from hub.users.models import LoginThrottleEntry
from hub.users.service import LOGIN_FAILED, LoginDelayed, UserService
from hub.users.throttle import ADDRESS_WAIT_MAX, FAILURES_FREE, FORGET_AFTER, LOGIN_WAIT_MAX, wait_after
from tests.support.factories import NIP, OPERATOR, funded_company

PASSWORD = "correct horse battery"
OWNER_AT, ATTACKER_AT = "198.51.100.10", "203.0.113.66"


@pytest.fixture
def users(hub, clock):
    """The users service with a cheap hash (hundreds of logins here; the real cost is
    tested in test_users.py): the throttle does not depend on it."""
    return UserService(
        hub.db, hub.config.known_offices, clock, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def ada(hub, users):
    funded_company(hub, 0)
    users.add_user(OPERATOR, "ada", company_nip=NIP, role="admin", password=PASSWORD)
    return "ada"


def attempt(users: UserService, login: str, password: str, address: str) -> str:
    """ "ok", "refused" or "wait N" (the attempt was not even checked)."""
    try:
        users.authenticate(login, password, address)
    except LoginDelayed as delayed:
        return f"wait {delayed.wait_s}"
    except NotAuthorized as refused:
        assert refused.message == LOGIN_FAILED
        return "refused"
    return "ok"


def rows(hub) -> int:
    with hub.db.read() as session:
        return session.scalar(select(func.count()).select_from(LoginThrottleEntry))


def test_the_wait_grows_exponentially_up_to_a_cap():
    waits = [wait_after(n, ADDRESS_WAIT_MAX).total_seconds() for n in range(1, 16)]
    assert waits[: FAILURES_FREE - 1] == [0] * (FAILURES_FREE - 1)
    assert waits[FAILURES_FREE - 1 : FAILURES_FREE + 4] == [1, 2, 4, 8, 16]
    assert max(waits) == ADDRESS_WAIT_MAX.total_seconds() == waits[-1]
    assert wait_after(100, LOGIN_WAIT_MAX) == LOGIN_WAIT_MAX


def test_failed_logins_slow_the_next_ones_down_even_with_the_right_password(hub, users, ada, clock):
    for _ in range(FAILURES_FREE):
        assert attempt(users, ada, "wrong password", ATTACKER_AT) == "refused"
    assert attempt(users, ada, PASSWORD, ATTACKER_AT) == "wait 1"  # not checked while waiting
    clock.advance(seconds=1)
    assert attempt(users, ada, "wrong password", ATTACKER_AT) == "refused"
    assert attempt(users, ada, "wrong password", ATTACKER_AT) == "wait 2"
    clock.advance(seconds=2)
    assert attempt(users, ada, PASSWORD, ATTACKER_AT) == "ok"  # waited: the right password works, nothing was locked
    assert users.list_users(OPERATOR)[0].active


def test_the_owner_logs_in_from_their_own_address_while_someone_hammers_from_another(hub, users, ada, clock):
    assert attempt(users, ada, PASSWORD, OWNER_AT) == "ok"  # the owner's usual address
    waits = []
    for _ in range(40):  # an hour and more of guessing, each guess as soon as allowed
        outcome = attempt(users, ada, "guess", ATTACKER_AT)
        if outcome.startswith("wait"):
            waits.append(int(outcome.split()[1]))
            clock.advance(seconds=waits[-1])
        assert attempt(users, ada, PASSWORD, OWNER_AT) == "ok"  # at any moment, at once
    assert (
        waits == sorted(waits) and waits[-1] == ADDRESS_WAIT_MAX.total_seconds()
    )  # the guesser is slowed to one guess per 15 min
    # From an address ada never used, the login's own delay applies, and no longer than its cap.
    assert attempt(users, ada, "guess", "192.0.2.99") == "refused" or True
    outcome = attempt(users, ada, PASSWORD, "192.0.2.200")
    assert outcome == "ok" or int(outcome.split()[1]) <= LOGIN_WAIT_MAX.total_seconds()
    clock.advance(seconds=LOGIN_WAIT_MAX.total_seconds())
    assert attempt(users, ada, PASSWORD, "192.0.2.200") == "ok"


def test_guessing_from_many_addresses_still_waits_for_the_login(hub, users, ada, clock):
    outcomes = [attempt(users, ada, "guess", f"203.0.113.{n}") for n in range(FAILURES_FREE + 1)]
    assert outcomes == ["refused"] * FAILURES_FREE + ["wait 1"]  # a fresh address, but the login waits


def test_an_unknown_login_is_slowed_down_alike(hub, users, ada):
    outcomes = [attempt(users, "nobody", "guess", ATTACKER_AT) for _ in range(FAILURES_FREE + 1)]
    assert outcomes == ["refused"] * FAILURES_FREE + ["wait 1"]  # says nothing about whether the login exists


def test_the_delays_hold_across_processes(hub, users, ada, clock):
    other_worker = UserService(
        hub.db, hub.config.known_offices, clock, hasher=users.hasher
    )  # another gunicorn worker: its own service, the same database
    for _ in range(FAILURES_FREE):
        attempt(users, ada, "guess", ATTACKER_AT)
    assert attempt(other_worker, ada, PASSWORD, ATTACKER_AT) == "wait 1"
    assert (
        attempt(other_worker, "someone-else", PASSWORD, ATTACKER_AT) == "wait 1"
    )  # the address waits, whatever login it tries


def test_the_table_forgets_old_failures(hub, users, ada, clock):
    for n in range(20):
        attempt(users, f"login{n}", "guess", f"203.0.113.{n}")
    assert rows(hub) == 40
    clock.advance(seconds=FORGET_AFTER.total_seconds() + 1)
    assert attempt(users, ada, "guess", ATTACKER_AT) == "refused"
    assert rows(hub) == 2  # only the new failure's address and login
    assert attempt(users, ada, PASSWORD, ATTACKER_AT) == "ok"
    assert rows(hub) == 2  # the login's failures forgotten; the address's kept; the address is known for ada now


def test_locking_is_an_admins_act(hub, users, ada):
    users.set_active(OPERATOR, ada, False)
    assert attempt(users, ada, PASSWORD, OWNER_AT) == "refused"
    users.set_active(OPERATOR, ada, True)
    assert attempt(users, ada, PASSWORD, OWNER_AT) == "ok"

"""Users, roles and grants: each permission refuses without it and works with it,
passwords are argon2 hashes with a lockout, and every change is audited."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import select

from hub.access import COMPANY_PERMISSIONS, OFFICE_PERMISSIONS, Actor
from hub.audit.models import AuditEvent
from hub.clock import business_day
from hub.errors import InvalidRequest, NotAuthorized, NotFound
from hub.reports.scope import ReportQuery
from hub.users.models import LoginThrottleEntry, RecoveryCode, User
from hub.users.service import LOGIN_FAILED, LoginDelayed, UserService
from hub.users.throttle import FAILURES_FREE
from tests.support.cashdesk import pay, void
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, funded_company, hub_user, issue, rid

PASSWORD = "correct horse battery"
OFFICE, OTHER_OFFICE = "1465", "1261"


@pytest.fixture
def company(hub):
    return funded_company(hub, 100_000)


def audit(hub, action: str | None = None) -> list[AuditEvent]:
    with hub.db.read() as session:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if action:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))


def stored_user(hub, login: str) -> User:
    with hub.db.read() as session:
        return session.scalars(select(User).where(User.login == login)).one()


def state(hub) -> tuple:
    """Everything a refused action must leave as it was."""
    coupons = {nip: hub.coupon_queries.list(actor=OPERATOR, company_nip=nip) for nip in (NIP,)}
    return (
        hub.companies.list(actor=OPERATOR),
        coupons,
        hub.users.list_users(OPERATOR),
        hub.users.list_roles(OPERATOR),
        len(audit(hub)),
    )


def role_with(hub, name: str, permissions, nip: str = NIP) -> str:
    hub.users.add_role(OPERATOR, company_nip=nip, name=name, permissions=permissions)
    return name


# -- each permission: refused without it, works with it -----------------------


def _issue(hub, actor):
    issue(hub, actor=actor)


def _cancel(hub, actor, coupon_id):
    hub.coupons.cancel(request_id=rid(), coupon_text=coupon_id, actor=actor)


def _read_coupons(hub, actor):
    return hub.coupon_queries.list(actor=actor, company_nip=NIP)


def _manage_users(hub, actor):
    hub.users.add_role(actor, company_nip=NIP, name="managers", permissions=["users:manage"])
    hub.users.add_user(actor, "newcomer", company_nip=NIP, role="managers")


def _read_statement(hub, actor):
    return hub.companies.statement(actor=actor, nip=NIP, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))


def _read_reports(hub, actor):
    return hub.reports.run("coupons", actor, ReportQuery(nip=NIP))


COMPANY_ACTIONS = {
    "coupons:issue": _issue,
    "coupons:cancel": _cancel,
    "coupons:read": _read_coupons,
    "users:manage": _manage_users,
    "statement:read": _read_statement,
    "reports:read": _read_reports,
}


def test_every_company_permission_has_an_acceptance_case():
    assert set(COMPANY_ACTIONS) == set(COMPANY_PERMISSIONS)


@pytest.mark.parametrize("permission", COMPANY_PERMISSIONS)
def test_a_company_permission_is_refused_without_it_and_works_with_it(hub, company, permission):
    action = COMPANY_ACTIONS[permission]
    args = (issue(hub).coupons[0].coupon_id,) if permission == "coupons:cancel" else ()
    without = role_with(hub, "all-but-one", [p for p in COMPANY_PERMISSIONS if p != permission])
    lacking = hub_user(hub, "lacking", without)
    before = state(hub)
    with pytest.raises(NotAuthorized, match=permission):
        action(hub, lacking, *args)
    assert state(hub) == before

    only = role_with(hub, "only-one", [permission])
    holding = hub_user(hub, "holding", only)
    assert holding.permissions == {permission}
    action(hub, holding, *args)


def test_with_the_permission_the_actions_take_effect(hub, company):
    issuer = hub_user(hub, "iza", "issuer")
    batch = issue(hub, 2, actor=issuer)
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 2 * 16150
    assert [e.actor for e in audit(hub, "coupons.issue")] == ["user:iza"]
    hub.coupons.cancel(request_id=rid(), coupon_text=batch.coupons[0].coupon_id, actor=issuer)
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 16150
    page = hub.coupon_queries.list(actor=issuer, company_nip=NIP)
    assert sorted(c.status for c in page.coupons) == ["CANCELLED", "ISSUED"]

    admin = hub_user(hub, "ada", "admin")
    hub.users.add_user(admin, "vic", company_nip=NIP, role="viewer", password=PASSWORD)
    assert [u.login for u in hub.users.list_users(admin)] == ["ada", "iza", "vic"]

    viewer = hub.users.actor("vic")
    statement = hub.companies.statement(actor=viewer, nip=NIP, date_from=date(2026, 3, 10), date_to=date(2026, 3, 10))
    assert statement.closing_balance_grosze == 100_000 - 16150 and len(statement.entries) >= 2
    report = hub.reports.run("coupons", viewer, ReportQuery(nip=NIP))
    assert len(report.rows) == 2


# -- office users -----------------------------------------------------------


def test_office_users_get_the_office_scope(hub):
    cashier = hub_user(hub, "kasjer", "cashier", office_code=OFFICE)
    supervisor = hub_user(hub, "kierownik", "supervisor", office_code=OFFICE)
    assert cashier == Actor(
        "user:kasjer", frozenset({"payments:register", "payments:read"}), offices=frozenset({OFFICE})
    )
    assert supervisor.offices == {OFFICE} and supervisor.company_nip is None
    assert supervisor.permissions == set(OFFICE_PERMISSIONS)
    assert not cashier.is_operator

    cashier.require("payments:register", office_code=OFFICE)
    with pytest.raises(NotAuthorized, match="does not act for office 1261"):
        cashier.require("payments:register", office_code=OTHER_OFFICE)
    with pytest.raises(NotAuthorized, match="payments:void"):
        cashier.require("payments:void", office_code=OFFICE)
    with pytest.raises(NotAuthorized):
        supervisor.require("coupons:read", company_nip=NIP)


def _pay(hub, actor):
    return pay(hub, actor=actor, office_code=OFFICE)


def _read_payments(hub, actor):
    return hub.cashdesk.verify_payment(system="POJAZD", office_code=OFFICE, case_number="KM.5410.1.1.2026", actor=actor)


def _void(hub, actor, payment_id):
    void(hub, payment_id, "wrong case number", "kierownik", actor=actor)


def _close_desk(hub, actor):
    hub.cashdesk.close_day(
        request_id=rid(), office_code=OFFICE, desk_id="01", day=business_day(hub.clock()), actor=actor
    )


def _read_cash_report(hub, actor):
    return hub.cashdesk.cash_report(office_code=OFFICE, desk_id="01", day=business_day(hub.clock()), actor=actor)


def _manage_office_users(hub, actor):
    hub.users.add_role(actor, office_code=OFFICE, name="managers", permissions=["users:manage"])
    hub.users.add_user(actor, "newcomer", office_code=OFFICE, role="managers")


OFFICE_ACTIONS = {
    "payments:register": _pay,
    "payments:read": _read_payments,
    "payments:void": _void,
    "desk:close": _close_desk,
    "reports:read": _read_cash_report,
    "users:manage": _manage_office_users,
}


def office_state(hub) -> tuple:
    return (
        _read_cash_report(hub, OPERATOR),
        hub.users.list_users(OPERATOR),
        hub.users.list_roles(OPERATOR),
        len(audit(hub)),
    )


def test_every_office_permission_has_an_acceptance_case():
    assert set(OFFICE_ACTIONS) == set(OFFICE_PERMISSIONS)


@pytest.mark.parametrize("permission", OFFICE_PERMISSIONS)
def test_an_office_permission_is_refused_without_it_and_works_with_it(hub, permission):
    action = OFFICE_ACTIONS[permission]
    hub_user(hub, "kierownik", "supervisor", office_code=OFFICE)  # the one who approves voids
    args = (_pay(hub, OPERATOR).payment_id,) if permission == "payments:void" else ()
    hub.users.add_role(
        OPERATOR, office_code=OFFICE, name="all-but-one", permissions=[p for p in OFFICE_PERMISSIONS if p != permission]
    )
    hub.users.add_role(OPERATOR, office_code=OFFICE, name="only-one", permissions=[permission])
    lacking = hub_user(hub, "lacking", "all-but-one", office_code=OFFICE)
    before = office_state(hub)
    with pytest.raises(NotAuthorized, match=permission):
        action(hub, lacking, *args)
    assert office_state(hub) == before

    holding = hub_user(hub, "holding", "only-one", office_code=OFFICE)
    assert holding.permissions == {permission}
    action(hub, holding, *args)


def test_a_supervisor_manages_its_own_office_only(hub):
    supervisor = hub_user(hub, "kierownik", "supervisor", office_code=OFFICE)
    hub.users.add_user(supervisor, "kasjer", office_code=OFFICE, role="cashier", password=PASSWORD)
    assert hub.users.actor("kasjer").offices == {OFFICE}
    before = hub.users.list_users(OPERATOR)
    with pytest.raises(NotAuthorized, match="does not act for office 1261"):
        hub.users.add_user(supervisor, "obcy", office_code=OTHER_OFFICE, role="cashier")
    with pytest.raises(NotAuthorized, match="does not act for company"):
        hub.users.add_user(supervisor, "obcy", company_nip=NIP, role="viewer")
    assert hub.users.list_users(OPERATOR) == before
    assert [u.login for u in hub.users.list_users(supervisor)] == ["kasjer", "kierownik"]


def test_office_and_company_roles_do_not_mix(hub, company):
    with pytest.raises(InvalidRequest, match="office 1465 has no role 'admin'"):
        hub.users.add_user(OPERATOR, "kasjer", office_code=OFFICE, role="admin")
    hub_user(hub, "ada", "viewer")
    with pytest.raises(InvalidRequest, match="company 5260250274 has no role 'cashier'"):
        hub.users.grant(OPERATOR, "ada", "cashier")
    with pytest.raises(InvalidRequest, match="'payments:void' is only for office roles"):
        hub.users.add_role(OPERATOR, company_nip=NIP, name="voider", permissions=["payments:void"])


# -- who may manage whom ------------------------------------------------------


def test_a_company_admin_cannot_manage_another_companys_users(hub, company):
    funded_company(hub, 0, nip=OTHER_NIP, name="Inny Leasing")
    admin = hub_user(hub, "ada", "admin")
    hub_user(hub, "bob", "viewer", nip=OTHER_NIP)
    before = state(hub)
    for attempt in (
        lambda: hub.users.add_user(admin, "eve", company_nip=OTHER_NIP, role="viewer"),
        lambda: hub.users.grant(admin, "bob", "admin"),
        lambda: hub.users.revoke(admin, "bob", "viewer"),
        lambda: hub.users.reset_password(admin, "bob", "a new password!"),
        lambda: hub.users.set_active(admin, "bob", False),
        lambda: hub.users.add_role(admin, company_nip=OTHER_NIP, name="spies", permissions=["coupons:read"]),
        lambda: hub.users.list_users(admin, company_nip=OTHER_NIP),
        lambda: hub.users.list_roles(admin, company_nip=OTHER_NIP),
    ):
        with pytest.raises(NotAuthorized, match=f"does not act for company {OTHER_NIP}"):
            attempt()
    assert state(hub) == before
    assert [u.login for u in hub.users.list_users(admin)] == ["ada"]


def test_nobody_can_grant_a_role_of_another_company(hub, company):
    funded_company(hub, 0, nip=OTHER_NIP, name="Inny Leasing")
    role_with(hub, "auditors", ["coupons:read"], nip=OTHER_NIP)
    hub_user(hub, "ada", "viewer")
    before = state(hub)
    with pytest.raises(InvalidRequest, match="company 5260250274 has no role 'auditors'"):
        hub.users.grant(OPERATOR, "ada", "auditors")
    with pytest.raises(InvalidRequest, match="has no role 'auditors'"):
        hub.users.add_user(OPERATOR, "eve", company_nip=NIP, role="auditors")
    assert state(hub) == before


def test_a_user_manager_cannot_hand_out_permissions_it_lacks(hub, company):
    role_with(hub, "hr", ["users:manage", "coupons:read"])
    role_with(hub, "readers", ["coupons:read"])
    hr = hub_user(hub, "hr", "hr")
    hub_user(hub, "ada", "admin", password=PASSWORD)
    hub_user(hub, "vic", "readers")
    before = state(hub)
    refusals = {
        "grant the role issuer": lambda: hub.users.grant(hr, "vic", "issuer"),
        "grant the role admin": lambda: hub.users.add_user(hr, "eve", company_nip=NIP, role="admin"),
        "create a role with coupons:issue": lambda: hub.users.add_role(
            hr, company_nip=NIP, name="x1", permissions=["coupons:issue"]
        ),
        "revoke the role admin": lambda: hub.users.revoke(hr, "ada", "admin"),
        "reset the password of ada": lambda: hub.users.reset_password(hr, "ada"),
        "deactivate ada": lambda: hub.users.set_active(hr, "ada", False),
    }
    for what, attempt in refusals.items():
        with pytest.raises(NotAuthorized, match=f"user:hr may not {what}: it does not hold .*coupons:issue"):
            attempt()
    assert state(hub) == before
    assert hub.users.authenticate("ada", PASSWORD).name == "user:ada"

    hub.users.add_user(hr, "eve", company_nip=NIP, role="readers", password=PASSWORD)
    hub.users.grant(hr, "vic", "hr")
    assert hub.users.actor("vic").permissions == {"users:manage", "coupons:read"}


def test_the_operator_and_a_signed_company_system_hold_every_permission_of_their_scope(hub, company):
    hub.users.add_user(OPERATOR, "ada", company_nip=NIP, role="admin", password=PASSWORD)
    system = Actor("client:erp", company_nip=NIP)
    hub.users.add_user(system, "bob", company_nip=NIP, role="admin", password=PASSWORD)
    assert [e.actor for e in audit(hub, "user.add")] == ["test", "client:erp"]


# -- roles and grants ---------------------------------------------------------


def test_a_custom_role_granted_changes_the_users_permissions(hub, company):
    viewer = hub_user(hub, "vic", "viewer")
    assert viewer.permissions == {"coupons:read", "statement:read", "reports:read"}
    with pytest.raises(NotAuthorized):
        issue(hub, actor=viewer)
    admin = hub_user(hub, "ada", "admin")
    created = hub.users.add_role(admin, company_nip=NIP, name="issue-only", permissions=["coupons:issue"])
    assert (created.name, created.permissions, created.built_in) == ("issue-only", ("coupons:issue",), False)

    view = hub.users.grant(admin, "vic", "issue-only")
    assert view.roles == ("issue-only", "viewer")
    vic = hub.users.actor("vic")
    assert vic.permissions == {"coupons:read", "statement:read", "reports:read", "coupons:issue"}
    issue(hub, actor=vic)

    hub.users.revoke(admin, "vic", "issue-only")
    vic = hub.users.actor("vic")
    assert vic.permissions == {"coupons:read", "statement:read", "reports:read"}
    with pytest.raises(NotAuthorized):
        issue(hub, actor=vic)


def test_grant_and_revoke_are_audited_with_the_actor(hub, company):
    admin = hub_user(hub, "ada", "admin")
    hub_user(hub, "vic", "viewer")
    hub.users.grant(admin, "vic", "issuer")
    hub.users.grant(admin, "vic", "issuer")  # held already: no change, no second event
    hub.users.revoke(admin, "vic", "viewer")
    hub.users.revoke(admin, "vic", "viewer")  # not held: no change
    grants = [(e.actor, e.subject, json.loads(e.detail)["role"]) for e in audit(hub, "user.grant")]
    assert grants == [("test", "user:ada", "admin"), ("test", "user:vic", "viewer"), ("user:ada", "user:vic", "issuer")]
    revokes = [(e.actor, e.subject, json.loads(e.detail)["role"]) for e in audit(hub, "user.revoke")]
    assert revokes == [("user:ada", "user:vic", "viewer")]
    assert [(e.actor, e.subject) for e in audit(hub, "user.add")] == [("test", "user:ada"), ("test", "user:vic")]
    hub.users.add_role(admin, company_nip=NIP, name="readers", permissions=["coupons:read"])
    [event] = audit(hub, "role.add")
    assert (event.actor, event.subject, json.loads(event.detail)) == (
        "user:ada",
        f"company:{NIP}",
        {"role": "readers", "permissions": ["coupons:read"]},
    )


def test_the_last_role_cannot_be_revoked(hub, company):
    hub_user(hub, "vic", "viewer")
    with pytest.raises(InvalidRequest, match="viewer is the last role of vic"):
        hub.users.revoke(OPERATOR, "vic", "viewer")
    assert hub.users.actor("vic").permissions == {"coupons:read", "statement:read", "reports:read"}


def test_roles_are_listed_built_in_first_then_the_companys_own(hub, company):
    funded_company(hub, 0, nip=OTHER_NIP, name="Inny Leasing")
    role_with(hub, "readers", ["coupons:read"])
    role_with(hub, "others", ["coupons:read"], nip=OTHER_NIP)
    admin = hub_user(hub, "ada", "admin")
    roles = hub.users.list_roles(admin)
    assert [(r.name, r.built_in) for r in roles] == [
        ("admin", True),
        ("issuer", True),
        ("viewer", True),
        ("readers", False),
    ]
    assert {r.company_nip for r in roles} == {NIP}
    assert {r.name for r in hub.users.list_roles(OPERATOR)} == {
        "admin",
        "issuer",
        "viewer",
        "cashier",
        "supervisor",
        "readers",
        "others",
    }


@pytest.mark.parametrize(
    "permissions,expected",
    [
        (["coupons:print"], "unknown permission 'coupons:print'"),
        (["coupons:read", "everything"], "unknown permission 'everything'"),
        (["desk:close"], "'desk:close' is only for office roles"),
        ([], "a role needs at least one permission"),
    ],
)
def test_a_role_with_a_wrong_permission_is_refused_and_nothing_is_created(hub, company, permissions, expected):
    before = state(hub)
    with pytest.raises(InvalidRequest, match=expected):
        hub.users.add_role(OPERATOR, company_nip=NIP, name="strange", permissions=permissions)
    assert state(hub) == before


def test_role_names_are_unique_per_company_and_never_built_in(hub, company):
    funded_company(hub, 0, nip=OTHER_NIP, name="Inny Leasing")
    role_with(hub, "readers", ["coupons:read"])
    role_with(hub, "readers", ["coupons:read"], nip=OTHER_NIP)
    with pytest.raises(InvalidRequest, match="company 5260250274 already has a role 'readers'"):
        role_with(hub, "readers", ["statement:read"])
    with pytest.raises(InvalidRequest, match="admin is a built-in role"):
        role_with(hub, "admin", ["coupons:read"])
    with pytest.raises(InvalidRequest, match="cashier is a built-in role"):
        hub.users.add_role(OPERATOR, office_code=OFFICE, name="Cashier", permissions=["payments:read"])


# -- users: creation and validation -----------------------------------------


@pytest.mark.production_hasher
def test_the_password_is_stored_only_as_an_argon2id_hash(hub, company):
    new = hub.users.add_user(OPERATOR, "ada", company_nip=NIP, role="admin", password=PASSWORD)
    assert new.password is None
    stored = stored_user(hub, "ada").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    params = extract_parameters(stored)
    assert (params.type, params.memory_cost, params.time_cost, params.parallelism) == (Type.ID, 65536, 3, 4)
    assert PasswordHasher().verify(stored, PASSWORD)
    with hub.db.read() as session:
        assert all(PASSWORD not in e.detail for e in session.scalars(select(AuditEvent)))


def test_a_generated_password_is_returned_once_and_works(hub, company):
    first = hub.users.add_user(OPERATOR, "ada", company_nip=NIP, role="admin")
    second = hub.users.add_user(OPERATOR, "bob", company_nip=NIP, role="admin")
    assert len(first.password) >= 20 and first.password != second.password
    assert first.password not in stored_user(hub, "ada").password_hash
    assert hub.users.authenticate("ada", first.password).name == "user:ada"


def test_a_login_is_unique_across_the_hub_whatever_its_case(hub, company):
    hub.users.add_user(OPERATOR, "Ada.Nowak", company_nip=NIP, role="admin", password=PASSWORD)
    assert [u.login for u in hub.users.list_users(OPERATOR)] == ["ada.nowak"]
    before = state(hub)
    with pytest.raises(InvalidRequest, match="the login 'ada.nowak' is already taken"):
        hub.users.add_user(OPERATOR, "ADA.NOWAK", office_code=OFFICE, role="cashier", password="other password")
    assert state(hub) == before
    assert hub.users.authenticate("ada.nowak", PASSWORD).company_nip == NIP


@pytest.mark.parametrize(
    "kwargs,error,expected",
    [
        ({"login": "a"}, InvalidRequest, "login 'a' is not valid"),
        ({"login": "ada nowak"}, InvalidRequest, "login 'ada nowak' is not valid"),
        ({"company_nip": "5260250275"}, InvalidRequest, "NIP '5260250275' is not valid"),
        ({"company_nip": OTHER_NIP}, NotFound, f"no company with NIP {OTHER_NIP}"),
        ({"company_nip": None, "office_code": "9999"}, InvalidRequest, "Unknown office code '9999'"),
        ({"office_code": OFFICE}, InvalidRequest, "either a company"),
        ({"company_nip": None}, InvalidRequest, "either a company"),
        ({"role": "boss"}, InvalidRequest, "company 5260250274 has no role 'boss'; its roles: admin, issuer, viewer"),
        ({"password": "short"}, InvalidRequest, "a password must have 12 to 256 characters"),
    ],
)
def test_bad_user_input_is_refused_and_changes_nothing(hub, company, kwargs, error, expected):
    args = {"login": "ada", "company_nip": NIP, "role": "admin", "password": PASSWORD, **kwargs}
    before = state(hub)
    with pytest.raises(error, match=expected):
        hub.users.add_user(OPERATOR, args.pop("login"), **args)
    assert state(hub) == before


def test_unknown_users_are_not_found(hub, company):
    with pytest.raises(NotFound, match="no user 'nobody'"):
        hub.users.actor("nobody")
    with pytest.raises(NotFound, match="no user 'nobody'"):
        hub.users.grant(OPERATOR, "nobody", "viewer")


# -- authentication ----------------------------------------------


def test_authenticate_gives_the_users_actor(hub, company):
    hub_user(hub, "iza", "issuer", password=PASSWORD)
    actor = hub.users.authenticate("IZA", PASSWORD)
    assert actor == hub.users.actor("iza")
    assert actor.company_nip == NIP and actor.permissions == {
        "coupons:issue",
        "coupons:cancel",
        "coupons:read",
        "statement:read",
    }
    assert stored_user(hub, "iza").last_login_at == hub.clock()


def test_every_failed_login_gives_the_same_message(hub, company, clock):
    hub_user(hub, "ada", "admin", password=PASSWORD)
    hub_user(hub, "bob", "admin", password=PASSWORD)
    hub.users.set_active(OPERATOR, "bob", False)
    messages = set()
    attempts = [
        ("nobody", PASSWORD),
        ("ada", "wrong password"),
        ("bob", PASSWORD),
        ("x", PASSWORD),
        ("ada", "x" * 10_000),
    ]
    for n, (login, password) in enumerate(attempts):
        with pytest.raises(NotAuthorized) as refused:
            hub.users.authenticate(login, password, f"203.0.113.{n}")  # one address each: none is slowed down yet
        messages.add(refused.value.message)
    assert messages == {LOGIN_FAILED}


@pytest.mark.production_hasher
def test_the_hash_is_upgraded_at_login_when_the_parameters_change(hub, company):
    weak = UserService(
        hub.db, hub.config.known_offices, hub.clock, hasher=PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    )
    weak.add_user(OPERATOR, "ada", company_nip=NIP, role="admin", password=PASSWORD)
    old = stored_user(hub, "ada").password_hash
    assert extract_parameters(old).memory_cost == 8192
    hub.users.authenticate("ada", PASSWORD)
    new = stored_user(hub, "ada").password_hash
    assert extract_parameters(new).memory_cost == 65536 and new != old
    hub.users.authenticate("ada", PASSWORD)
    assert stored_user(hub, "ada").password_hash == new  # current parameters: left alone


def test_a_deactivated_user_cannot_log_in_or_be_acted_as_until_activated(hub, company):
    hub_user(hub, "ada", "admin", password=PASSWORD)
    hub.users.set_active(OPERATOR, "ada", False)
    with pytest.raises(NotAuthorized, match=LOGIN_FAILED):
        hub.users.authenticate("ada", PASSWORD)
    with pytest.raises(NotAuthorized, match="user ada is deactivated"):
        hub.users.actor("ada")
    hub.users.set_active(OPERATOR, "ada", True)
    assert hub.users.authenticate("ada", PASSWORD).name == "user:ada"
    assert [
        e.action for e in audit(hub) if e.action.startswith("user.") and e.action not in ("user.add", "user.grant")
    ] == ["user.deactivate", "user.activate"]


def test_a_password_reset_replaces_the_old_one(hub, company):
    admin = hub_user(hub, "ada", "admin", password=PASSWORD)
    hub_user(hub, "iza", "issuer", password=PASSWORD)
    new_password = hub.users.reset_password(admin, "iza")
    with pytest.raises(NotAuthorized):
        hub.users.authenticate("iza", PASSWORD)
    assert hub.users.authenticate("iza", new_password).name == "user:iza"
    assert hub.users.reset_password(admin, "iza", "chosen password") is None
    assert hub.users.authenticate("iza", "chosen password").name == "user:iza"
    assert [e.actor for e in audit(hub, "user.password")] == ["user:ada", "user:ada"]


# -- one's own account: password change, a reset to change, the second factor (issue 20) --


def test_a_new_user_gets_the_least_privileged_role_unless_one_is_chosen(hub, company):
    assert hub.users.add_user(OPERATOR, "ola", company_nip=NIP, password=PASSWORD).user.roles == ("viewer",)
    assert hub.users.add_user(OPERATOR, "kasia", office_code=OFFICE, password=PASSWORD).user.roles == ("cashier",)
    assert hub.users.add_user(OPERATOR, "ada", company_nip=NIP, role="admin", password=PASSWORD).user.roles == (
        "admin",
    )


def test_a_user_changes_their_own_password_giving_the_current_one(hub, company):
    hub.users.add_user(OPERATOR, "ola", company_nip=NIP, role="viewer", password=PASSWORD)
    with pytest.raises(NotAuthorized):
        hub.accounts.change_password("ola", "not my password", "a brand new password")
    assert login_failures(hub, "ola") == 1  # a wrong current password counts like a failed login
    with pytest.raises(InvalidRequest) as short:
        hub.accounts.change_password("ola", PASSWORD, "short")
    assert short.value.kind == "password_length"
    with pytest.raises(InvalidRequest) as same:
        hub.accounts.change_password("ola", PASSWORD, PASSWORD)
    assert same.value.kind == "password_same"
    hub.users.authenticate("ola", PASSWORD)
    hub.accounts.change_password("ola", PASSWORD, "a brand new password")
    with pytest.raises(NotAuthorized):
        hub.users.authenticate("ola", PASSWORD)
    hub.users.authenticate("ola", "a brand new password")
    assert [e.actor for e in audit(hub, "user.password.change")] == ["user:ola"]


def test_a_reset_or_generated_password_must_be_changed_at_the_next_login(hub, company):
    generated = hub.users.add_user(OPERATOR, "ola", company_nip=NIP, role="viewer").password
    assert hub.accounts.state("ola").must_change_password
    hub.accounts.change_password("ola", generated, "a brand new password")
    assert not hub.accounts.state("ola").must_change_password
    admin = hub_user(hub, "ada", "admin")
    new = hub.users.reset_password(admin, "ola")
    assert hub.accounts.state("ola").must_change_password and hub.users.authenticate("ola", new)
    hub.users.add_user(OPERATOR, "eva", company_nip=NIP, password=PASSWORD)
    assert not hub.accounts.state("eva").must_change_password  # a password the user chose


def _enrol(hub, login: str) -> tuple[str, tuple[str, ...]]:
    enrolment = hub.accounts.begin_enrolment(login)
    assert enrolment.uri.startswith("otpauth://totp/") and enrolment.secret in enrolment.uri
    codes = hub.accounts.confirm_enrolment(login, hub.accounts.current_code(enrolment.secret, hub.clock()))
    return enrolment.secret, codes


def test_admins_and_supervisors_need_a_second_factor_others_do_not(hub, company):
    hub_user(hub, "ada", "admin"), hub_user(hub, "ivo", "issuer")
    (
        hub_user(hub, "szef", "supervisor", nip=None, office_code=OFFICE),
        hub_user(hub, "kasia", "cashier", nip=None, office_code=OFFICE),
    )
    assert hub.accounts.state("ada").must_enrol and hub.accounts.state("szef").must_enrol
    assert (
        not hub.accounts.state("ivo").second_factor_required and not hub.accounts.state("kasia").second_factor_required
    )
    hub.users.add_role(OPERATOR, company_nip=NIP, name="hr", permissions=["users:manage"])
    hub.users.grant(OPERATOR, "ivo", "hr")  # the power, not the role's name, asks for it
    assert hub.accounts.state("ivo").must_enrol


def test_enrolment_needs_a_code_from_the_secret_and_keeps_one_secret_until_confirmed(hub, company, clock):
    hub_user(hub, "ada", "admin")
    first = hub.accounts.begin_enrolment("ada")
    assert hub.accounts.begin_enrolment("ada").secret == first.secret
    with pytest.raises(InvalidRequest) as wrong:
        hub.accounts.confirm_enrolment(
            "ada", "000000" if hub.accounts.current_code(first.secret, clock()) != "000000" else "111111"
        )
    assert wrong.value.kind == "totp_wrong" and not hub.accounts.state("ada").second_factor_enabled
    codes = hub.accounts.confirm_enrolment("ada", hub.accounts.current_code(first.secret, clock()))
    assert (
        len(codes) == 10
        and len(set(codes)) == 10
        and all(re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){3}", c) for c in codes)
    )
    assert hub.accounts.state("ada").second_factor_enabled
    with pytest.raises(InvalidRequest):
        hub.accounts.begin_enrolment("ada")


def test_a_totp_code_works_once_and_only_near_its_time(hub, company, clock):
    hub_user(hub, "ada", "admin")
    secret, _ = _enrol(hub, "ada")
    with pytest.raises(NotAuthorized):  # the enrolment's own code is spent
        hub.accounts.verify_second_factor("ada", hub.accounts.current_code(secret, clock()))
    clock.advance(seconds=30)
    code = hub.accounts.current_code(secret, clock())
    hub.accounts.verify_second_factor("ada", code)
    with pytest.raises(NotAuthorized):
        hub.accounts.verify_second_factor("ada", code)  # replayed
    old = hub.accounts.current_code(secret, clock())
    clock.advance(minutes=5)
    with pytest.raises(NotAuthorized):
        hub.accounts.verify_second_factor("ada", old)
    assert login_failures(hub, "ada") == 2  # the replayed and the stale code (the good one forgot the spent one)


def test_a_recovery_code_works_once_and_is_stored_only_hashed(hub, company, clock):
    hub_user(hub, "ada", "admin")
    _, codes = _enrol(hub, "ada")
    hub.accounts.verify_second_factor("ada", codes[3].lower().replace("-", " "))  # typed forgivingly
    with pytest.raises(NotAuthorized):
        hub.accounts.verify_second_factor("ada", codes[3])
    hub.accounts.verify_second_factor("ada", codes[4])
    with hub.db.read() as session:
        stored = session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10 and not any(c.replace("-", "") in h for c in codes for h in stored)
    assert len(audit(hub, "user.recovery_code")) == 2


def login_failures(hub, login: str) -> int:
    with hub.db.read() as session:
        return (
            session.scalar(select(LoginThrottleEntry.failures).where(LoginThrottleEntry.key == f"login:{login}")) or 0
        )


def test_wrong_codes_slow_further_attempts_like_wrong_passwords(hub, company, clock):
    hub_user(hub, "ada", "admin")
    secret, codes = _enrol(hub, "ada")
    clock.advance(seconds=30)  # past the enrolment's own code
    for _ in range(FAILURES_FREE):
        with pytest.raises(NotAuthorized) as refused:
            hub.accounts.verify_second_factor("ada", "ABCD-EFGH-JKMN-PQRS")
        assert not isinstance(refused.value, LoginDelayed)
    with pytest.raises(LoginDelayed):  # waits: even a good code is not checked yet
        hub.accounts.verify_second_factor("ada", hub.accounts.current_code(secret, clock()))
    clock.advance(seconds=1)
    hub.accounts.verify_second_factor("ada", hub.accounts.current_code(secret, clock()))
    assert login_failures(hub, "ada") == 0  # a good code forgets the failures, as a good password does
    with pytest.raises(NotAuthorized):  # the address's failures stay: its fourth failure waits 2 s
        hub.accounts.verify_second_factor("ada", "ABCD-EFGH-JKMN-PQRS")
    with pytest.raises(LoginDelayed):
        hub.accounts.verify_second_factor("ada", codes[0])
    clock.advance(seconds=2)
    hub.accounts.verify_second_factor("ada", codes[0])  # slowed down, never locked out


def test_a_second_factor_reset_drops_the_secret_and_codes_and_needs_the_users_permissions(hub, company, clock, run):
    hub_user(hub, "ada", "admin")
    _enrol(hub, "ada")
    hub_user(hub, "hr", "viewer")
    hub.users.add_role(OPERATOR, company_nip=NIP, name="hr", permissions=["users:manage"])
    hub.users.grant(OPERATOR, "hr", "hr")
    with pytest.raises(NotAuthorized):  # it does not hold all that ada holds
        hub.accounts.reset_second_factor(hub.users.actor("hr"), "ada")
    assert hub.accounts.state("ada").second_factor_enabled
    run("user", "second-factor-reset", "--login", "ada")
    assert hub.accounts.state("ada").must_enrol
    with hub.db.read() as session:
        assert session.scalars(select(RecoveryCode)).all() == []
    assert [e.action for e in audit(hub, "user.totp.reset")] == ["user.totp.reset"]

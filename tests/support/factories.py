"""Test data, made through the services (never by writing rows by hand)."""

from __future__ import annotations

import uuid

from hub.access import Actor, operator

OPERATOR = operator("test")

NIP = "5260250274"
OTHER_NIP = "7740001454"
REJ_NEW = "REJ_NEW"  # 161.50 in the shipped fee table


def rid() -> str:
    return str(uuid.uuid4())


def funded_company(hub, amount_grosze: int, nip: str = NIP, name: str = "Leasing Polska S.A."):
    hub.companies.add(nip, name, actor=OPERATOR)
    if amount_grosze:
        hub.companies.credit(nip, amount_grosze, "test funding", actor=OPERATOR)
    return nip


def issue(hub, count: int = 1, nip: str = NIP, **kw):
    return hub.coupons.issue(
        request_id=kw.pop("request_id", rid()),
        company_nip=nip,
        case_type=kw.pop("case_type", REJ_NEW),
        count=count,
        actor=kw.pop("actor", OPERATOR),
        **kw,
    )


def redeem(
    hub,
    coupon_text: str,
    office_code: str = "1465",
    amount_grosze: int | None = None,
    case_number: str = "WK.5410.1.2026",
    case_type: str = REJ_NEW,
):
    """The operator records a redemption at `office_code` (the whole coupon unless `amount_grosze`)."""
    return hub.coupons.redeem(
        request_id=rid(),
        coupon_text=coupon_text,
        office_code=office_code,
        case_number=case_number,
        case_type=case_type,
        amount_grosze=amount_grosze,
        actor=OPERATOR,
    )


def company_actor(nip: str = NIP) -> Actor:
    """A company's own signed system: every company permission, that company only."""
    return Actor("client:test-company", company_nip=nip)


def config_copy(tmp_path, db_url: str):
    """The shipped config in a folder of the test's own, on the test's database."""
    from hub.cli.demo import copy_config
    from tests.support import SHIPPED_CONFIG

    return copy_config(SHIPPED_CONFIG, tmp_path / "config", db_url)


def hub_user(
    hub, login: str, role: str, *, nip: str | None = NIP, office_code: str | None = None, password: str | None = None
) -> Actor:
    """A hub user made by the operator (of company `nip`, or of `office_code` when
    given), returned as the Actor it acts as (as `hub ... --as LOGIN` would)."""
    scope = {"office_code": office_code} if office_code else {"company_nip": nip}
    hub.users.add_user(OPERATOR, login, role=role, password=password, **scope)
    return hub.users.actor(login)

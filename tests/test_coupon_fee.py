"""A coupon may not hold less than its case type's fee, unless fees.toml allows it for that
case type (`allow_lower_amount`); VerifyCoupon tells the office the fee of today."""

from __future__ import annotations

import dataclasses
import json

import pytest

from hub.app import Hub
from hub.config import load_config
from hub.errors import InvalidRequest
from tests.support.factories import NIP, OPERATOR, REJ_NEW, funded_company, issue

REJ_NEW_FEE = 161_50


def test_an_amount_below_the_fee_is_refused_and_holds_nothing(hub):
    funded_company(hub, 1000_00)
    for amount in (1, REJ_NEW_FEE - 1):
        with pytest.raises(
            InvalidRequest,
            match=r"Amount 161\.49 is below the REJ_NEW fee of 161\.50|"
            r"Amount 0\.01 is below the REJ_NEW fee of 161\.50",
        ):
            issue(hub, 1, amount_grosze=amount)
    assert hub.companies.account(NIP, actor=OPERATOR).held_grosze == 0
    assert [c.amount_grosze for c in issue(hub, 1, amount_grosze=REJ_NEW_FEE).coupons] == [REJ_NEW_FEE]
    assert [c.amount_grosze for c in issue(hub, 1, amount_grosze=200_00).coupons] == [200_00]


def test_a_case_type_may_allow_lower_amounts(shipped_config, db, clock):
    lower = tuple(dataclasses.replace(t, allow_lower_amount=t.code == REJ_NEW) for t in shipped_config.case_types)
    hub = Hub(dataclasses.replace(shipped_config, case_types=lower), clock=clock, db=db)
    funded_company(hub, 1000_00)
    coupon = issue(hub, 1, amount_grosze=1).coupons[0]
    assert coupon.amount_grosze == 1
    check = hub.coupons.verify(coupon.coupon_id, "1465", actor=OPERATOR)
    assert (check.valid, check.amount_grosze, check.current_fee_grosze) == (True, 1, REJ_NEW_FEE)


def test_verify_reports_the_case_types_current_fee(hub):
    funded_company(hub, 1000_00)
    check = hub.coupons.verify(issue(hub, 1).coupons[0].coupon_id, "1465", actor=OPERATOR)
    assert check.current_fee_grosze == REJ_NEW_FEE
    assert (
        hub.coupons.verify("ABCD-EFGH-JKMN-PQRS", "1465", actor=OPERATOR).current_fee_grosze is None
    )  # no coupon, no case type


def test_allow_lower_amount_in_fees_toml(config_dir, run):
    fees = config_dir / "fees.toml"
    fees.write_text(fees.read_text().replace('code = "REJ_MOT"\n', 'code = "REJ_MOT"\nallow_lower_amount = true\n'))
    config = load_config(config_dir)
    assert {t.code for t in config.case_types if t.allow_lower_amount} == {"REJ_MOT"}
    fees.write_text(fees.read_text().replace("allow_lower_amount = true", 'allow_lower_amount = "yes"'))
    result = run("config", "check", ok=False)
    assert "fees.toml: case_type[1] (code REJ_MOT): allow_lower_amount: expected true or false" in result.stderr


def test_the_cli_refuses_an_amount_below_the_fee_in_one_line(run):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    run("company", "credit", "--nip", NIP, "--amount", "1000.00", "--reason", "przelew")
    result = run(*f"coupons issue --nip {NIP} --case-type REJ_NEW --count 2 --amount 0.01".split(), ok=False)
    assert result.exit_code != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "0.01 is below the REJ_NEW fee of 161.50" in result.stderr
    listed = json.loads(run("coupons", "list", "--nip", NIP, "--json").stdout)
    assert listed["total"] == 0

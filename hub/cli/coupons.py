"""`hub coupons issue|expire`."""

from __future__ import annotations

import uuid

import click

from hub.cli.main import AmountParam, CliContext, as_option, cli, emit_json, json_option, pass_ctx
from hub.clock import wire_time
from hub.money import format_pln


@cli.group("coupons")
def coupons() -> None:
    """Fee coupons."""


@coupons.command("issue")
@click.option("--nip", required=True, help="The company's NIP.")
@click.option("--case-type", required=True, help="A case type code from fees.toml, e.g. REJ_NEW.")
@click.option("--count", required=True, type=int)
@click.option("--amount", type=AmountParam(), help="PLN per coupon; default: the case type's fee.")
@click.option("--office", "office_code", help="Valid only at this office (TERYT code).")
@click.option("--request-id", help="A UUID to make a retry safe; one is made up if omitted.")
@as_option
@json_option
@pass_ctx
def coupons_issue(
    ctx: CliContext, nip: str, case_type: str, count: int, amount: int | None, office_code: str | None, request_id: str | None,
    as_login: str | None, as_json: bool,
) -> None:
    """Issue a batch of coupons: all held, or none."""
    batch = ctx.hub.coupons.issue(
        request_id=request_id or str(uuid.uuid4()), company_nip=nip, case_type=case_type, count=count,
        amount_grosze=amount, office_code=office_code, actor=ctx.actor(as_login),
    )
    if as_json:
        emit_json(
            {
                "batch_id": batch.batch_id,
                "total_held": format_pln(batch.total_held_grosze),
                "coupons": [
                    {"coupon_id": c.coupon_id, "amount": format_pln(c.amount_grosze), "case_type": c.case_type, "expires_at": wire_time(c.expires_at)}
                    for c in batch.coupons
                ],
            }
        )
        return
    click.echo(f"batch {batch.batch_id}: {len(batch.coupons)} coupons, {format_pln(batch.total_held_grosze)} PLN held")
    for c in batch.coupons:
        click.echo(f"  {c.coupon_id}  {format_pln(c.amount_grosze)}  {c.case_type}  expires {wire_time(c.expires_at)}")


@coupons.command("expire")
@json_option
@pass_ctx
def coupons_expire(ctx: CliContext, as_json: bool) -> None:
    """Release the holds of expired coupons (idempotent; run daily)."""
    run = ctx.hub.coupons.expire()
    if as_json:
        emit_json({"expired": run.expired, "released": format_pln(run.released_grosze)})
    else:
        click.echo(f"{run.expired} coupons expired, {format_pln(run.released_grosze)} PLN released")

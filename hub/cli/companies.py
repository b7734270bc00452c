"""`hub company add|list|credit`."""

from __future__ import annotations

import click

from hub.cli.main import AmountParam, CliContext, cli, emit_json, json_option, list_options, paged, pass_ctx, pln_json
from hub.companies.service import CompanyAccount, title_matching_note, topup_title
from hub.ids import format_nrb
from hub.money import format_pln


def account_json(a: CompanyAccount) -> dict:
    account = pln_json(a)
    account["balance"] = account.pop("posted")  # the JSON's name for the posted balance
    return account


def print_accounts(accounts: list[CompanyAccount], as_json: bool) -> None:
    if as_json:
        emit_json([account_json(a) for a in accounts])
        return
    for a in accounts:
        topup = (
            f"virtual account {format_nrb(a.virtual_account)}"
            if a.virtual_account
            else f'top-up title "{topup_title(a.nip)}"'
        )
        click.echo(
            f"{a.nip}  {a.name}\n    {topup}\n"
            f"    available {format_pln(a.available_grosze):>12}  held {format_pln(a.held_grosze):>12}"
        )


@cli.group("company")
def company() -> None:
    """Leasing companies and their prepaid accounts."""


@company.command("add")
@click.option("--nip", required=True, help="10-digit NIP with a valid check digit.")
@click.option("--name", required=True)
@json_option
@pass_ctx
def company_add(ctx: CliContext, nip: str, name: str, as_json: bool) -> None:
    """Register a company and assign its virtual top-up account (none under an IBAN escrow
    account: its top-ups are then matched by the NIP in the transfer title)."""
    account = ctx.hub.companies.add(nip, name, actor=ctx.actor(None))
    print_accounts([account], as_json)
    if account.virtual_account is None:
        click.echo(f"hub: note: {title_matching_note(ctx.hub.companies.escrow_account)}", err=True)


@company.command("list")
@list_options
@json_option
@pass_ctx
def company_list(ctx: CliContext, limit: int, offset: int, as_json: bool) -> None:
    """Companies with their balances."""
    print_accounts(paged(ctx.hub.companies.list(actor=ctx.actor(None)), offset, limit), as_json)


@company.command("credit")
@click.option("--nip", required=True)
@click.option("--amount", required=True, type=AmountParam(signed=True), help="PLN, e.g. 1000.00; negative to debit.")
@click.option("--reason", required=True, help="Kept in the audit trail.")
@click.option("--request-id", help="A UUID to make a retry safe; one is made up if omitted.")
@json_option
@pass_ctx
def company_credit(ctx: CliContext, nip: str, amount: int, reason: str, request_id: str | None, as_json: bool) -> None:
    """A manual adjustment of a company's prepaid account."""
    print_accounts(
        [ctx.hub.companies.credit(nip, amount, reason, actor=ctx.actor(None), request_id=request_id)], as_json
    )

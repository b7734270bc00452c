"""`hub bank import|suspense|assign`: the escrow account's statements (settlement adds
`bank settle` and `bank send` to the same group)."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path

import click

from hub.bank.statements import EntryView, ImportResult
from hub.cli.main import CliContext, IntParam, as_option, cli, emit_json, json_option, pass_ctx
from hub.ids import format_nrb
from hub.money import format_pln


@cli.group("bank")
def bank() -> None:
    """The escrow account at the bank: statements in, suspense."""


@bank.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@as_option
@json_option
@pass_ctx
def bank_import(ctx: CliContext, file: Path, as_login: str | None, as_json: bool) -> None:
    """Import a camt.053 statement (001.02, 001.04 or 001.08): all of it, or nothing."""
    actor = ctx.actor(as_login)
    statements = ctx.hub.statements
    show_bar = sys.stderr.isatty() and not as_json
    total = file.stat().st_size * statements.passes
    bar = click.progressbar(length=total, label=f"importing {file.name}", file=sys.stderr) if show_bar else nullcontext()
    with bar:
        progress = bar.update if show_bar else None
        result = statements.import_file(file, actor=actor, progress=progress)
    if as_json:
        emit_json(result)
        return
    click.echo(_import_line(result))


def _import_line(r: ImportResult) -> str:
    ignored = f", {r.ignored} not booked by the bank" if r.ignored else ""
    return (
        f"statement {r.bank_statement_id} (hub id {r.statement_id}): {r.imported} imported, "
        f"{r.duplicates} duplicates, {r.unmatched} unmatched{ignored}"
    )


@bank.command("suspense")
@as_option
@json_option
@pass_ctx
def bank_suspense(ctx: CliContext, as_login: str | None, as_json: bool) -> None:
    """Credits no company could be found for (SUSPENSE), and reversals to look at (REVIEW)."""
    entries = ctx.hub.statements.suspense(actor=ctx.actor(as_login))
    if as_json:
        emit_json([_entry_json(e) for e in entries])
        return
    if not entries:
        click.echo("nothing in suspense")
    for e in entries:
        click.echo(_entry_text(e))


@bank.command("assign")
@click.argument("entry", type=IntParam(1, 2**63 - 1))
@click.option("--nip", required=True, help="The company the credit belongs to.")
@as_option
@json_option
@pass_ctx
def bank_assign(ctx: CliContext, entry: int, nip: str, as_login: str | None, as_json: bool) -> None:
    """Move a suspense credit (ENTRY, its id in `hub bank suspense`) to a company."""
    view = ctx.hub.statements.assign(entry, nip, actor=ctx.actor(as_login))
    if as_json:
        emit_json(_entry_json(view))
        return
    click.echo(f"entry {view.entry_id}: {format_pln(view.amount_grosze)} PLN assigned to {view.company_nip}")


def _entry_json(e: EntryView) -> dict:
    return {
        "entry_id": e.entry_id,
        "status": e.status,
        "direction": e.direction,
        "amount": format_pln(e.amount_grosze),
        "booking_date": e.booking_date.isoformat() if e.booking_date else None,
        "debtor_name": e.debtor_name,
        "debtor_account": e.debtor_account,
        "creditor_account": e.creditor_account,
        "remittance": e.remittance,
        "end_to_end_id": e.end_to_end_id,
        "company_nip": e.company_nip,
        "statement": e.bank_statement_id,
    }


def _entry_text(e: EntryView) -> str:
    sign = "-" if e.direction == "DBIT" else ""
    who = e.debtor_name or "?"
    account = f" ({_account(e.debtor_account)})" if e.debtor_account else ""
    company = f" company {e.company_nip}" if e.company_nip else ""
    booked = e.booking_date.isoformat() if e.booking_date else "----------"
    return f"{e.entry_id:>8}  {e.status:<8} {booked}  {sign}{format_pln(e.amount_grosze):>12}  {who}{account}{company}\n" \
           f"          {e.remittance or '(no remittance text)'}"


def _account(account: str) -> str:
    return format_nrb(account) if len(account) == 26 and account.isdigit() else account

"""`hub bank import|suspense|assign`: the escrow account's statements (settlement adds
`bank settle` and `bank send` to the same group)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.bank.statements import EntryView, ImportResult
from hub.cli.main import CliContext, as_option, cli, emit_json, json_option, list_options, pass_ctx, progress_bar, say_more
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
    total, read = file.stat().st_size * statements.passes, 0
    with progress_bar(f"importing {file.name}", quiet=as_json) as bar:

        def progress(chunk_bytes: int) -> None:
            nonlocal read
            read += chunk_bytes
            bar(read, total)

        result = statements.import_file(file, actor=actor, progress=progress if bar else None)
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
@list_options
@as_option
@json_option
@pass_ctx
def bank_suspense(ctx: CliContext, limit: int, offset: int, as_login: str | None, as_json: bool) -> None:
    """Credits no company could be found for (SUSPENSE), and reversals to look at (REVIEW), oldest first."""
    actor = ctx.actor(as_login)
    entries = ctx.hub.statements.suspense(actor=actor, offset=offset, limit=limit)
    say_more(ctx.hub.statements.suspense_count(actor=actor), offset, len(entries))
    if as_json:
        emit_json([_entry_json(e) for e in entries])
        return
    if not entries:
        click.echo("nothing in suspense")
    for e in entries:
        click.echo(_entry_text(e))


@bank.command("assign")
@click.argument("entry", type=int)
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

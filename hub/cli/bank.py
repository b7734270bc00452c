"""`hub bank import|statements|suspense|assign`: the escrow account's statements (settlement
adds `bank settle` and `bank send` to the same group)."""

from __future__ import annotations

from pathlib import Path

import click

from hub.bank.statements import EntryView, ImportResult, StatementView
from hub.cli.main import (
    CliContext,
    IntParam,
    as_option,
    cli,
    emit_json,
    json_option,
    list_options,
    pass_ctx,
    pln_json,
    progress_bar,
    say_more,
)
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
    """Import a camt.053 document (001.02, 001.04 or 001.08), every statement of the escrow
    account in it: all of it, or nothing."""
    actor = ctx.actor(as_login)
    statements = ctx.hub.statements
    total, read = file.stat().st_size * statements.passes, 0
    with progress_bar(f"importing {file.name}", quiet=as_json) as bar:

        def progress(chunk_bytes: int) -> None:
            nonlocal read
            read += chunk_bytes
            if bar is not None:
                bar(read, total)

        result = statements.import_file(file, actor=actor, progress=progress if bar else None)
    if as_json:
        emit_json(_import_json(result))
        return
    for line in _import_lines(result):
        click.echo(line)


def _import_json(r: ImportResult) -> dict:
    return {
        "statement_id": r.statement_id,
        "bank_statement_id": r.bank_statement_id,
        "account": r.account,
        "imported": r.imported,
        "duplicates": r.duplicates,
        "unmatched": r.unmatched,
        "ignored": r.ignored,
        "statements": [pln_json(s) for s in r.statements],
        "skipped": [
            {"bank_statement_id": s.bank_statement_id, "account": s.account, "line": s.line} for s in r.skipped
        ],
        "gaps": list(r.gaps),
    }


def _import_lines(r: ImportResult) -> list[str]:
    lines = []
    for s in r.statements:
        ignored = f", {s.ignored} not booked by the bank" if s.ignored else ""
        lines.append(
            f"statement {s.bank_statement_id} (hub id {s.statement_id}): {s.imported} imported, "
            f"{s.duplicates} duplicates, {s.unmatched} unmatched{ignored}"
        )
        lines += [f"  gap: {gap}: ask the bank for the missing statement" for gap in s.gaps]
    lines += [
        f"statement {s.bank_statement_id} of account {_account(s.account)} "
        f"(line {s.line}): skipped, not the escrow account"
        for s in r.skipped
    ]
    return lines


@bank.command("statements")
@as_option
@json_option
@pass_ctx
def bank_statements(ctx: CliContext, as_login: str | None, as_json: bool) -> None:
    """The escrow account's imported statements in the bank's order: sequence number, opening
    and closing balance, and any gap before each (a missing sequence number, or an opening
    balance that is not the previous closing one: ask the bank for the missing statement)."""
    views = ctx.hub.statements.statements(actor=ctx.actor(as_login))
    if as_json:
        emit_json([_statement_json(v) for v in views])
        return
    if not views:
        click.echo("no statements imported")
    for v in views:
        click.echo(
            f"{v.statement_id:>6}  {v.bank_statement_id:<35} seq {v.sequence or '-':>6}  "
            f"opening {_balance(v.opening_grosze):>14}  closing {_balance(v.closing_grosze):>14}  {v.entries} entries"
        )
        for gap in v.gaps:
            click.echo(f"        gap: {gap}")


def _statement_json(v: StatementView) -> dict:
    return {
        "statement_id": v.statement_id,
        "bank_statement_id": v.bank_statement_id,
        "sequence": v.sequence,
        "created_at": v.created_at.isoformat(),
        "opening": None if v.opening_grosze is None else format_pln(v.opening_grosze),
        "closing": None if v.closing_grosze is None else format_pln(v.closing_grosze),
        "entries": v.entries,
        "imported_at": v.imported_at.isoformat(),
        "gaps": list(v.gaps),
    }


def _balance(grosze: int | None) -> str:
    return "?" if grosze is None else format_pln(grosze)


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
    entry = pln_json(e)
    entry["statement"] = entry.pop("bank_statement_id")  # the JSON's name for the Stmt/Id
    return entry


def _entry_text(e: EntryView) -> str:
    sign = "-" if e.direction == "DBIT" else ""
    who = e.debtor_name or "?"
    account = f" ({_account(e.debtor_account)})" if e.debtor_account else ""
    company = f" company {e.company_nip}" if e.company_nip else ""
    booked = e.booking_date.isoformat() if e.booking_date else "----------"
    return (
        f"{e.entry_id:>8}  {e.status:<8} {booked}  {sign}{format_pln(e.amount_grosze):>12}  {who}{account}{company}\n"
        f"          {e.remittance or '(no remittance text)'}"
    )


def _account(account: str) -> str:
    return format_nrb(account) if len(account) == 26 and account.isdigit() else account

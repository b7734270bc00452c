"""`hub bank settle|send|settlements|unreconciled|reconcile` and `hub fk export`:
paying the offices through the bank, and their FK journals."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click

from hub.cli.bank import bank
from hub.cli.main import (
    CliContext,
    DayParam,
    IntParam,
    OutputFolder,
    as_option,
    cli,
    emit_json,
    json_option,
    list_options,
    paged,
    pass_ctx,
)
from hub.clock import business_day
from hub.fk.journal import totals_by_account
from hub.money import format_pln
from hub.settlement.models import STATUSES
from hub.settlement.service import SettlementView

DAY = DayParam()


def _yesterday(ctx: CliContext) -> date:
    return business_day(ctx.hub.clock()) - timedelta(days=1)


def settlement_json(s: SettlementView) -> dict:
    return {
        "office": s.office_code,
        "day": s.business_day,
        "amount": format_pln(s.amount_grosze),
        "status": s.status,
        "end_to_end_id": s.end_to_end_id,
        "creditor_account": s.creditor_account,
        "bank_reference": s.bank_reference,
        "reject_reason": s.reject_reason,
        "created_at": s.created_at,
        "sent_at": s.sent_at,
        "booked_at": s.booked_at,
    }


def print_settlements(settlements: list[SettlementView], as_json: bool, empty: str) -> None:
    if as_json:
        emit_json([settlement_json(s) for s in settlements])
        return
    if not settlements:
        click.echo(empty)
    for s in settlements:
        reference = s.bank_reference or "-"
        reason = f"  ({s.reject_reason})" if s.reject_reason else ""
        click.echo(
            f"{s.business_day}  {s.office_code}  {s.status:<8} {format_pln(s.amount_grosze):>12} "
            f" {s.end_to_end_id or '-':<22} {reference}{reason}"
        )


@bank.command("settle")
@click.option("--date", "day", type=DAY, help="The business day (Europe/Warsaw) to settle; default yesterday.")
@as_option
@json_option
@pass_ctx
def bank_settle(ctx: CliContext, day: date | None, as_login: str | None, as_json: bool) -> None:
    """Build the day's settlements: what each office earned goes into the outbox for the bank."""
    run = ctx.hub.settlements.settle(day or _yesterday(ctx), actor=ctx.actor(as_login))
    if as_json:
        emit_json(
            {
                "day": run.day,
                "created": run.created,
                "journals_queued": run.journals_queued,
                "settlements": [settlement_json(s) for s in run.settlements],
            }
        )
        return
    print_settlements(run.settlements, False, "no offices")
    click.echo(
        f"{run.created} settled now, {len(run.settlements) - run.created} settled before; "
        f"{run.journals_queued} FK journals queued. Deliver with `hub bank send`."
    )


@bank.command("send")
@click.option("--retry-failed", is_flag=True, help="Try again what was given up (FAILED), after fixing the cause.")
@click.option(
    "--timeout", "timeout_s", type=click.FloatRange(1, 600), help="Seconds to wait for each answer (default 30)."
)
@as_option
@json_option
@pass_ctx
def bank_send(
    ctx: CliContext, retry_failed: bool, timeout_s: float | None, as_login: str | None, as_json: bool
) -> None:
    """Deliver what is due in the outbox: transfers to the bank, journals to FK systems.
    Safe to run at any time and from cron; exits 1 when something was given up."""
    run = ctx.hub.settlements.send(actor=ctx.actor(as_login), timeout_s=timeout_s, retry_failed=retry_failed)
    if as_json:
        emit_json(
            {
                "sent": run.sent,
                "refused": run.refused,
                "retried": run.retried,
                "failed": run.failed,
                "errors": run.errors,
            }
        )
    else:
        click.echo(f"{run.sent} sent, {run.refused} refused, {run.retried} to retry later, {run.failed} given up")
        for error in run.errors:
            click.echo(f"hub: {error}", err=True)
    if run.failed:
        raise SystemExit(1)


@bank.command("settlements")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--date", "day", type=DAY, help="Only this business day.")
@click.option("--office", "office_code")
@list_options
@json_option
@pass_ctx
def bank_settlements(
    ctx: CliContext,
    status: str | None,
    day: date | None,
    office_code: str | None,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """Settlements with their status, bank reference and any reason of a rejection."""
    found = ctx.hub.settlements.list(actor=ctx.actor(None), status=status, day=day, office_code=office_code)
    print_settlements(paged(found, offset, limit), as_json, "no settlements")


@bank.command("unreconciled")
@click.option("--days", default=3, show_default=True, type=IntParam(0, 3650), help="Sent at least this many days ago.")
@list_options
@json_option
@pass_ctx
def bank_unreconciled(ctx: CliContext, days: int, limit: int, offset: int, as_json: bool) -> None:
    """Settlements sent (or still waiting for the bank's answer) N days ago or more that no statement has booked."""
    found = ctx.hub.settlements.unreconciled(days, actor=ctx.actor(None))
    print_settlements(paged(found, offset, limit), as_json, f"every settlement sent {days} or more days ago is booked")


@bank.command("reconcile")
@json_option
@pass_ctx
def bank_reconcile(ctx: CliContext, as_json: bool) -> None:
    """Match imported statement entries with settlements again (the import does it too)."""
    run = ctx.hub.settlements.reconcile(actor=ctx.actor(None))
    if as_json:
        emit_json({"booked": run.booked, "returned": run.returned, "mismatches": run.mismatches})
        return
    click.echo(f"{len(run.booked)} booked, {len(run.returned)} returned, {len(run.mismatches)} mismatches")
    for problem in run.mismatches:
        click.echo(f"hub: {problem}", err=True)


@cli.group("fk")
def fk() -> None:
    """Journals for the offices' finance-accounting (FK) systems."""


@fk.command("export")
@click.option("--office", "office_code", required=True)
@click.option("--date", "day", required=True, type=DAY, help="The business day (Europe/Warsaw).")
@click.option("--out", "out_dir", required=True, type=OutputFolder(), help="Folder for the files (made if missing).")
@as_option
@json_option
@pass_ctx
def fk_export(ctx: CliContext, office_code: str, day: date, out_dir: Path, as_login: str | None, as_json: bool) -> None:
    """Write the office's journal of the day as CSV and as XML (fk.xsd PostJournalRequest)."""
    exported = ctx.hub.journals.export(office_code, day, out_dir, actor=ctx.actor(as_login))
    journal = exported.journal
    if as_json:
        emit_json(
            {
                "journal_id": journal.journal_id,
                "lines": len(journal.lines),
                "debit": format_pln(journal.debit_grosze),
                "credit": format_pln(journal.credit_grosze),
                "csv": str(exported.csv_path),
                "xml": str(exported.xml_path),
            }
        )
        return
    click.echo(
        f"{journal.journal_id}: {len(journal.lines)} lines, debits "
        f"{format_pln(journal.debit_grosze)} = credits {format_pln(journal.credit_grosze)}"
    )
    for account, (debit, credit) in totals_by_account(journal).items():
        click.echo(f"  {account:<28} Dt {format_pln(debit):>12}  Ct {format_pln(credit):>12}")
    click.echo(f"wrote {exported.csv_path}\nwrote {exported.xml_path}")

"""`hub cashdesk pay|void|close|receipt|report|check-qr`: the cash desk from the command
line, as an office user (`--as LOGIN`) or the operator."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import click

from hub.cashdesk.models import PaymentMethod
from hub.cli.main import (
    AmountParam,
    CliContext,
    DayParam,
    OutputFile,
    as_option,
    cert_option,
    cli,
    csv_dialect_option,
    emit_json,
    hub_certificates,
    json_option,
    pass_ctx,
    pln_json,
)
from hub.clock import wire_time
from hub.money import AmountError, format_pln, parse_grosze

DAY = DayParam()


class ItemParam(click.ParamType):
    """`FEE` (the day's fee schedule) or `FEE=AMOUNT` (PLN, e.g. DR=54.00)."""

    name = "FEE[=AMOUNT]"

    def convert(self, value, param, ctx):
        from hub.cashdesk.service import ItemRequest

        if isinstance(value, ItemRequest):
            return value
        code, _, amount = str(value).partition("=")
        if not code.strip():
            self.fail(f"{value!r} names no fee code", param, ctx)
        try:
            return ItemRequest(code.strip(), parse_grosze(amount.strip()) if amount else None)
        except AmountError as e:
            self.fail(f"{value!r}: {e}", param, ctx)


def _write(out: str, data: bytes) -> None:
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        Path(out).write_bytes(data)


@cli.group("cashdesk")
def cashdesk() -> None:
    """The cash desk (Kasa): payments for cases, voids, day close, receipts and the daily cash report."""


@cashdesk.command("pay")
@click.option("--office", "office_code", required=True, help="The office (TERYT code).")
@click.option("--desk", "desk_id", required=True, help="A desk of the office from offices.toml, e.g. 01.")
@click.option("--cashier", help="Who takes the payment; default: the --as login.")
@click.option("--system", required=True, type=click.Choice(["POJAZD", "KIEROWCA", "WORD"]))
@click.option("--case-number", required=True, help="The case (sygnatura) the payment is for.")
@click.option("--method", required=True, type=click.Choice([m.value for m in PaymentMethod]))
@click.option("--card-auth", "card_auth_code", help="The card terminal's authorization code (CARD only).")
@click.option(
    "--item",
    "items",
    required=True,
    multiple=True,
    type=ItemParam(),
    help="A fee code, or FEE=AMOUNT; repeat for each fee.",
)
@click.option("--payer-name", help="Who pays, printed on the receipt (optional).")
@click.option("--payer-address", help="The payer's address, printed on the receipt (optional).")
@click.option("--request-id", help="A UUID to make a retry safe; one is made up if omitted.")
@as_option
@json_option
@pass_ctx
def pay(
    ctx: CliContext,
    office_code,
    desk_id,
    cashier,
    system,
    case_number,
    method,
    card_auth_code,
    items,
    payer_name,
    payer_address,
    request_id,
    as_login,
    as_json,
) -> None:
    """Take a payment for a case and print its receipt number."""
    cashier = cashier or as_login
    if not cashier:
        raise click.UsageError("name the cashier with --cashier (or act as one with --as LOGIN)")
    r = ctx.hub.cashdesk.register(
        request_id=request_id or str(uuid.uuid4()),
        office_code=office_code,
        desk_id=desk_id,
        cashier=cashier,
        system=system,
        case_number=case_number,
        method=method,
        card_auth_code=card_auth_code,
        items=list(items),
        actor=ctx.actor(as_login),
        payer_name=payer_name,
        payer_address=payer_address,
    )
    if as_json:
        emit_json(pln_json(r))
        return
    click.echo(
        f"{r.receipt_number}  payment {r.payment_id}: {format_pln(r.items_total_grosze)} + handling fee "
        f"{format_pln(r.handling_fee_grosze)} = {format_pln(r.total_grosze)} PLN {method}"
    )


@cashdesk.command("void")
@click.argument("payment_id")
@click.option("--reason", required=True, help="Why the payment is voided (kept in the audit trail).")
@click.option("--supervisor", help="The approving supervisor's login; default: the --as login.")
@click.option("--request-id", help="A UUID to make a retry safe; one is made up if omitted.")
@as_option
@json_option
@pass_ctx
def void(ctx: CliContext, payment_id, reason, supervisor, request_id, as_login, as_json) -> None:
    """Void a payment of today, before its desk's day is closed (a supervisor's approval)."""
    supervisor = supervisor or as_login
    if not supervisor:
        raise click.UsageError("name the approving supervisor with --supervisor (or act as one with --as LOGIN)")
    voided_at = ctx.hub.cashdesk.void(
        request_id=request_id or str(uuid.uuid4()),
        payment_id=payment_id,
        reason=reason,
        supervisor=supervisor,
        actor=ctx.actor(as_login),
    )
    if as_json:
        emit_json({"payment_id": payment_id, "voided_at": wire_time(voided_at)})
    else:
        click.echo(f"payment {payment_id} voided at {wire_time(voided_at)}")


@cashdesk.command("close")
@click.option("--office", "office_code", required=True)
@click.option("--desk", "desk_id", required=True)
@click.option("--date", "day", required=True, type=DAY, help="The business day (Europe/Warsaw), e.g. 2026-03-10.")
@click.option(
    "--counted",
    "counted",
    type=AmountParam(),
    help="The cash counted in the drawer, PLN (e.g. 1234.50); compared with the day's cash payments.",
)
@click.option(
    "--supervisor",
    help="The login of a supervisor of the office: confirms a cash difference, approves closing an older day.",
)
@click.option("--force", is_flag=True, help="Close a day more than one day back (with --supervisor; audited).")
@click.option("--request-id", help="A UUID to make a retry safe; one is made up if omitted.")
@as_option
@json_option
@pass_ctx
def close(
    ctx: CliContext, office_code, desk_id, day, counted, supervisor, force, request_id, as_login, as_json
) -> None:
    """Close a desk's day: no more payments or voids for it; keeps the daily cash report.

    Count the cash first and give it with --counted: a difference from the day's cash
    payments is kept on the report and needs a supervisor (--supervisor, or --as one)
    to confirm it. A day more than one day back takes --force and a supervisor."""
    supervisor = supervisor or as_login
    closed = ctx.hub.cashdesk.close_day(
        request_id=request_id or str(uuid.uuid4()),
        office_code=office_code,
        desk_id=desk_id,
        day=day,
        actor=ctx.actor(as_login),
        counted_cash_grosze=counted,
        supervisor=supervisor,
        force=force,
    )
    t, count = closed.totals, closed.count
    if as_json:
        emit_json(
            {
                "report_id": closed.report_id,
                "office": closed.office_code,
                "desk": closed.desk_id,
                "date": closed.day,
                "closed_at": closed.closed_at,
                "payment_count": t.payment_count,
                "voided_count": t.voided_count,
                "cash_total": format_pln(t.cash_total_grosze),
                "card_total": format_pln(t.card_total_grosze),
                "handling_fee_total": format_pln(t.handling_fee_total_grosze),
                "counted_cash": None if count is None else format_pln(count.counted_grosze),
                "cash_difference": None if count is None else format_pln(count.difference_grosze),
                "difference_confirmed_by": None if count is None else count.confirmed_by,
                "late_close_supervisor": closed.late_close_supervisor,
            }
        )
        return
    click.echo(
        f"{closed.report_id}: {t.payment_count} payments ({t.voided_count} "
        f"voided), cash {format_pln(t.cash_total_grosze)}, "
        f"card {format_pln(t.card_total_grosze)}, handling fees {format_pln(t.handling_fee_total_grosze)} PLN"
    )
    if count is None:
        click.echo("closed without a cash count")
    else:
        confirmed = f", confirmed by {count.confirmed_by}" if count.confirmed_by else ""
        click.echo(
            f"cash counted {format_pln(count.counted_grosze)}, difference "
            f"{format_pln(count.difference_grosze)} PLN{confirmed}"
        )


@cashdesk.command("receipt")
@click.argument("payment_id")
@click.option("--out", required=True, type=OutputFile(stdout=True), help="The PDF file to write (- for stdout).")
@as_option
@pass_ctx
def receipt(ctx: CliContext, payment_id, out, as_login) -> None:
    """Write a payment's receipt (KP) as PDF."""
    _write(out, ctx.hub.cashdesk.receipt_pdf(payment_id, ctx.actor(as_login)))
    if out != "-":
        click.echo(f"receipt of payment {payment_id} written to {out}")


@cashdesk.command("report")
@click.option("--office", "office_code", required=True)
@click.option("--desk", "desk_id", required=True)
@click.option("--date", "day", required=True, type=DAY, help="The business day (Europe/Warsaw), e.g. 2026-03-10.")
@click.option("--format", "fmt", default="pdf", show_default=True, type=click.Choice(["pdf", "csv"]))
@click.option("--out", required=True, type=OutputFile(stdout=True), help="The file to write (- for stdout).")
@csv_dialect_option
@as_option
@pass_ctx
def report(ctx: CliContext, office_code, desk_id, day, fmt, out, csv_dialect, as_login) -> None:
    """Write a desk's daily cash report (raport kasowy): every payment, voids marked, totals by method."""
    from hub.cashdesk.report_csv import cash_report_csv

    desk = ctx.hub.cashdesk
    found = desk.cash_report(office_code=office_code, desk_id=desk_id, day=day, actor=ctx.actor(as_login))
    _write(out, desk.cash_report_pdf(found) if fmt == "pdf" else cash_report_csv(found, csv_dialect).encode("utf-8"))
    if out != "-":
        state = f"closed, {found.closed.report_id}" if found.closed else "open: provisional"
        click.echo(f"cash report of desk {office_code}/{desk_id} for {day} ({state}) written to {out}")


@cashdesk.command("check-qr")
@click.argument("text")
@cert_option
@json_option
@pass_ctx
def check_qr(ctx: CliContext, text: str, cert: Path | None, as_json: bool) -> None:
    """Check offline that a receipt's (KP) QR code is genuine: signed by the hub, unaltered.
    Needs no database; whether the payment was voided later is for VerifyPayment or the cash report."""
    from hub.cashdesk.receipt_qr import verify_receipt_qr

    receipt = verify_receipt_qr(text.strip(), hub_certificates(ctx, cert))
    if as_json:
        emit_json(
            {
                "receipt_number": receipt.receipt_number,
                "total": format_pln(receipt.total_grosze),
                "date": receipt.day,
                "genuine": True,
            }
        )
    else:
        click.echo(
            f"{receipt.receipt_number}  {format_pln(receipt.total_grosze)} PLN  {receipt.day.isoformat()}  genuine"
        )

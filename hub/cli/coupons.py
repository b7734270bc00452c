"""`hub coupons issue|pdf|list|cancel|check-qr|expire`."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import click

from hub.cli.main import (
    EXIT_PARTLY_DONE,
    WHOLE_NUMBER,
    AmountParam,
    CliContext,
    DayParam,
    OutputFile,
    as_option,
    cert_option,
    cli,
    emit_json,
    hub_certificates,
    json_option,
    pass_ctx,
    pln_json,
    progress_bar,
)
from hub.clock import wire_time
from hub.coupons.models import CouponStatus
from hub.errors import HubError
from hub.money import format_pln

PdfPath = OutputFile()
per_page_option = click.option(
    "--per-page",
    type=click.Choice(["1", "2", "4"]),
    default="1",
    show_default=True,
    help="Coupons to an A4 sheet: 1, or 2 (A5) or 4 (A6) with cut marks.",
)


@cli.group("coupons")
def coupons() -> None:
    """Fee coupons."""


@coupons.command("issue")
@click.option("--nip", required=True, help="The company's NIP.")
@click.option("--case-type", required=True, help="A case type code from fees.toml, e.g. REJ_NEW.")
@click.option("--count", required=True, type=WHOLE_NUMBER)
@click.option("--amount", type=AmountParam(), help="PLN per coupon; default: the case type's fee.")
@click.option("--office", "office_code", help="Valid only at this office (TERYT code).")
@click.option("--request-id", help="A UUID to make a retry safe; one is made up if omitted.")
@click.option(
    "--reference", help="The company's own reference for the batch (a contract number, a VIN), printed on its coupons."
)
@click.option("--pdf", "pdf_path", type=PdfPath, help="Also write the batch's coupons to this PDF (see --per-page).")
@per_page_option
@as_option
@json_option
@pass_ctx
def coupons_issue(
    ctx: CliContext,
    nip: str,
    case_type: str,
    count: int,
    amount: int | None,
    office_code: str | None,
    request_id: str | None,
    reference: str | None,
    pdf_path: Path | None,
    per_page: str,
    as_login: str | None,
    as_json: bool,
) -> None:
    """Issue a batch of coupons: all held, or none."""
    actor = ctx.actor(as_login)
    batch = ctx.hub.coupons.issue(
        request_id=request_id or str(uuid.uuid4()),
        company_nip=nip,
        case_type=case_type,
        count=count,
        amount_grosze=amount,
        office_code=office_code,
        actor=actor,
        reference=reference,
    )
    if pdf_path is not None:
        try:
            _write_pdf(ctx, pdf_path, actor=actor, batch_id=batch.batch_id, quiet=as_json, per_page=int(per_page))
        except (OSError, HubError) as e:  # the batch is held: say so, and how to get its PDF, never retry the issue
            click.echo(
                f"hub: batch {batch.batch_id} issued ({len(batch.coupons)} "
                f"coupons, {format_pln(batch.total_held_grosze)} PLN held), "
                f"but its PDF was not written: {_why(e)}; write it with: "
                f"hub coupons pdf --batch {batch.batch_id} --out FILE",
                err=True,
            )
            sys.exit(EXIT_PARTLY_DONE)
    if as_json:
        emit_json(
            {
                "batch_id": batch.batch_id,
                "total_held": format_pln(batch.total_held_grosze),
                "coupons": [
                    {
                        "coupon_id": c.coupon_id,
                        "amount": format_pln(c.amount_grosze),
                        "case_type": c.case_type,
                        "expires_at": wire_time(c.expires_at),
                    }
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
    run = ctx.hub.coupons.expire(actor=ctx.actor(None))
    if as_json:
        emit_json(pln_json(run))
    else:
        click.echo(f"{run.expired} coupons expired, {format_pln(run.released_grosze)} PLN released")


@coupons.command("pdf")
@click.argument("coupon_ids", metavar="[COUPON]...", nargs=-1)
@click.option("--batch", "batch_id", help="Every coupon of this batch, in page order.")
@click.option("--out", "out", required=True, type=PdfPath, help="The PDF file to write.")
@per_page_option
@as_option
@json_option
@pass_ctx
def coupons_pdf(
    ctx: CliContext,
    coupon_ids: tuple[str, ...],
    batch_id: str | None,
    out: Path,
    per_page: str,
    as_login: str | None,
    as_json: bool,
) -> None:
    """Write coupons to a PDF, 1, 2 or 4 to an A4 sheet, each with its signed QR code:
    a whole batch (--batch ID) or the coupons named."""
    if (batch_id is None) == (not coupon_ids):
        raise click.UsageError("name either --batch ID or coupon ids, one of the two")
    coupons = _write_pdf(
        ctx,
        out,
        actor=ctx.actor(as_login),
        batch_id=batch_id,
        coupon_ids=coupon_ids,
        quiet=as_json,
        per_page=int(per_page),
    )
    if as_json:
        emit_json({"file": str(out), "pages": -(-coupons // int(per_page)), "coupons": coupons})


def _why(error: Exception) -> str:
    if isinstance(error, OSError):
        return f"{error.filename or ''}: {error.strerror or error}".lstrip(": ")
    return str(error)


def _write_pdf(ctx: CliContext, path: Path, *, quiet: bool, **what) -> int:
    """Write next to `path` and rename when done: a failed run leaves no half-written PDF."""
    with progress_bar("writing PDF", quiet=quiet) as progress, _replacing(path) as out:
        pages = ctx.hub.coupon_queries.write_pdf(out, progress=progress, **what)
    if not quiet:
        click.echo(f"{pages} coupons written to {path}")
    return pages


@contextmanager
def _replacing(path: Path) -> Iterator:
    partial = path.with_name(f".{path.name}.partial")
    try:
        with open(partial, "wb") as out:
            yield out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@coupons.command("list")
@click.option("--nip", required=True, help="The company's NIP.")
@click.option("--status", type=click.Choice([s.value for s in CouponStatus], case_sensitive=False))
@click.option("--from", "issued_from", type=DayParam(), help="Issued on or after this business day (YYYY-MM-DD).")
@click.option("--to", "issued_to", type=DayParam(), help="Issued on or before this business day (YYYY-MM-DD).")
@click.option("--offset", type=WHOLE_NUMBER, default=0, show_default=True)
@click.option("--limit", type=WHOLE_NUMBER, default=100, show_default=True, help="At most 1000.")
@as_option
@json_option
@pass_ctx
def coupons_list(
    ctx: CliContext,
    nip: str,
    status: str | None,
    issued_from: date | None,
    issued_to: date | None,
    offset: int,
    limit: int,
    as_login: str | None,
    as_json: bool,
) -> None:
    """A company's coupons, oldest first."""
    page = ctx.hub.coupon_queries.list(
        actor=ctx.actor(as_login),
        company_nip=nip,
        status=status.upper() if status else None,
        issued_from=issued_from,
        issued_to=issued_to,
        offset=offset,
        limit=limit,
    )
    if as_json:
        emit_json(
            {
                "total": page.total,
                "coupons": [
                    {
                        "coupon_id": c.coupon_id,
                        "batch_id": c.batch_id,
                        "status": c.status,
                        "amount": format_pln(c.amount_grosze),
                        "case_type": c.case_type,
                        "issued_at": wire_time(c.issued_at),
                        "expires_at": wire_time(c.expires_at),
                        "redeemed_at": wire_time(c.redeemed_at) if c.redeemed_at else None,
                        "office_code": c.office_code,
                        "case_number": c.case_number,
                    }
                    for c in page.coupons
                ],
            }
        )
        return
    click.echo(f"{page.total} coupons; {offset + 1 if page.coupons else offset}-{offset + len(page.coupons)} shown")
    for c in page.coupons:
        used = f"  {c.office_code} {c.case_number}" if c.case_number else ""
        click.echo(
            f"  {c.coupon_id}  {c.status:<9}  {format_pln(c.amount_grosze):>10} "
            f" {c.case_type}  issued {wire_time(c.issued_at)}{used}"
        )


@coupons.command("cancel")
@click.argument("coupon_id", metavar="COUPON")
@click.option("--request-id", help="A UUID to make a retry safe; one is made up if omitted.")
@as_option
@json_option
@pass_ctx
def coupons_cancel(
    ctx: CliContext, coupon_id: str, request_id: str | None, as_login: str | None, as_json: bool
) -> None:
    """Cancel an issued coupon and release its hold to the company."""
    released = ctx.hub.coupons.cancel(
        request_id=request_id or str(uuid.uuid4()), coupon_text=coupon_id, actor=ctx.actor(as_login)
    )
    if as_json:
        emit_json({"released": format_pln(released)})
    else:
        click.echo(f"cancelled; {format_pln(released)} PLN released")


@coupons.command("check-qr")
@click.argument("text")
@cert_option
@json_option
@pass_ctx
def coupons_check_qr(ctx: CliContext, text: str, cert: Path | None, as_json: bool) -> None:
    """Check offline that a coupon's QR code is genuine: signed by the hub, unaltered.
    Needs no database; whether the coupon is still unused is for the office's VerifyCoupon."""
    from hub.coupons.qr import verify_qr

    certs = hub_certificates(ctx, cert)
    coupon = verify_qr(text.strip(), certs)
    if as_json:
        emit_json(
            {
                "coupon_id": coupon.coupon_id,
                "amount": format_pln(coupon.amount_grosze),
                "expires_on": coupon.expires_on,
                "genuine": True,
            }
        )
    else:
        click.echo(
            f"{coupon.coupon_id}  {format_pln(coupon.amount_grosze)} "
            f"PLN  expires {coupon.expires_on.isoformat()}  genuine"
        )

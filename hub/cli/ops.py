"""`hub audit archive`, and `hub notify ...`: operating the hub day to day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import click

from hub.cli.main import (
    AmountParam,
    CliContext,
    as_option,
    cli,
    emit_json,
    json_option,
    list_options,
    pass_ctx,
    progress_bar,
)
from hub.cli.serve import audit
from hub.errors import InvalidRequest


def archive_cutoff(before: str | None, retention_days: int | None, now: datetime) -> datetime:
    """`--before` as a Warsaw business day (archive what came before it began) or an ISO
    time with a zone; else today less `[audit] retention_days`, from the start of that day."""
    from hub.clock import business_day, day_bounds_utc

    if before is None:
        if retention_days is None:
            raise InvalidRequest("give --before DATE, or set [audit] retention_days in hub.toml")
        return day_bounds_utc(business_day(now) - timedelta(days=retention_days))[0]
    try:
        return day_bounds_utc(date.fromisoformat(before))[0]
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(before.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"--before {before!r}: expected a date such as 2026-01-31 or a time such as 2026-01-31T00:00:00Z"
        ) from None
    if at.tzinfo is None:
        raise InvalidRequest(f"--before {before!r}: a time needs its zone, e.g. 2026-01-31T00:00:00Z")
    return at


@audit.command("archive")
@click.option(
    "--before",
    metavar="DATE",
    help="Archive records older than this Warsaw day (or ISO time with zone). Default: [audit] retention_days.",
)
@json_option
@pass_ctx
def audit_archive(ctx: CliContext, before: str | None, as_json: bool) -> None:
    """Move old message log records into signed archive files, then delete them from the live log."""
    hub = ctx.hub
    cutoff = archive_cutoff(before, hub.config.audit.retention_days, hub.clock())
    hub.restore_guard.check()  # a database restored behind its archives continues its log after them first
    with progress_bar("archiving the message log", quiet=as_json) as progress:
        run = hub.message_archive.archive(cutoff, progress)
    result = {
        "before": cutoff,
        "records": run.records,
        "first_seq": run.first_seq,
        "last_seq": run.last_seq,
        "files": list(run.files),
        "directory": str(hub.config.audit.archive_dir),
        "leftover_deleted": run.leftover_deleted,
    }
    if as_json:
        emit_json(result)
        return
    if run.leftover_deleted:
        click.echo(f"deleted {run.leftover_deleted} live records an interrupted run had already archived")
    if not run.records:
        click.echo(f"nothing to archive before {cutoff.isoformat()}")
        return
    click.echo(
        f"archived records {run.first_seq}..{run.last_seq} ({run.records}) "
        f"into {len(run.files)} file(s) in {hub.config.audit.archive_dir}"
    )


@cli.group("notify")
def notify() -> None:
    """Warnings to companies: low balance and coupons about to expire, by e-mail and webhook."""


@notify.command("set")
@click.option("--nip", required=True, help="The company.")
@click.option(
    "--low-balance", "low_balance", type=AmountParam(), help="Warn when the available balance drops below this (PLN)."
)
@click.option("--email", help="Send warnings to this address.")
@click.option("--webhook", "webhook_url", help="POST warnings (JSON, signed) to this URL.")
@click.option(
    "--webhook-secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding the webhook's HMAC secret (16+ characters; e.g. `openssl rand -hex 32`).",
)
@click.option("--no-low-balance", is_flag=True, help="Stop the low-balance warning.")
@click.option("--no-email", is_flag=True, help="Stop e-mail warnings.")
@click.option("--no-webhook", is_flag=True, help="Stop webhook warnings (and forget the secret).")
@as_option
@json_option
@pass_ctx
def notify_set(
    ctx: CliContext,
    nip,
    low_balance,
    email,
    webhook_url,
    webhook_secret_file,
    no_low_balance,
    no_email,
    no_webhook,
    as_login,
    as_json,
) -> None:
    """Set a company's low-balance threshold and where its warnings go."""
    from hub.notify.service import UNSET

    def chosen(value, off: bool, name: str):
        if off and value is not None:
            raise click.UsageError(f"give --{name} or --no-{name}, not both")
        return None if off else (UNSET if value is None else value)

    secret = UNSET
    if webhook_secret_file is not None:
        try:
            secret = webhook_secret_file.read_text().strip()
        except UnicodeDecodeError:
            raise click.BadParameter(
                f"{webhook_secret_file} is not a text file", param_hint="--webhook-secret-file"
            ) from None
    if no_webhook:
        secret = None
    view = ctx.hub.notifications.configure(
        ctx.actor(as_login),
        nip,
        low_balance_grosze=chosen(low_balance, no_low_balance, "low-balance"),
        email=chosen(email, no_email, "email"),
        webhook_url=chosen(webhook_url, no_webhook, "webhook"),
        webhook_secret=secret,
    )
    _print_settings(view, as_json)


@notify.command("show")
@click.option("--nip", required=True)
@as_option
@json_option
@pass_ctx
def notify_show(ctx: CliContext, nip, as_login, as_json) -> None:
    """A company's threshold and channels (the webhook secret is never shown)."""
    _print_settings(ctx.hub.notifications.settings(ctx.actor(as_login), nip), as_json)


def _print_settings(view, as_json: bool) -> None:
    from hub.money import format_pln

    if as_json:
        emit_json(
            {
                **view.__dict__,
                "low_balance": None if view.low_balance_grosze is None else format_pln(view.low_balance_grosze),
            }
        )
        return
    threshold = "-" if view.low_balance_grosze is None else format_pln(view.low_balance_grosze)
    click.echo(
        f"{view.company_nip}  low balance below {threshold}  e-mail {view.email or '-'}  "
        f"webhook {view.webhook_url or '-'}{' (signed)' if view.webhook_secret_set else ''}"
    )


@notify.command("run")
@click.option("--retry-failed", is_flag=True, help="Try again what was given up (FAILED), after fixing the cause.")
@json_option
@pass_ctx
def notify_run(ctx: CliContext, retry_failed: bool, as_json: bool) -> None:
    """Check balances and expiring coupons, then send what is due (run it from a timer;
    repeating it sends nothing twice)."""
    service, operator = ctx.hub.notifications, ctx.actor(None)
    scan = service.scan(actor=operator)
    delivery = service.deliver(actor=operator, retry_failed=retry_failed)
    result = {
        "low_balance": list(scan.low_balance),
        "expiring": list(scan.expiring),
        "recovered": list(scan.recovered),
        "sent": delivery.sent,
        "refused": delivery.refused,
        "retried": delivery.retried,
        "failed": delivery.failed,
        "errors": delivery.errors,
    }
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"warnings: {len(scan.low_balance)} low balance, {len(scan.expiring)} expiring coupons; "
            f"deliveries: {delivery.sent} sent, {delivery.retried} to "
            f"retry, {delivery.failed} failed, {delivery.refused} refused"
        )
        for error in delivery.errors:
            click.echo(f"hub: notify: {error}", err=True)
    if delivery.failed or delivery.refused:
        raise SystemExit(1)


@notify.command("history")
@click.option("--nip", help="One company (required with --as a company user).")
@list_options
@as_option
@json_option
@pass_ctx
def notify_history(ctx: CliContext, nip, limit, offset, as_login, as_json) -> None:
    """The latest warnings, newest first, and for each channel how its delivery went."""
    views = ctx.hub.notifications.history(ctx.actor(as_login), nip, limit, offset)
    if as_json:
        emit_json(views)
        return
    for v in views:
        when = v.finished_at or v.next_attempt_at
        click.echo(
            f"{v.created_at:%Y-%m-%d %H:%M}  {v.key:38} {v.channel:8} {v.status:9} attempts {v.attempts}"
            f"{'  ' + ('done ' if v.finished_at else 'next ') + when.strftime('%H:%M:%S') if when else ''}"
            f"{'  ' + v.last_error if v.last_error else ''}"
        )

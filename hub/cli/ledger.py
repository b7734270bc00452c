"""`hub ledger verify`."""

from __future__ import annotations

from hub.cli.main import CliContext, cli, json_option, pass_ctx, report_check


@cli.group("ledger")
def ledger() -> None:
    """The double-entry ledger every movement of money is booked in."""


@ledger.command("verify")
@json_option
@pass_ctx
def ledger_verify(ctx: CliContext, as_json: bool) -> None:
    """Recompute every account's totals from its transfers and check the ledger balances;
    name each account that differs and by how much (exit 1). The result is kept for
    /metrics (hub_ledger_check_*); run daily (deploy/systemd/hub-ledger-verify.timer)."""
    result = ctx.hub.ledger_checks.run(actor=ctx.actor(None))
    report_check(
        "ledger",
        result.problems,
        f"ledger: {result.accounts} accounts, every total matches its transfers, debits equal credits",
        as_json,
        {
            "checked_at": result.checked_at,
            "accounts": result.accounts,
            "ok": result.ok,
            "problems": list(result.problems),
        },
    )

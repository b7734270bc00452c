"""`hub init`, `hub config check`."""

from __future__ import annotations

import click

from hub.cli.main import CliContext, cli, pass_ctx
from hub.companies.service import title_matching_note, title_matching_only
from hub.errors import ConfigError


@cli.command("init")
@pass_ctx
def init(ctx: CliContext) -> None:
    """Create or migrate the database (Alembic)."""
    from hub.db.migrate import current_revision, upgrade

    upgrade(ctx.hub.db)
    click.echo(f"database {ctx.hub.db.engine.url.render_as_string(hide_password=True)} at revision {current_revision(ctx.hub.db)}")


@cli.group("config")
def config_group() -> None:
    """The config files."""


@config_group.command("check")
@pass_ctx
def config_check(ctx: CliContext) -> None:
    """Validate the config files; name file, entry and field of every problem."""
    try:
        config = ctx.config
    except ConfigError as e:
        for line in getattr(e, "problems", None) or [e.message]:
            click.echo(f"hub: {line}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"{ctx.config_dir}: ok: {len(config.offices)} offices, {len(config.clients)} clients, "
        f"{len(config.fees)} fees, {len(config.case_types)} case types"
    )
    if title_matching_only(config.bank.escrow_account):
        click.echo(f"{ctx.config_dir}: note: hub.toml [bank] escrow_account: {title_matching_note(config.bank.escrow_account)}")

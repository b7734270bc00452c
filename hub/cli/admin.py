"""`hub init`, `hub config check`, `hub backup`, `hub restore`."""

from __future__ import annotations

from pathlib import Path

import click

from hub.cli.main import CliContext, OutputFile, cli, pass_ctx
from hub.companies.service import title_matching_note, title_matching_only
from hub.errors import ConfigError


@cli.command("init")
@pass_ctx
def init(ctx: CliContext) -> None:
    """Create or migrate the database (Alembic)."""
    from hub.db.migrate import current_revision, upgrade

    upgrade(ctx.hub.db)
    click.echo(
        f"database {ctx.hub.db.engine.url.render_as_string(hide_password=True)} "
        f"at revision {current_revision(ctx.hub.db)}"
    )


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
        click.echo(
            f"{ctx.config_dir}: note: hub.toml [bank] escrow_account: {title_matching_note(config.bank.escrow_account)}"
        )


@cli.command("backup")
@click.option("--out", required=True, type=OutputFile(), help="The backup file to write (must not exist).")
@pass_ctx
def backup(ctx: CliContext, out: Path) -> None:
    """A consistent copy of the SQLite database while the hub serves (SQLite's online backup API)."""
    from hub.db.backup import backup as backup_database

    size = backup_database(ctx.hub.db, out)
    click.echo(f"backed up {ctx.hub.db.engine.url.database} to {out} ({size} bytes)")


@cli.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def restore(ctx: CliContext, backup_file: Path) -> None:
    """Replace the SQLite database with a backup (stop the hub first); then `hub audit verify`."""
    from hub.db.backup import restore as restore_database

    restore_database(ctx.hub.db, backup_file)
    restored = ctx.hub.restore_guard.check()
    click.echo(f"restored {ctx.hub.db.engine.url.database} from {backup_file}")
    if restored is not None:
        click.echo(
            f"the backup ends at message log record {restored.db_seq}, "
            f"the archives at {restored.archive_seq}: the hub refuses "
            "changes until `hub audit recover --apply` re-applies what the backup lacks"
        )

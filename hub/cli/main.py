"""The `hub` group, its shared context, and the one place errors become a line on stderr."""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from hub.errors import ConfigError, HubError
from hub.money import AmountError, parse_grosze
from hub.reports.csvout import CSV_DIALECTS, EXCEL_PL


class CliContext:
    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir

    @cached_property
    def config(self):
        from hub.config import load_config

        return load_config(self.config_dir)

    @cached_property
    def hub(self):
        from hub.app import Hub

        return Hub(self.config)

    def actor(self, as_login: str | None):
        """Who a command acts as: the operator at this machine, or with `--as LOGIN`
        a hub user with exactly that user's permissions and scope."""
        from hub.access import operator

        if as_login is None:
            return operator(cli_actor())
        return self.hub.users.actor(as_login)


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


pass_ctx = click.make_pass_decorator(CliContext)

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
csv_dialect_option = click.option(
    "--csv-dialect", type=click.Choice(CSV_DIALECTS), default=EXCEL_PL, show_default=True,
    help="csv for a Polish Excel (BOM, ';', Polish titles, Warsaw time, 1234,56) or plain RFC 4180 for machines.",
)
as_option = click.option("--as", "as_login", metavar="LOGIN", help="Act as this hub user, with that user's permissions (default: the operator).")


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value):
        return to_jsonable(asdict(value))
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        from hub.clock import wire_time

        return wire_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def emit_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, ensure_ascii=False))


class AmountParam(click.ParamType):
    """PLN with at most two decimals; a leading minus only where `signed`."""

    name = "amount"

    def __init__(self, signed: bool = False) -> None:
        self.signed = signed

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip()
        negative = self.signed and text.startswith("-")
        try:
            grosze = parse_grosze(text[1:] if negative else text)
        except AmountError as e:
            self.fail(str(e), param, ctx)
        return -grosze if negative else grosze


class HubGroup(click.Group):
    """Turns every HubError into one line on stderr and exit status 1, and a
    usage error (bad option value, missing option) into one line and status 2."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "hub"
            click.echo(f"{where}: {e.format_message()}", err=True)
            sys.exit(2)
        except click.Abort:
            click.echo("hub: aborted", err=True)
            sys.exit(1)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ConfigError as e:
            problems = getattr(e, "problems", None) or [e.message]
            more = f" (and {len(problems) - 1} more: run `hub config check`)" if len(problems) > 1 else ""
            click.echo(f"hub: {problems[0]}{more}", err=True)
            sys.exit(1)
        except HubError as e:
            click.echo(f"hub: {e.code}: {e.message}", err=True)
            sys.exit(1)


@click.group(cls=HubGroup)
@click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=lambda: os.environ.get("HUB_CONFIG", "config"),
    show_default="./config or $HUB_CONFIG",
    help="The folder with hub.toml, offices.toml, clients.toml and fees.toml.",
)
@click.version_option(package_name="fee-coupon-hub")
@click.pass_context
def cli(ctx: click.Context, config_dir: Path) -> None:
    """The fee coupon hub: prepaid fee coupons and cash desk payments."""
    from hub.ops.logging import configure_logging

    configure_logging(os.environ.get("HUB_LOG_LEVEL", "WARNING"))  # JSON lines on stderr; data goes to stdout
    ctx.obj = CliContext(config_dir)


def main() -> None:
    cli(prog_name="hub")


class DayParam(click.ParamType):
    """A business day (Europe/Warsaw), written YYYY-MM-DD."""

    name = "date"

    def convert(self, value, param, ctx):
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a day written YYYY-MM-DD, like 2026-03-10", param, ctx)

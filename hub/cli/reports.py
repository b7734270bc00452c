"""`hub report NAME [--from D] [--to D] [--format csv|pdf|json] [--out FILE] ...`."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import date
from pathlib import Path

import click

from hub.cli.main import CliContext, DayParam, OutputFile, as_option, cli, csv_dialect_option, pass_ctx, progress_bar
from hub.reports.render import FORMATS
from hub.reports.scope import ReportQuery
from hub.reports.service import REPORTS


def _about() -> str:
    return "\n".join(f"  {name:<14} {spec.about}" for name, spec in REPORTS.items())


@cli.command(
    "report",
    help=f"""A report as csv, json or pdf. NAME is one of:\n\n{_about()}

Days are business days in Europe/Warsaw, both inclusive. csv and json go to
stdout unless --out is given; pdf needs --out when stdout is a terminal.""".replace("\n\n  ", "\n\n\b\n  ", 1),
)
@click.argument("name", type=click.Choice(list(REPORTS)), metavar="NAME")
@click.option("--from", "date_from", type=DayParam(), help="First business day, YYYY-MM-DD.")
@click.option("--to", "date_to", type=DayParam(), help="Last business day, YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, help="Output format (default csv).")
@click.option("--json", "as_json", is_flag=True, help="The same as --format json.")
@click.option("--nip", help="A company's NIP (a company's user: its own by default).")
@click.option("--office", help="An office code from offices.toml.")
@click.option("--status", help="coupons: only this status (ISSUED, REDEEMED, CANCELLED, EXPIRED).")
@click.option("--case-type", help="coupons: only this case type.")
@click.option("--issued-by", help="coupons: only batches issued by this user, as the batch records it.")
@click.option("--out", type=OutputFile(), help="Write to this file instead of stdout.")
@csv_dialect_option
@as_option
@pass_ctx
def report(
    ctx: CliContext,
    name: str,
    date_from: date | None,
    date_to: date | None,
    fmt: str | None,
    as_json: bool,
    nip: str | None,
    office: str | None,
    status: str | None,
    case_type: str | None,
    issued_by: str | None,
    out: Path | None,
    csv_dialect: str,
    as_login: str | None,
) -> None:
    if as_json and fmt not in (None, "json"):
        raise click.UsageError(f"--json and --format {fmt} disagree; give one of them")
    fmt = "json" if as_json else (fmt or "csv")
    if fmt == "pdf" and out is None and sys.stdout.isatty():
        raise click.UsageError("--format pdf writes binary: give --out FILE, or redirect stdout")
    query = ReportQuery(date_from, date_to, nip, office, status.upper() if status else None, case_type, issued_by)
    with progress_bar(f"report {name}") as progress:
        step = progress or (lambda done, total: None)  # two steps: the query, then the rendering
        step(0, 2)
        found = ctx.hub.reports.run(name, ctx.actor(as_login), query)
        step(1, 2)
        made = ctx.hub.reports.render(found, fmt, csv_dialect)
        step(2, 2)
    if out is None:
        click.echo(made, nl=False)  # bytes go to the binary stdout as they are
    else:
        _write(out, made)


def _write(path: Path, content: bytes) -> None:
    """Whole or not at all: a half-written report is never left under the name asked for."""
    path = path.resolve()
    if not path.parent.is_dir():
        raise click.UsageError(f"--out {path}: the folder {path.parent} does not exist")
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as e:
        raise click.UsageError(f"--out {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise

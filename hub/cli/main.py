"""The `hub` group, its shared context, and the one place errors become a line on stderr."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

import click

from hub.errors import ConfigError, HubError, InvalidRequest
from hub.ids import ascii_digits
from hub.money import AmountError, format_pln, parse_grosze
from hub.reports.csvout import CSV_DIALECTS, EXCEL_PL

HubFactory = Callable[[Any], Any]  # HubConfig -> hub.app.Hub


class CliContext:
    def __init__(self, config_dir: Path, make_hub: HubFactory | None) -> None:
        """`make_hub` builds the Hub from the config: the composition root (hub.app)
        hands it to the group as its context object; the CLI never imports it."""
        self.config_dir = config_dir
        self._make_hub = make_hub

    @cached_property
    def config(self):
        from hub.config import load_config

        return load_config(self.config_dir)

    def make_hub(self, config) -> Any:
        if self._make_hub is None:
            raise click.UsageError("the hub command runs from hub.app (hub.app:main), which builds the Hub")
        return self._make_hub(config)

    @cached_property
    def hub(self):
        return self.make_hub(self.config)

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
    "--csv-dialect",
    type=click.Choice(CSV_DIALECTS),
    default=EXCEL_PL,
    show_default=True,
    help="csv for a Polish Excel (BOM, ';', Polish titles, Warsaw time, 1234,56) or plain RFC 4180 for machines.",
)
as_option = click.option(
    "--as",
    "as_login",
    metavar="LOGIN",
    help="Act as this hub user, with that user's permissions (default: the operator).",
)


cert_option = click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The hub's certificate (PEM; several for a key rollover). Default: [signing] cert of hub.toml.",
)


def hub_certificates(ctx: CliContext, cert: Path | None) -> list:
    """The certificates a signed QR code is checked against (`--cert`, else the hub's own)."""
    from cryptography import x509

    path = cert or ctx.config.signing.cert
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        raise InvalidRequest(f"{path} holds no PEM certificate") from None


LIST_LIMIT = 100  # rows a list command prints unless told otherwise


def list_options(command):
    """`--limit` and `--offset` of every list command."""
    command = click.option(
        "--offset", type=IntParam(0, 2**31 - 1), default=0, show_default=True, help="Skip this many rows first."
    )(command)
    return click.option(
        "--limit",
        type=IntParam(1, 100_000),
        default=LIST_LIMIT,
        show_default=True,
        help="Print at most this many rows.",
    )(command)


def say_more(total: int, offset: int, shown: int) -> None:
    """On stderr, so a pipe gets only the rows: how many rows follow the ones printed."""
    more = total - offset - shown
    if more > 0:
        click.echo(f"{shown} of {total} shown; {more} more: --offset {offset + shown}", err=True)


def paged(rows: list, offset: int, limit: int) -> list:
    """A page of rows the service returns whole (short lists: companies, users, roles)."""
    page = rows[offset : offset + limit]
    say_more(len(rows), offset, len(page))
    return page


@contextmanager
def progress_bar(label: str, *, quiet: bool = False) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback (done, total) drawing a bar on stderr while long work runs, or None:
    only on a terminal (never into a pipe or a log) and not with --json."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with ExitStack() as stack:
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:  # the total is known once the work has started
                bar = stack.enter_context(click.progressbar(length=total, label=label, file=sys.stderr))
            bar.update(done - bar.pos)

        yield progress


def to_jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
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


def pln_json(result: Any) -> dict:
    """A domain result as JSON the way the CLI writes amounts: every field by its name, and
    each amount in grosze (`x_grosze`) as PLN text (`x`: "1234.50")."""
    return {
        name.removesuffix("_grosze"): format_pln(value) if name.endswith("_grosze") and value is not None else value
        for name, value in to_jsonable(result).items()
    }


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


# Exit statuses (README, "Mistakes, exit statuses and checks"): scripts and timers tell them apart.
EXIT_OK = 0
EXIT_ERROR = 1  # refused or failed; nothing was changed
EXIT_USAGE = 2  # a wrong option or argument; nothing was changed
EXIT_PARTLY_DONE = 3  # the change was made (money moved) but a later step failed; the line says what to run
EXIT_INTERNAL = 70  # a bug in the hub (EX_SOFTWARE); the log has the traceback
EXIT_READER_GONE = 141  # stdout's reader went away (`| head`), as for a tool SIGPIPE ended: 128 + 13


class HubGroup(click.Group):
    """The one place an error becomes one line on stderr: a HubError or config problem
    (status 1), a usage error (2), an unreachable or unmigrated database, a file that
    cannot be read or written (1), and anything else (70, with the traceback only in
    the log). No traceback reaches a person. A reader of stdout that went away gets no
    line at all (141)."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "hub"
            click.echo(f"{where}: {e.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except click.Abort:
            click.echo("hub: aborted", err=True)
            sys.exit(EXIT_ERROR)
        except click.ClickException as e:
            click.echo(f"hub: {e.format_message()}", err=True)
            sys.exit(e.exit_code)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            _reader_gone()
        except ConfigError as e:
            problems = getattr(e, "problems", None) or [e.message]
            more = f" (and {len(problems) - 1} more: run `hub config check`)" if len(problems) > 1 else ""
            _fail(f"{problems[0]}{more}")
        except HubError as e:
            _fail(f"{e.code}: {e.message}")
        except Exception as e:  # noqa: BLE001 - the one place every other error becomes a line
            _fail(*_known_error(ctx, e))


def report_check(what: str, problems: Sequence[str], ok_line: str, as_json: bool, json_value: dict) -> None:
    """How a checking command (`hub audit verify`, `hub ledger verify`) ends: the result as
    JSON, or each problem as a line on stderr (`hub: <what>: <problem>`) and `ok_line` when
    there is none; exit status 1 when there is any."""
    if as_json:
        emit_json(json_value)
    else:
        for problem in problems:
            click.echo(f"hub: {what}: {problem}", err=True)
        if not problems:
            click.echo(ok_line)
    if problems:
        raise SystemExit(EXIT_ERROR)


def _reader_gone() -> NoReturn:
    """What stdout was given to stopped reading (`hub report ... | head`): nobody is left to
    tell, so no line on stderr either; status 141, as a Unix tool that SIGPIPE ended. Anything
    the command changed was done before it printed. stdout goes to /dev/null first, or
    Python's own flush of it as it exits would fail again, with a traceback."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(EXIT_READER_GONE)


def _fail(line: str, status: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"hub: {line}", err=True)
    sys.exit(status)


def _known_error(ctx: click.Context, error: Exception) -> tuple[str, int]:
    """(line, exit status) for an error no service turned into a HubError."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(error, DBAPIError):  # only reachable once the config is loaded: it names the database
        from hub.db.database import database_problem

        found = ctx.find_object(CliContext)
        assert found is not None  # the group's callback made it before any command ran
        return database_problem(error, found.config.database.url), EXIT_ERROR
    if isinstance(error, OSError) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror.lower()}", EXIT_ERROR
    logging.getLogger("hub.cli").debug("unexpected error", exc_info=error)
    first_line = next(iter(str(error).splitlines()), "")
    return (
        f"unexpected error ({type(error).__name__}: {first_line}); this is a bug in the hub, "
        f"run again with HUB_LOG_LEVEL=DEBUG for the traceback",
        EXIT_INTERNAL,
    )


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
    ctx.obj = CliContext(config_dir, ctx.obj)  # ctx.obj: the Hub factory hub.app gave the group


class DayParam(click.ParamType):
    """A business day (Europe/Warsaw), written YYYY-MM-DD in ASCII digits, within the
    days the hub handles (`hub.clock.DAY_FIRST` .. `DAY_LAST`)."""

    name = "date"

    def convert(self, value, param, ctx):
        from hub.clock import check_day, parse_day

        if isinstance(value, date):
            return value
        try:
            return check_day(parse_day(str(value).strip()))
        except ValueError:
            self.fail(f"{value!r} is not a day written YYYY-MM-DD, like 2026-03-10", param, ctx)
        except InvalidRequest as e:
            self.fail(e.message, param, ctx)


class IntParam(click.ParamType):
    """A whole number in ASCII digits (`int()` also takes "١٠٠" and "１００"), within
    [min_value, max_value]: every count, limit, port and number of days."""

    name = "integer"

    def __init__(self, min_value: int, max_value: int) -> None:
        self.min_value, self.max_value = min_value, max_value

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            digits = text[1:] if text.startswith("-") else text
            if not ascii_digits(digits) or len(digits) > 18:
                self.fail(f"{value!r} is not a whole number written in digits 0-9", param, ctx)
            number = int(text)
        if not self.min_value <= number <= self.max_value:
            self.fail(f"{number} is not between {self.min_value} and {self.max_value}", param, ctx)
        return number


PORT = IntParam(0, 65535)  # 0: any free port
WHOLE_NUMBER = IntParam(-(2**31), 2**31 - 1)  # the service names its own limits (Count must be 1 to 1000)


class OutputFile(click.ParamType):
    """A file a command will write, checked when the command line is read, before the
    command changes anything: its folder exists and is writable, and it is not a folder.
    With `stdout`, `-` means standard output; without, `-` is refused rather than written
    as a file named `-` in the current folder."""

    name = "file"

    def __init__(self, stdout: bool = False) -> None:
        self.stdout = stdout

    def convert(self, value, param, ctx):
        if value == "-":
            if self.stdout:
                return "-"
            self.fail("- (standard output) is not taken here; name a file to write", param, ctx)
        path = Path(value)
        folder = path.parent
        if path.is_dir():
            self.fail(f"{path} is a folder; name a file to write", param, ctx)
        if not folder.is_dir():
            self.fail(f"cannot write {path}: folder {folder} does not exist", param, ctx)
        if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
            self.fail(f"cannot write {path}: permission denied", param, ctx)
        return path


class OutputFolder(click.ParamType):
    """A folder a command will write files into, made if missing: checked like
    OutputFile, against the nearest folder that exists."""

    name = "folder"

    def convert(self, value, param, ctx):
        path = Path(value)
        if path.exists() and not path.is_dir():
            self.fail(f"{path} is a file; name a folder", param, ctx)
        existing = next((p for p in (path, *path.absolute().parents) if p.exists()), Path("/"))
        if not existing.is_dir():
            self.fail(f"cannot make folder {path}: {existing} is a file", param, ctx)
        if not os.access(existing, os.W_OK | os.X_OK):
            self.fail(f"cannot write in {existing}: permission denied", param, ctx)
        return path

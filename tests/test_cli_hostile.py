"""No traceback reaches a person: every command of the `hub` tree, found by walking the click
group (so a command added later is covered without touching this file), driven with hostile
arguments: missing files, folders where files belong, files in missing folders, extreme days,
ports and counts, non-ASCII digits, unicode. Each run must end in one of the documented exit
statuses with its error on stderr, never a traceback and never "unexpected error" (status 70).

Nothing here starts a server: `hub serve`, `hub demo` and `hub fake-bank` get as far as
checking their options and config, and the serving itself is replaced by a recorder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.app import cli
from hub.cli.main import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTLY_DONE,
    EXIT_USAGE,
    AmountParam,
    DayParam,
    IntParam,
    OutputFile,
    OutputFolder,
)
from tests.support.factories import NIP, config_copy

EXPECTED_STATUSES = {EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTLY_DONE}
EXAMPLES_PER_COMMAND = 12
# CI draws the same examples every run, so a red CI is always this change's doing; a workstation
# draws new ones each run (HUB_HOSTILE_RANDOM=1 in CI too) and finds what CI's set misses.
DERANDOMIZE = os.environ.get("CI", "").lower() == "true" and not os.environ.get("HUB_HOSTILE_RANDOM")


def commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


COMMANDS = commands(cli)


@pytest.fixture(scope="module")
def places(tmp_path_factory, sqlite_template) -> dict[str, Path]:
    """A working config on a migrated SQLite database with a funded company, one on an empty
    database (before `hub init`), one on a PostgreSQL nobody listens to, and files to abuse."""
    root = tmp_path_factory.mktemp("hostile")
    good_db = root / "good.sqlite3"
    shutil.copy(sqlite_template, good_db)
    good = config_copy(root / "good", f"sqlite:///{good_db}")
    runner = CliRunner()
    for args in (
        ["company", "add", "--nip", NIP, "--name", "Leasing"],
        ["company", "credit", "--nip", NIP, "--amount", "500", "--reason", "x"],
    ):
        assert runner.invoke(cli, ["--config", str(good), *args]).exit_code == 0
    (root / "folder").mkdir()
    (root / "empty.pem").write_bytes(b"")
    (root / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    return {
        "good": good,
        "uninitialised": config_copy(root / "uninitialised", f"sqlite:///{root / 'never-initialised.sqlite3'}"),
        "unreachable": config_copy(root / "unreachable", "postgresql://hub:secret@127.0.0.1:1/hub"),
        "folder": root / "folder",
        "root": root,
    }


def file_values(places) -> st.SearchStrategy[str]:
    root = places["root"]
    return st.sampled_from(
        [
            str(root / "missing.pdf"),
            str(root / "no-such-folder" / "x.pdf"),
            str(places["folder"]),
            str(root / "empty.pem"),
            str(root / "garbage.pem"),
            str(places["good"] / "hub.toml" / "x.pdf"),
            "/",
            "",
            "-",
            str(root / "żółw ✓.pdf"),
            str(root / "new-file.out"),
        ]
    )


DAYS = st.sampled_from(
    [
        "0001-01-01",
        "9999-12-31",
        "2026-02-30",
        "２０２６-03-10",
        "2026-03-10",
        "20260310",
        "2026-W11-2",
        "",
        "yesterday",
    ]
)
NUMBERS = st.sampled_from(
    ["-1", "0", "1", "65536", "99999", "9" * 30, "١٠٠", "１００", "-9223372036854775809", "1e3", " 7 "]
)
AMOUNTS = st.sampled_from(["0", "-1", "1e3", "١٠٠", "99999999999999.99", "0.001", "nan", "100.00", "-0.01"])
TEXT = st.one_of(
    st.sampled_from(
        [
            NIP,
            "５２６０２５０２７４",
            "1465",
            "１４６５",
            "REJ_NEW",
            "0000-0000-0000-0000",
            "x" * 300,
            "",
            "-",
            "--json",
        ]
    ),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
)


# Values that pass, so that a run gets past one refused option to the next, and to the work.
SANE_BY_NAME = {
    "nip": NIP,
    "company_nip": NIP,
    "payer_nip": NIP,
    "case_type": "REJ_NEW",
    "office_code": "1465",
    "office": "1465",
    "desk_id": "01",
    "day": "2026-03-10",
    "reason": "hostile test",
    "name": "Leasing",
    "login": "jan",
}


def values_for(param: click.Parameter, places) -> st.SearchStrategy[str]:
    hostile = hostile_values(param, places)
    if param.name in SANE_BY_NAME:
        return st.one_of(st.just(SANE_BY_NAME[param.name]), hostile)
    if isinstance(param.type, (OutputFile, OutputFolder)):
        return st.one_of(st.just(str(places["root"] / "new-file.out")), hostile)
    return hostile


def hostile_values(param: click.Parameter, places) -> st.SearchStrategy[str]:
    kind = param.type
    if isinstance(kind, (click.Path, click.File, OutputFile, OutputFolder)):
        return file_values(places)
    if isinstance(kind, DayParam):
        return DAYS
    if isinstance(kind, (IntParam, click.types.IntParamType, click.types.FloatParamType)):
        return NUMBERS
    if isinstance(kind, AmountParam):
        return AMOUNTS
    if isinstance(kind, click.Choice):
        return st.one_of(st.sampled_from([str(c) for c in kind.choices]), st.just("BOGUS"))
    if param.name == "url":  # never a real server: the default address may be somebody's demo
        return st.sampled_from(["http://127.0.0.1:1", "not a url", "http://[::1", ""])
    return TEXT


def arguments(command_path: tuple[str, ...], command: click.Command, places) -> st.SearchStrategy[list[str]]:
    @st.composite
    def build(draw) -> list[str]:
        config = draw(st.sampled_from(["good", "good", "good", "uninitialised", "unreachable", "folder"]))
        args = ["--config", str(places[config]), *command_path]
        for param in command.params:
            if isinstance(param, click.Argument):
                count = draw(st.integers(0, 2)) if param.nargs == -1 else draw(st.sampled_from([1, 1, 1, 0]))
                args += [draw(values_for(param, places)) for _ in range(count)]
                continue
            forced = param.name == "url"
            if not forced and not draw(st.booleans()) and not (param.required and draw(st.integers(0, 4))):
                continue
            if param.is_flag:
                args.append(param.opts[0])
            else:
                for _ in range(draw(st.integers(1, 2)) if param.multiple else 1):
                    args += [param.opts[0], draw(values_for(param, places))]
        return args

    return build()


@pytest.fixture
def no_servers(monkeypatch):
    """Serving is replaced by a recorder; everything up to it runs for real."""
    import hub.cli.demo
    import hub.cli.serve
    from hub.fakebank.server import FakeServer

    served = []
    monkeypatch.setattr(hub.cli.serve, "run_gunicorn", lambda *a, **k: served.append(a))
    monkeypatch.setattr(hub.cli.demo, "run_gunicorn", lambda *a, **k: served.append(a))
    monkeypatch.setattr(hub.cli.demo, "prepare_demo", lambda *a, **k: (_ for _ in ()).throw(click.exceptions.Exit(0)))
    monkeypatch.setattr(FakeServer, "serve_forever", lambda self, *_: served.append(self), raising=False)
    return served


def test_the_tree_is_walked_whole():
    """The walk finds nested groups, so a subcommand added anywhere is driven too."""
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"coupons issue", "company list", "init", "serve", "cashdesk report", "user add"} <= names
    assert len(names) >= 40


@pytest.mark.parametrize("command_path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_hostile_arguments_never_give_a_traceback(command_path, command, places, no_servers):
    @settings(
        max_examples=EXAMPLES_PER_COMMAND,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    @given(args=arguments(command_path, command, places))
    def run(args):
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
        shown = f"hub {' '.join(args)}\nstatus {result.exit_code}\nstderr: {result.stderr}"
        assert result.exception is None or isinstance(result.exception, SystemExit), f"{shown}\n{result.exc_info}"
        assert result.exit_code in EXPECTED_STATUSES, shown
        assert "Traceback" not in result.output + result.stderr, shown
        if result.exit_code != EXIT_OK:
            assert result.stderr.strip(), shown

    run()

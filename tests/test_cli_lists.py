"""The CLI for people at a terminal and for scripts: lists in pages with what is left
said on stderr, a progress bar on a terminal only (never into a pipe), JSON booleans as
booleans, and shell completion scripts."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from tests.support.factories import NIP

HUB = [sys.executable, "-c", "from hub.app import main; main()"]


def companies(count: int) -> list[str]:
    """NIPs with a valid check digit (weights 6 5 7 2 3 4 5 6 7)."""
    found, n = [], 100_000_000
    while len(found) < count:
        n += 1
        digits = [int(d) for d in f"{n:09d}"]
        check = sum(w * d for w, d in zip((6, 5, 7, 2, 3, 4, 5, 6, 7), digits, strict=True)) % 11
        if check < 10:
            found.append(f"{n:09d}{check}")
    return found


def on_a_terminal(args: list[str]) -> bytes:
    """Run the command with stderr on a pseudo-terminal; returns what it drew there."""
    leader, follower = pty.openpty()
    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=follower) as process:
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
        assert process.wait() == 0, drawn
    os.close(leader)
    return drawn


def test_list_commands_print_a_page_and_say_how_many_more(run):
    for nip in companies(5):
        run("company", "add", "--nip", nip, "--name", f"Firma {nip}")
    page = run("company", "list", "--limit", "2", "--json")
    assert len(json.loads(page.stdout)) == 2
    assert page.stderr.strip() == "2 of 5 shown; 3 more: --offset 2"
    last = run("company", "list", "--limit", "2", "--offset", "4", "--json")
    assert len(json.loads(last.stdout)) == 1 and last.stderr == ""
    assert "--limit" in run("company", "list", "--limit", "0", ok=False).stderr
    assert "--offset" in run("company", "list", "--offset", "-1", ok=False).stderr


@pytest.mark.parametrize(
    "command",
    [
        ("company", "list"),
        ("user", "list"),
        ("role", "list"),
        ("bank", "suspense"),
        ("bank", "settlements"),
        ("bank", "unreconciled"),
        ("coupons", "list", "--nip", NIP),
        ("notify", "history"),
    ],
)
def test_every_list_command_takes_limit_and_offset(run, command):
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    assert run(*command, "--limit", "1", "--offset", "0").exit_code == 0


def test_the_progress_bar_goes_to_a_terminal_and_never_into_a_pipe(run, config_dir, tmp_path):
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    run("company", "credit", "--nip", NIP, "--amount", "2000.00", "--reason", "test")
    batch = json.loads(run("coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "3", "--json").stdout)
    args = [*HUB, "--config", str(config_dir), "coupons", "pdf", "--batch", batch["batch_id"]]

    piped = subprocess.run([*args, "--out", str(tmp_path / "piped.pdf")], capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == ""

    drawn = on_a_terminal([*args, "--out", str(tmp_path / "tty.pdf")])
    assert b"writing PDF" in drawn and b"100%" in drawn


def test_a_report_shows_its_progress_on_a_terminal_only(config_dir, tmp_path):
    args = [*HUB, "--config", str(config_dir), "report", "coupons", "--format", "pdf", "--out"]
    piped = subprocess.run([*args, str(tmp_path / "piped.pdf")], capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stderr == ""
    assert b"report coupons" in on_a_terminal([*args, str(tmp_path / "tty.pdf")])


def test_shell_completion_scripts(run):
    for shell, words in (
        ("bash", "_HUB_COMPLETE=bash_complete"),
        ("zsh", "#compdef hub"),
        ("fish", "complete --no-files --command hub"),
    ):
        assert words in run("completion", shell).stdout
    assert "bash" in run("completion", "tcsh", ok=False).stderr

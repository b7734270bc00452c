"""`hub completion bash|zsh|fish`: the shell completion script of the `hub` command
(click's own completion), to load from the shell's startup file."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from hub.cli.main import cli

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_HUB_COMPLETE"  # the variable click's completion calls `hub` with


@cli.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script of SHELL. Load it once per shell, e.g. in ~/.bashrc:
    eval "$(hub completion bash)"; for fish: hub completion fish > ~/.config/fish/completions/hub.fish"""
    completion_class = get_completion_class(shell)
    assert completion_class is not None  # SHELLS are the ones click knows
    completer = completion_class(cli, {}, "hub", COMPLETE_VAR)
    click.echo(completer.source())

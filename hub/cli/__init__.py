"""The `hub` command (contract section 9). Commands only translate: parse options,
call a service of the `Hub`, print text or `--json`. The console script is
`hub.app:main`: the composition root hands the group its Hub factory."""

from importlib import import_module

from hub.cli.main import cli

# each module registers its commands on `cli` when imported
COMMANDS = (
    "admin bank cashdesk companies completion coupons demo fakebank ledger ops portal reports serve settlement users"
)
COMMAND_MODULES = tuple(import_module(f"hub.cli.{name}") for name in COMMANDS.split())

__all__ = ["cli"]

"""The `hub` command (contract section 9). Commands only translate: parse options,
call a service of the `Hub`, print text or `--json`."""

from hub.cli import (
    admin,
    bank,
    cashdesk,
    companies,
    completion,
    coupons,
    demo,
    fakebank,
    ledger,
    ops,
    portal,
    reports,
    serve,
    settlement,
    users,
)  # noqa: E402,F401  (each module registers its commands)
from hub.cli.main import cli, main

__all__ = ["cli", "main"]

"""The `hub` command (contract section 9). Commands only translate: parse options,
call a service of the `Hub`, print text or `--json`. The console script is
`hub.app:main`: the composition root hands the group its Hub factory."""

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
)
from hub.cli.main import cli

# each module registers its commands on `cli` when imported
COMMAND_MODULES = (
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
)

__all__ = ["cli"]

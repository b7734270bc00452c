"""Every domain's tables on the shared metadata (hub.db.base.Base.metadata).

Each domain's models module registers its tables when imported; this module,
above the domain, imports them all for whoever needs the whole schema: the
composition root (hub.app) and Alembic (hub/migrations/env.py). hub.db itself
never imports the domain."""

from __future__ import annotations

from sqlalchemy import MetaData

import hub.audit.messagelog
import hub.audit.models
import hub.audit.recovery
import hub.audit.seals
import hub.bank.models
import hub.cashdesk.models
import hub.companies.models
import hub.coupons.models
import hub.db.idempotency
import hub.db.replay
import hub.ledger.models
import hub.notify.models
import hub.outbox.models
import hub.settlement.models
import hub.users.models
from hub.db.base import Base

MODELS = (
    hub.audit.messagelog,
    hub.audit.models,
    hub.audit.recovery,
    hub.audit.seals,
    hub.bank.models,
    hub.cashdesk.models,
    hub.companies.models,
    hub.coupons.models,
    hub.db.idempotency,
    hub.db.replay,
    hub.ledger.models,
    hub.notify.models,
    hub.outbox.models,
    hub.settlement.models,
    hub.users.models,
)


def register_tables() -> MetaData:
    """The metadata with every table (the imports above registered them)."""
    return Base.metadata


metadata = Base.metadata

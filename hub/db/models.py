"""Imports every domain's models so the metadata (and Alembic) sees all tables."""

from hub.audit.messagelog import MessageLogHead, MessageRecord  # noqa: F401
from hub.audit.models import AuditEvent  # noqa: F401
from hub.audit.recovery import MessageLogRecovery  # noqa: F401
from hub.audit.seals import MessageLogSeal  # noqa: F401
from hub.bank.models import BankEntry, BankStatement  # noqa: F401
from hub.cashdesk.models import DeskDay, Payment, PaymentItem, ReceiptCounter  # noqa: F401
from hub.companies.models import Company  # noqa: F401
from hub.coupons.models import Coupon, CouponBatch, Redemption  # noqa: F401
from hub.db.base import Base
from hub.db.idempotency import IdempotencyKey  # noqa: F401
from hub.db.replay import SeenSignature  # noqa: F401
from hub.ledger.models import LedgerAccount, LedgerCheck, LedgerTransfer  # noqa: F401
from hub.notify.models import Notification, NotificationSettings  # noqa: F401
from hub.outbox.models import OutboxRecord  # noqa: F401
from hub.settlement.models import Settlement  # noqa: F401
from hub.users.models import Grant, LoginThrottleEntry, Role, User  # noqa: F401

metadata = Base.metadata

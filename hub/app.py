"""The composition root: config in, services out. Transports (SOAP, CLI, portal)
build one `Hub` per process and call its services; nothing else wires things."""

from __future__ import annotations

from functools import cached_property

from hub.audit.archive import ArchivedLog, load_certificates
from hub.audit.messagelog import MessageLog
from hub.audit.recovery import RestoreGuard
from hub.audit.seals import Sealer
from hub.audit.timestamps import TimeStamper
from hub.bank.statements import StatementService
from hub.cashdesk.service import CashDeskService
from hub.clock import Clock, utcnow
from hub.companies.service import CompanyService
from hub.config import HubConfig
from hub.coupons.browse import CouponBrowser
from hub.coupons.service import CouponService
from hub.db.database import Database
from hub.fk.service import JournalService
from hub.ledger.checks import LedgerChecks
from hub.notify.service import NotificationService
from hub.reports.service import ReportService
from hub.settlement.service import SettlementService
from hub.signing.keys import SigningIdentity
from hub.users.accounts import AccountService
from hub.users.service import UserService


class Hub:
    def __init__(
        self, config: HubConfig, *, clock: Clock = utcnow, db: Database | None = None
    ) -> None:
        self.config = config
        self.clock = clock
        self.db = db or Database(config.database.url)

    @cached_property
    def companies(self) -> CompanyService:
        return CompanyService(self.db, self.config.bank.escrow_account, self.clock)

    @cached_property
    def coupons(self) -> CouponService:
        return CouponService(self.db, self.config, self.clock)

    @cached_property
    def coupon_browser(self) -> CouponBrowser:
        return CouponBrowser(self.coupons)

    @cached_property
    def users(self) -> UserService:
        return UserService(self.db, self.config, self.clock)

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.db, self.users, self.clock)

    @cached_property
    def cashdesk(self) -> CashDeskService:
        return CashDeskService(
            self.db, self.config, self.clock, supervisor=lambda login: self.users.actor(login)
        )

    @cached_property
    def reports(self) -> ReportService:
        return ReportService(self.db, self.config, self.clock, companies=self.companies)

    @cached_property
    def statements(self) -> StatementService:
        return StatementService(
            self.db, self.config, self.clock, reconcilers=[self.settlements.reconcile_statement]
        )

    @cached_property
    def journals(self) -> JournalService:
        return JournalService(self.db, self.config, self.clock, takings=self.cashdesk.day_takings)

    @cached_property
    def settlements(self) -> SettlementService:
        return SettlementService(self.db, self.config, self.clock, journals=self.journals)

    @cached_property
    def notifications(self) -> NotificationService:
        return NotificationService(self.db, self.config, self.clock)

    @cached_property
    def identity(self) -> SigningIdentity:
        """The hub's own key and certificate."""
        return SigningIdentity.load(self.config.signing.key, self.config.signing.cert)

    @cached_property
    def message_log(self) -> MessageLog:
        """The message log, its head sealed with the hub's key (hub.audit.seals)."""
        audit = self.config.audit
        return MessageLog(
            self.db, Sealer(self.identity, self.clock, audit.seal_every_records, audit.seal_every_s)
        )

    @cached_property
    def ledger_checks(self) -> LedgerChecks:
        return LedgerChecks(self.db, self.clock)

    @cached_property
    def message_archive(self) -> ArchivedLog:
        """The message log's archives with the live log (hub.audit.archive)."""
        audit = self.config.audit
        return ArchivedLog(
            self.db,
            audit.archive_dir,
            self.identity,
            load_certificates(audit.archive_certs),
            self.clock,
            tsa_certs=load_certificates(audit.tsa_certs),
        )

    @cached_property
    def time_stamper(self) -> TimeStamper | None:
        """The RFC 3161 TSA of `[audit] tsa_url`, or None without one (hub.audit.timestamps)."""
        audit = self.config.audit
        return (
            TimeStamper(audit.tsa_url, load_certificates(audit.tsa_certs), audit.tsa_timeout_s)
            if audit.tsa_url
            else None
        )

    @cached_property
    def restore_guard(self) -> RestoreGuard:
        """Holds state changes while the database is behind its archives (hub.audit.recovery)."""
        return RestoreGuard(self.db, self.message_archive, self.clock)

    def close(self) -> None:
        self.db.dispose()

"""The composition root: config in, services out. It is the only module that wires
things: it loads the hub's key and certificate, the trust store and the outside
systems' clients once per process, builds each domain service with what it needs
and the adapters (hub.adapters) that carry its PDFs, files and messages, and builds
the transports on top: the WSGI application of `hub serve` (SOAP, portal, ops)
and the `hub` command. Transports never import this module; they are handed a Hub.
Each service is built, and its adapters' modules imported, when first used: a `hub`
command pays only for what it runs, `hub serve` for everything before its first request.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from hub import ns
from hub.adapters.camt import CamtReader
from hub.adapters.fk_export import write_files
from hub.audit.archive import ArchivedLog, load_certificates
from hub.audit.messagelog import MessageLog
from hub.audit.recovery import RestoreGuard
from hub.audit.seals import Sealer
from hub.audit.timestamps import TimeStamper
from hub.bank.statements import StatementService
from hub.cashdesk.service import CashDeskService
from hub.cli import cli
from hub.clock import Clock, utcnow
from hub.companies.service import CompanyService
from hub.config import HubConfig, load_config
from hub.coupons.browse import CouponBrowser
from hub.coupons.qr import QrSigner
from hub.coupons.queries import CouponNames, CouponQueries
from hub.coupons.service import CouponService
from hub.db.database import Database
from hub.db.replay import DatabaseReplayCache
from hub.fk.service import JournalService
from hub.ledger.checks import LedgerChecks
from hub.notify.service import NotificationService
from hub.notify.targets import WebhookTargets
from hub.reports.service import ReportService
from hub.settlement.service import SettlementService
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.trust import TrustStore
from hub.tables import register_tables
from hub.users.accounts import AccountService
from hub.users.service import UserService

if TYPE_CHECKING:
    from hub.adapters.bank import BankSoap
    from hub.adapters.fk import FkSoap
    from hub.services.endpoint import Security, SoapEndpoint
    from hub.services.group_commit import GroupCommit
    from hub.services.wsgi import HubApplication

register_tables()


def soap_services() -> dict[str, tuple[str, str, type, frozenset[str]]]:
    """/soap/<service> -> (service name, namespace, spyne service class, its operations' kinds)."""
    from hub.services import bankin, cashdesk, company, office

    return {
        "/soap/office": ("office", ns.OFFICE, office.OfficeService, office.KINDS),
        "/soap/bank": ("bankin", ns.BANK_IN, bankin.BankInService, bankin.KINDS),
        "/soap/company": ("company", ns.COMPANY, company.CompanyService, company.KINDS),
        "/soap/cashdesk": ("cashdesk", ns.CASHDESK, cashdesk.CashDeskService, cashdesk.KINDS),
    }


# What `hub serve` builds before its first request. A `hub` command builds (and imports) only
# what it uses: the adapters' libraries (zeep, reportlab, spyne) took 0.4 of the 1.3 s each
# command took to start.
SERVED_BUILT_AT_START = ("coupon_queries", "cashdesk", "reports", "statements", "settlements", "notifications")


class Hub:
    def __init__(
        self,
        config: HubConfig,
        *,
        clock: Clock = utcnow,
        db: Database | None = None,
        identity: SigningIdentity | None = None,
    ) -> None:
        """`identity`: the hub's key and certificate when already loaded (else from
        `[signing]`, on first use)."""
        self.config = config
        self.clock = clock
        self.db = db or Database(config.database.url)
        if identity is not None:
            self.__dict__["identity"] = identity  # the cached_property's value

    def at_clock(self, clock: Clock) -> Hub:
        """The same hub (config, database, keys) on another clock: `hub audit recover`
        re-applies a request at the moment it was first received."""
        return Hub(self.config, clock=clock, db=self.db, identity=self.identity)

    # -- keys, trust and clients: loaded once --------------------------------------

    @cached_property
    def identity(self) -> SigningIdentity:
        """The hub's own key and certificate."""
        return SigningIdentity.load(self.config.signing.key, self.config.signing.cert)

    @cached_property
    def qr_signer(self) -> QrSigner:
        """Signs the coupons' QR payloads with the hub's own key."""
        return QrSigner(self.identity)

    @cached_property
    def bank_courier(self) -> BankSoap:
        """SubmitTransfer to the bank; its answers carry the BANK client's certificate."""
        from hub.adapters.bank import BankSoap

        bank_clients = [c for c in self.config.clients if c.kind == "BANK"]
        return BankSoap(
            self.config.bank.wsdl, self.config.bank.endpoint, TrustStore.from_pem_files(bank_clients), self.identity
        )

    @cached_property
    def fk_courier(self) -> FkSoap:
        from hub.adapters.fk import FkSoap

        return FkSoap(self.config.clients, self.identity)

    # -- the domain -----------------------------------------------------------------

    @cached_property
    def companies(self) -> CompanyService:
        return CompanyService(self.db, self.config.bank.escrow_account, self.clock)

    @cached_property
    def coupons(self) -> CouponService:
        config = self.config
        window_h = config.settlement.reversal_window_h
        return CouponService(self.db, config.tariff, config.known_offices, config.coupons, window_h, self.clock)

    @cached_property
    def coupon_queries(self) -> CouponQueries:
        from hub.adapters.pdf.coupons import CouponPdf

        names = CouponNames(self.config.tariff.case_types.names(), self.config.known_offices.names())
        return CouponQueries(self.db, names, CouponPdf(), self.qr_signer, self.clock)

    @cached_property
    def coupon_browser(self) -> CouponBrowser:
        return CouponBrowser(self.coupon_queries)

    @cached_property
    def users(self) -> UserService:
        return UserService(self.db, self.config.known_offices, self.clock)

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.db, self.users, self.clock)

    @cached_property
    def cashdesk(self) -> CashDeskService:
        from hub.adapters.pdf.cashdesk import CashDeskPdf

        tariff, offices = self.config.tariff, self.config.known_offices
        supervisor = self.users.actor
        return CashDeskService(
            self.db, tariff, offices, self.clock, supervisor, documents=CashDeskPdf(), signing_identity=self.identity
        )

    @cached_property
    def reports(self) -> ReportService:
        from hub.adapters.pdf.report import to_pdf

        tariff, offices = self.config.tariff, self.config.known_offices
        return ReportService(self.db, tariff, offices, self.clock, self.companies, pdf=to_pdf)

    @cached_property
    def statements(self) -> StatementService:
        reconcilers = [self.settlements.reconcile_statement]
        return StatementService(self.db, self.config.bank, self.clock, reconcilers=reconcilers, reader=CamtReader())

    @cached_property
    def journals(self) -> JournalService:
        tariff, offices = self.config.tariff, self.config.known_offices
        return JournalService(self.db, tariff, offices, self.clock, self.cashdesk.day_takings, files=write_files)

    @cached_property
    def settlements(self) -> SettlementService:
        offices, escrow = self.config.known_offices, self.config.bank.escrow_account
        return SettlementService(
            self.db, offices, escrow, self.clock, journals=self.journals, bank=self.bank_courier, fk=self.fk_courier
        )

    @cached_property
    def notifications(self) -> NotificationService:
        from hub.adapters.mail import SmtpSender
        from hub.adapters.webhook import HttpPoster

        notify, escrow = self.config.notify, self.config.bank.escrow_account
        return NotificationService(
            self.db,
            escrow,
            notify.expiry_warning_days,
            self.clock,
            webhook_targets=WebhookTargets(notify.webhook_allow_networks),
            mail=SmtpSender(notify),
            poster=HttpPoster(notify.timeout_s),
        )

    @cached_property
    def message_log(self) -> MessageLog:
        """The message log, its head sealed with the hub's key (hub.audit.seals)."""
        audit = self.config.audit
        return MessageLog(self.db, Sealer(self.identity, self.clock, audit.seal_every_records, audit.seal_every_s))

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

    # -- the SOAP transport ---------------------------------------------------------

    @cached_property
    def security(self) -> Security:
        """What every SOAP endpoint checks: the clients' certificates, the signature
        policy, replays, and the request limits."""
        from hub.services.deadline import ReadDeadlines
        from hub.services.endpoint import Security

        settings = self.config.security
        return Security(
            trust=TrustStore.from_pem_files(self.config.clients),
            policy=SignaturePolicy(clock_skew_s=settings.clock_skew_s, replay_window_s=settings.replay_window_s),
            replay=DatabaseReplayCache(self.db, self.clock),
            identity=self.identity,
            request_bytes_max=settings.request_bytes_max,
            xml_depth_max=settings.xml_depth_max,
            request_body_timeout_s=settings.request_body_timeout_s,
            body_deadlines=ReadDeadlines(),
        )

    def soap_endpoints(self, security: Security, guard: RestoreGuard | None) -> dict[str, SoapEndpoint]:
        """/soap/<service> -> its endpoint, serving this hub's services."""
        from hub.services.endpoint import SoapEndpoint

        log, context, answers = self.message_log, {"hub": self}, self.answer_records
        return {
            path: SoapEndpoint(name, namespace, [service], kinds, security, log, self.clock, context, guard, answers)
            for path, (name, namespace, service, kinds) in soap_services().items()
        }

    @cached_property
    def answer_records(self) -> GroupCommit:
        """The answer records of reads, committed together (hub.services.group_commit)."""
        from hub.services.group_commit import GroupCommit

        answers = GroupCommit(self.message_log)
        self.message_log.waiting_answers = answers  # PostgreSQL: each rides with a request's record
        return answers

    def wsgi(self) -> HubApplication:
        """The WSGI application of `hub serve` on this hub (`application`); on SQLite its
        WAL is copied back into the database by a thread (`Database.checkpoint_in_background`)."""
        self.db.checkpoint_in_background()
        for service in SERVED_BUILT_AT_START:  # with their adapters' imports: not on a request
            getattr(self, service)
        return application(self)

    def close(self) -> None:
        if "answer_records" in self.__dict__:  # the answers sent are in the log before the hub goes
            self.answer_records.flush()
        self.db.dispose()


def application(hub: Hub) -> HubApplication:
    """The WSGI application of `hub serve` for one Hub: SOAP, the portal and ops."""
    from hub.ops import ops_app
    from hub.portal import portal_app
    from hub.services.wsgi import HubApplication

    security = hub.security
    return HubApplication(
        hub.soap_endpoints(security, hub.restore_guard),
        portal_app(hub),
        ops_app(hub, security.identity),  # /healthz, /readyz, /metrics
        security.request_body_timeout_s,
        security.body_deadlines,
        hub,
    )


def create_app(config: HubConfig | None = None) -> HubApplication:
    """For gunicorn: `hub.app:create_app()`, config from $HUB_CONFIG."""
    if config is None:
        config = load_config(Path(os.environ.get("HUB_CONFIG", "config")))
    return Hub(config).wsgi()


# The `hub` command runs on this module's Hub (hub.cli.main.CliContext builds it on demand).
cli.context_settings["obj"] = Hub


def main() -> None:
    """The `hub` console script."""
    cli(prog_name="hub")


__all__ = ["Hub", "application", "cli", "create_app", "main"]

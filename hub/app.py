"""The composition root: config in, services out. Transports (SOAP, CLI, portal)
build one `Hub` per process and call its services; nothing else wires things."""

from __future__ import annotations

from functools import cached_property

from hub.clock import Clock, utcnow
from hub.companies.service import CompanyService
from hub.config import HubConfig
from hub.coupons.service import CouponService
from hub.db.database import Database


class Hub:
    def __init__(self, config: HubConfig, *, clock: Clock = utcnow, db: Database | None = None) -> None:
        self.config = config
        self.clock = clock
        self.db = db or Database(config.database.url)

    @cached_property
    def companies(self) -> CompanyService:
        return CompanyService(self.db, self.config.bank.escrow_account, self.clock)

    @cached_property
    def coupons(self) -> CouponService:
        return CouponService(self.db, self.config, self.clock)

    def close(self) -> None:
        self.db.dispose()

"""A desk's payments of one business day for the people at the desk: a cashier
holds `payments:read` but not `reports:read`, so the daily cash report
(CashDeskService.cash_report) is not theirs to read; the list of payments is.
Changes no state."""

from __future__ import annotations

from datetime import date

from hub.access import PAYMENTS_READ, Actor
from hub.cashdesk.service import CashDeskService, PaymentRecord, _desk_day_payments


def desk_day_payments(
    cashdesk: CashDeskService, *, office_code: str, desk_id: str, day: date, actor: Actor
) -> tuple[PaymentRecord, ...]:
    """Every payment taken at the desk on `day`, voided ones too (marked), in receipt order."""
    office = cashdesk._desk(office_code, desk_id)
    actor.require(PAYMENTS_READ, office_code=office.code)
    with cashdesk.db.read() as session:
        return cashdesk._records(session, _desk_day_payments(office.code, desk_id, day))

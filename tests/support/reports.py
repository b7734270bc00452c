"""A seeded history for the report tests: two companies, four case types, redemptions at two
offices on four days; and a report PDF read back as text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pypdfium2

from hub.clock import business_day
from tests.support import factories
from tests.support.factories import OPERATOR, OTHER_NIP, company_actor, funded_company, issue, rid

WARSZAWA, KRAKOW = "1465", "1261"


@dataclass
class Seeded:
    """What the seeded history holds, for the assertions."""

    start: date
    days: dict[str, date] = field(default_factory=dict)
    coupons: dict[str, str] = field(default_factory=dict)  # name -> canonical id


def seed(hub, clock) -> Seeded:
    """Two companies, batches of four case types, redemptions at two offices on
    four days (one partial), a reversal and a second redemption, a cancel, an
    expiry run and a manual credit; issued coupons left expiring soon."""
    s = Seeded(start=business_day(clock()))
    funded_company(hub, 5000_00)
    funded_company(hub, 3000_00, nip=OTHER_NIP, name="Flota Kraków Sp. z o.o.")
    a1 = issue(hub, 5)  # REJ_NEW 161.50, validity 90 days
    b1 = issue(hub, 3, nip=OTHER_NIP, case_type="REJ_MOT", issued_by="user:ewa@7740001454")
    s.coupons.update(
        a1_0=a1.coupons[0].coupon_id,
        a1_1=a1.coupons[1].coupon_id,
        a1_2=a1.coupons[2].coupon_id,
        b1_0=b1.coupons[0].coupon_id,
    )

    clock.advance(days=1)
    s.days["first"] = business_day(clock())
    first = redeem(hub, a1.coupons[0].coupon_id, WARSZAWA, "REJ_NEW")
    redeem(hub, a1.coupons[1].coupon_id, KRAKOW, "REJ_NEW", amount=100_00)  # partial: 61.50 goes back
    redeem(hub, b1.coupons[0].coupon_id, WARSZAWA, "REJ_MOT")

    clock.advance(days=1)
    s.days["second"] = business_day(clock())
    hub.coupons.reverse(
        request_id=rid(),
        redemption_id=first.redemption_id,
        office_code=WARSZAWA,
        reason="pomyłka w sprawie",
        actor=OPERATOR,
    )
    hub.coupons.cancel(request_id=rid(), coupon_text=a1.coupons[2].coupon_id, actor=company_actor())
    redeem(hub, b1.coupons[1].coupon_id, KRAKOW, "REJ_MOT")
    b2 = issue(hub, 2, nip=OTHER_NIP, case_type="PJ_B")  # expires on day 92

    clock.advance(days=1)
    s.days["third"] = business_day(clock())
    hub.companies.credit(OTHER_NIP, 200_00, "korekta: przelew zaksięgowany ręcznie", actor=OPERATOR)
    redeem(hub, a1.coupons[0].coupon_id, KRAKOW, "REJ_NEW")  # redeemed again after the reversal
    a3 = issue(hub, 2, case_type="WORD_TEORIA")  # expires on day 93

    clock.advance(days=82)
    a2 = issue(hub, 2, case_type="PJ_B", issued_by="user:anna@5260250274")  # expires on day 175
    clock.advance(days=6)  # day 91: a1 and b1 are past their 90 days
    run = hub.coupons.expire(actor=OPERATOR)
    assert run.expired == 3  # a1[3], a1[4], b1[2]
    s.days["last"] = business_day(clock())
    redeem(hub, a2.coupons[0].coupon_id, WARSZAWA, "PJ_B")
    s.coupons.update(
        a2_0=a2.coupons[0].coupon_id,
        a2_1=a2.coupons[1].coupon_id,
        a3_0=a3.coupons[0].coupon_id,
        b2_0=b2.coupons[0].coupon_id,
    )
    return s


def redeem(hub, coupon_id, office, case_type, amount=None):
    """A redemption under a case number of its own."""
    return factories.redeem(hub, coupon_id, office, amount, f"WK.5410.{rid()[:6]}.2026", case_type)


def pdf_pages(data: bytes) -> list[str]:
    pdf = pypdfium2.PdfDocument(data)
    try:
        return [
            " ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf))
        ]  # a wrapped cell reads as one line
    finally:
        pdf.close()

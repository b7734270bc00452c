"""CompanyService (contract section 5): a leasing company's own systems read its
account, issue and cancel coupons, fetch their PDF and the statement.

These classes only translate: XML fields to domain arguments, domain results to
XML fields. The XSD has validated the request before spyne sees it. A COMPANY
client acts only for the company of its config entry: the domain checks the
actor built from the signed client, and answers NotFound for another company's
coupon or batch.
"""

from __future__ import annotations

import io
from datetime import date

from spyne import ByteArray, Unicode

from hub import ns
from hub.access import client_actor
from hub.clock import wire_time
from hub.companies.service import topup_title
from hub.money import format_pln, parse_grosze
from hub.services.spyne_base import HubService, Model, caller, hub_of, operation, optional

NS = ns.COMPANY
KINDS = frozenset({"COMPANY"})
Req = Unicode(min_occurs=1)


class _Model(Model):
    __namespace__ = NS


class GetAccountRequest(_Model):
    _type_info = [("CompanyNip", Req)]


class GetAccountResponse(_Model):
    _type_info = [
        ("CompanyName", Req),
        ("Available", Req),
        ("Held", Req),
        ("VirtualAccount", Unicode),
        ("TopUpTitle", Unicode),
    ]


class IssueCouponsRequest(_Model):
    _type_info = [
        ("RequestId", Req),
        ("CompanyNip", Req),
        ("CaseType", Req),
        ("Count", Req),
        ("Amount", Unicode),
        ("OfficeCode", Unicode),
        ("IssuedBy", Unicode),
        ("Reference", Unicode),
    ]


class IssuedCoupon(_Model):
    _type_info = [("CouponId", Req), ("Amount", Req), ("CaseType", Req), ("ExpiresAt", Req)]


class IssueCouponsResponse(_Model):
    _type_info = [("BatchId", Req), ("TotalHeld", Req), ("Coupon", IssuedCoupon.customize(max_occurs="unbounded"))]


class GetCouponsPdfRequest(_Model):
    _type_info = [("BatchId", Unicode), ("CouponId", Unicode(max_occurs="unbounded")), ("PerPage", Unicode)]


class GetCouponsPdfResponse(_Model):
    _type_info = [("Pdf", ByteArray(min_occurs=1))]


class ListCouponsRequest(_Model):
    _type_info = [
        ("CompanyNip", Req),
        ("Status", Unicode),
        ("IssuedFrom", Unicode),
        ("IssuedTo", Unicode),
        ("Offset", Unicode),
        ("Limit", Unicode),
    ]


class ListedCoupon(_Model):
    _type_info = [
        ("CouponId", Req),
        ("Status", Req),
        ("Amount", Req),
        ("CaseType", Req),
        ("IssuedAt", Req),
        ("ExpiresAt", Req),
        ("RedeemedAt", Unicode),
        ("OfficeCode", Unicode),
        ("CaseNumber", Unicode),
    ]


class ListCouponsResponse(_Model):
    _type_info = [("Total", Req), ("Coupon", ListedCoupon.customize(max_occurs="unbounded"))]


class CancelCouponRequest(_Model):
    _type_info = [("RequestId", Req), ("CouponId", Req)]


class CancelCouponResponse(_Model):
    _type_info = [("ReleasedAmount", Req)]


class GetStatementRequest(_Model):
    _type_info = [("CompanyNip", Req), ("From", Req), ("To", Req)]


class StatementEntry(_Model):
    _type_info = [("BookedAt", Req), ("Kind", Req), ("Amount", Req), ("CouponId", Unicode), ("Reference", Req)]


class GetStatementResponse(_Model):
    _type_info = [
        ("OpeningBalance", Req),
        ("ClosingBalance", Req),
        ("Entry", StatementEntry.customize(max_occurs="unbounded")),
    ]


def _day(text: str) -> date:
    return date.fromisoformat(text)  # the XSD has checked the form YYYY-MM-DD


class CompanyService(HubService):
    @operation("GetAccount", GetAccountRequest, GetAccountResponse)
    def GetAccount(ctx, req):
        a = hub_of(ctx).companies.account(req.CompanyNip, actor=client_actor(caller(ctx)))
        return GetAccountResponse(
            CompanyName=a.name,
            Available=format_pln(a.available_grosze),
            Held=format_pln(a.held_grosze),
            VirtualAccount=a.virtual_account,
            TopUpTitle=topup_title(a.nip),  # no virtual account under an IBAN escrow
        )

    @operation("IssueCoupons", IssueCouponsRequest, IssueCouponsResponse)
    def IssueCoupons(ctx, req):
        batch = hub_of(ctx).coupons.issue(
            request_id=req.RequestId,
            company_nip=req.CompanyNip,
            case_type=req.CaseType,
            count=int(req.Count),
            amount_grosze=optional(req.Amount, parse_grosze),
            office_code=req.OfficeCode,
            actor=client_actor(caller(ctx)),
            issued_by=req.IssuedBy,
            reference=req.Reference,
        )
        return IssueCouponsResponse(
            BatchId=batch.batch_id,
            TotalHeld=format_pln(batch.total_held_grosze),
            Coupon=[
                IssuedCoupon(
                    CouponId=c.coupon_id,
                    Amount=format_pln(c.amount_grosze),
                    CaseType=c.case_type,
                    ExpiresAt=wire_time(c.expires_at),
                )
                for c in batch.coupons
            ],
        )

    @operation("GetCouponsPdf", GetCouponsPdfRequest, GetCouponsPdfResponse)
    def GetCouponsPdf(ctx, req):
        out = io.BytesIO()
        hub_of(ctx).coupon_queries.write_pdf(
            out,
            actor=client_actor(caller(ctx)),
            batch_id=req.BatchId,
            coupon_ids=req.CouponId or (),
            per_page=optional(req.PerPage, int) or 1,  # the XSD allows only 1, 2 or 4
        )
        return GetCouponsPdfResponse(Pdf=[out.getvalue()])

    @operation("ListCoupons", ListCouponsRequest, ListCouponsResponse)
    def ListCoupons(ctx, req):
        coupons = hub_of(ctx).coupon_queries
        page = coupons.list(
            actor=client_actor(caller(ctx)),
            company_nip=req.CompanyNip,
            status=req.Status,
            issued_from=optional(req.IssuedFrom, _day),
            issued_to=optional(req.IssuedTo, _day),
            offset=int(req.Offset or 0),
            **({} if req.Limit is None else {"limit": int(req.Limit)}),
        )
        return ListCouponsResponse(
            Total=str(page.total),
            Coupon=[
                ListedCoupon(
                    CouponId=c.coupon_id,
                    Status=c.status,
                    Amount=format_pln(c.amount_grosze),
                    CaseType=c.case_type,
                    IssuedAt=wire_time(c.issued_at),
                    ExpiresAt=wire_time(c.expires_at),
                    RedeemedAt=optional(c.redeemed_at, wire_time),
                    OfficeCode=c.office_code,
                    CaseNumber=c.case_number,
                )
                for c in page.coupons
            ],
        )

    @operation("CancelCoupon", CancelCouponRequest, CancelCouponResponse)
    def CancelCoupon(ctx, req):
        released = hub_of(ctx).coupons.cancel(
            request_id=req.RequestId, coupon_text=req.CouponId, actor=client_actor(caller(ctx))
        )
        return CancelCouponResponse(ReleasedAmount=format_pln(released))

    @operation("GetStatement", GetStatementRequest, GetStatementResponse)
    def GetStatement(ctx, req):
        s = hub_of(ctx).companies.statement(
            actor=client_actor(caller(ctx)), nip=req.CompanyNip, date_from=_day(req.From), date_to=_day(req.To)
        )
        return GetStatementResponse(
            OpeningBalance=format_pln(s.opening_balance_grosze),
            ClosingBalance=format_pln(s.closing_balance_grosze),
            Entry=[
                StatementEntry(
                    BookedAt=wire_time(e.booked_at),
                    Kind=e.kind,
                    Amount=format_pln(e.amount_grosze),
                    CouponId=e.coupon_id,
                    Reference=e.reference,
                )
                for e in s.entries
            ],
        )

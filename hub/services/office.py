"""OfficeService (contract section 4): Pojazd, Kierowca and WORD verify and redeem coupons.

These classes only translate: XML fields to domain arguments, domain results to
XML fields. The XSD has validated the request before spyne sees it.
"""

from __future__ import annotations

from spyne import Unicode

from hub import ns
from hub.access import client_actor
from hub.clock import wire_time
from hub.money import format_pln, parse_grosze
from hub.services.spyne_base import HubService, Model, caller, hub_of, operation, optional

NS = ns.OFFICE
KINDS = frozenset({"POJAZD", "KIEROWCA", "WORD"})
Req = Unicode(min_occurs=1)


class _Model(Model):
    __namespace__ = NS


class VerifyCouponRequest(_Model):
    _type_info = [("CouponId", Req), ("OfficeCode", Req), ("CaseType", Unicode), ("PayerNip", Unicode)]


class VerifyCouponResponse(_Model):
    _type_info = [
        ("CouponId", Req),
        ("Valid", Req),
        ("Status", Unicode),
        ("Reason", Unicode),
        ("Amount", Unicode),
        ("CaseType", Unicode),
        ("PayerNip", Unicode),
        ("PayerName", Unicode),
        ("ExpiresAt", Unicode),
        ("CurrentFee", Unicode),
    ]


class RedeemCouponRequest(_Model):
    _type_info = [
        ("RequestId", Req),
        ("CouponId", Req),
        ("OfficeCode", Req),
        ("CaseNumber", Req),
        ("CaseType", Req),
        ("Amount", Unicode),
    ]


class RedeemCouponResponse(_Model):
    _type_info = [
        ("RedemptionId", Req),
        ("CouponId", Req),
        ("CapturedAmount", Req),
        ("ReleasedAmount", Req),
        ("RedeemedAt", Req),
    ]


class ReverseRedemptionRequest(_Model):
    _type_info = [("RequestId", Req), ("RedemptionId", Req), ("OfficeCode", Req), ("Reason", Req)]


class ReverseRedemptionResponse(_Model):
    _type_info = [("CouponId", Req), ("Status", Req), ("ReversedAt", Req)]


class VerifyPaymentRequest(_Model):
    _type_info = [("System", Req), ("OfficeCode", Req), ("CaseNumber", Req)]


class PaymentItem(_Model):
    _type_info = [("FeeCode", Req), ("Amount", Req)]


class Payment(_Model):
    _type_info = [
        ("PaymentId", Req),
        ("ReceiptNumber", Req),
        ("Amount", Req),
        ("HandlingFee", Req),
        ("Method", Req),
        ("PaidAt", Req),
        ("Item", PaymentItem.customize(max_occurs="unbounded")),
    ]


class VerifyPaymentResponse(_Model):
    _type_info = [("Paid", Req), ("TotalPaid", Req), ("Payment", Payment.customize(max_occurs="unbounded"))]


class OfficeService(HubService):
    @operation("VerifyCoupon", VerifyCouponRequest, VerifyCouponResponse)
    def VerifyCoupon(ctx, req):
        check = hub_of(ctx).coupons.verify(
            req.CouponId, req.OfficeCode, req.CaseType, req.PayerNip, actor=client_actor(caller(ctx))
        )
        return VerifyCouponResponse(
            CouponId=check.coupon_id,
            Valid="true" if check.valid else "false",
            Status=check.status,
            Reason=check.reason,
            Amount=optional(check.amount_grosze, format_pln),
            CaseType=check.case_type,
            PayerNip=check.payer_nip,
            PayerName=check.payer_name,
            ExpiresAt=optional(check.expires_at, wire_time),
            CurrentFee=optional(check.current_fee_grosze, format_pln),
        )

    @operation("RedeemCoupon", RedeemCouponRequest, RedeemCouponResponse)
    def RedeemCoupon(ctx, req):
        r = hub_of(ctx).coupons.redeem(
            request_id=req.RequestId,
            coupon_text=req.CouponId,
            office_code=req.OfficeCode,
            case_number=req.CaseNumber,
            case_type=req.CaseType,
            amount_grosze=optional(req.Amount, parse_grosze),
            actor=client_actor(caller(ctx)),
        )
        return RedeemCouponResponse(
            RedemptionId=r.redemption_id,
            CouponId=r.coupon_id,
            CapturedAmount=format_pln(r.captured_grosze),
            ReleasedAmount=format_pln(r.released_grosze),
            RedeemedAt=wire_time(r.redeemed_at),
        )

    @operation("ReverseRedemption", ReverseRedemptionRequest, ReverseRedemptionResponse)
    def ReverseRedemption(ctx, req):
        r = hub_of(ctx).coupons.reverse(
            request_id=req.RequestId,
            redemption_id=req.RedemptionId,
            office_code=req.OfficeCode,
            reason=req.Reason,
            actor=client_actor(caller(ctx)),
        )
        return ReverseRedemptionResponse(CouponId=r.coupon_id, Status=r.status, ReversedAt=wire_time(r.reversed_at))

    @operation("VerifyPayment", VerifyPaymentRequest, VerifyPaymentResponse)
    def VerifyPayment(ctx, req):
        check = hub_of(ctx).cashdesk.verify_payment(
            system=req.System, office_code=req.OfficeCode, case_number=req.CaseNumber, actor=client_actor(caller(ctx))
        )
        return VerifyPaymentResponse(
            Paid="true" if check.paid else "false",
            TotalPaid=format_pln(check.total_paid_grosze),
            Payment=[
                Payment(
                    PaymentId=p.payment_id,
                    ReceiptNumber=p.receipt_number,
                    Amount=format_pln(p.items_total_grosze),
                    HandlingFee=format_pln(p.handling_fee_grosze),
                    Method=p.method,
                    PaidAt=wire_time(p.paid_at),
                    Item=[PaymentItem(FeeCode=i.fee_code, Amount=format_pln(i.amount_grosze)) for i in p.items],
                )
                for p in check.payments
            ],
        )

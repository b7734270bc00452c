"""CashDeskService (contract section 6): an office's cash desk applications take
payments for cases, void them, close the day and fetch receipts.

These classes only translate: XML fields to domain arguments, domain results to
XML fields. The XSD has validated the request before spyne sees it. A CASHDESK
client acts for the offices of its config entry; the domain checks that.
"""

from __future__ import annotations

import base64
from datetime import date

from spyne import Unicode

from hub import ns
from hub.access import client_actor
from hub.cashdesk.service import ItemRequest
from hub.clock import wire_time
from hub.money import format_pln, parse_grosze
from hub.services.spyne_base import HubService, Model, caller, hub_of, operation, optional

NS = ns.CASHDESK
KINDS = frozenset({"CASHDESK"})
Req = Unicode(min_occurs=1)


class _Model(Model):
    __namespace__ = NS


class FeeItem(_Model):
    _type_info = [("FeeCode", Req), ("Amount", Unicode)]


class RegisterPaymentRequest(_Model):
    _type_info = [
        ("RequestId", Req),
        ("OfficeCode", Req),
        ("DeskId", Req),
        ("Cashier", Req),
        ("System", Req),
        ("CaseNumber", Req),
        ("Method", Req),
        ("CardAuthCode", Unicode),
        ("Item", FeeItem.customize(min_occurs=1, max_occurs="unbounded")),
        ("PayerName", Unicode),
        ("PayerAddress", Unicode),
    ]


class RegisterPaymentResponse(_Model):
    _type_info = [
        ("PaymentId", Req),
        ("ReceiptNumber", Req),
        ("ItemsTotal", Req),
        ("HandlingFee", Req),
        ("Total", Req),
        ("PaidAt", Req),
    ]


class VoidPaymentRequest(_Model):
    _type_info = [("RequestId", Req), ("PaymentId", Req), ("Reason", Req), ("Supervisor", Req)]


class VoidPaymentResponse(_Model):
    _type_info = [("VoidedAt", Req)]


class CloseDayRequest(_Model):
    _type_info = [
        ("RequestId", Req),
        ("OfficeCode", Req),
        ("DeskId", Req),
        ("Date", Req),
        ("CountedCash", Unicode),
        ("Supervisor", Unicode),
    ]


class CloseDayResponse(_Model):
    _type_info = [
        ("ReportId", Req),
        ("PaymentCount", Req),
        ("VoidedCount", Req),
        ("CashTotal", Req),
        ("CardTotal", Req),
        ("HandlingFeeTotal", Req),
        ("ExpectedCash", Unicode),
        ("CountedCash", Unicode),
        ("CashDifference", Unicode),
        ("DifferenceConfirmedBy", Unicode),
    ]


class GetReceiptPdfRequest(_Model):
    _type_info = [("PaymentId", Req)]


class GetReceiptPdfResponse(_Model):
    _type_info = [("Pdf", Req)]  # base64 text (xs:base64Binary), written here so the encoding is ours


class CashDeskService(HubService):
    @operation("RegisterPayment", RegisterPaymentRequest, RegisterPaymentResponse)
    def RegisterPayment(ctx, req):
        items = [ItemRequest(i.FeeCode, None if i.Amount is None else parse_grosze(i.Amount)) for i in req.Item]
        r = hub_of(ctx).cashdesk.register(
            request_id=req.RequestId,
            office_code=req.OfficeCode,
            desk_id=req.DeskId,
            cashier=req.Cashier,
            system=req.System,
            case_number=req.CaseNumber,
            method=req.Method,
            card_auth_code=req.CardAuthCode,
            items=items,
            actor=client_actor(caller(ctx)),
            payer_name=req.PayerName,
            payer_address=req.PayerAddress,
        )
        return RegisterPaymentResponse(
            PaymentId=r.payment_id,
            ReceiptNumber=r.receipt_number,
            ItemsTotal=format_pln(r.items_total_grosze),
            HandlingFee=format_pln(r.handling_fee_grosze),
            Total=format_pln(r.total_grosze),
            PaidAt=wire_time(r.paid_at),
        )

    @operation("VoidPayment", VoidPaymentRequest, VoidPaymentResponse)
    def VoidPayment(ctx, req):
        voided_at = hub_of(ctx).cashdesk.void(
            request_id=req.RequestId,
            payment_id=req.PaymentId,
            reason=req.Reason,
            supervisor=req.Supervisor,
            actor=client_actor(caller(ctx)),
        )
        return VoidPaymentResponse(VoidedAt=wire_time(voided_at))

    @operation("CloseDay", CloseDayRequest, CloseDayResponse)
    def CloseDay(ctx, req):
        closed = hub_of(ctx).cashdesk.close_day(
            request_id=req.RequestId,
            office_code=req.OfficeCode,
            desk_id=req.DeskId,
            day=date.fromisoformat(req.Date),
            actor=client_actor(caller(ctx)),
            counted_cash_grosze=optional(req.CountedCash, parse_grosze),
            supervisor=req.Supervisor,  # never force: over SOAP a day more than one day back is InvalidRequest
        )
        t, count = closed.totals, closed.count
        return CloseDayResponse(
            ReportId=closed.report_id,
            PaymentCount=str(t.payment_count),
            VoidedCount=str(t.voided_count),
            CashTotal=format_pln(t.cash_total_grosze),
            CardTotal=format_pln(t.card_total_grosze),
            HandlingFeeTotal=format_pln(t.handling_fee_total_grosze),
            ExpectedCash=optional(count, lambda c: format_pln(c.expected_grosze)),
            CountedCash=optional(count, lambda c: format_pln(c.counted_grosze)),
            CashDifference=optional(count, lambda c: format_pln(c.difference_grosze)),
            DifferenceConfirmedBy=optional(count, lambda c: c.confirmed_by),
        )

    @operation("GetReceiptPdf", GetReceiptPdfRequest, GetReceiptPdfResponse)
    def GetReceiptPdf(ctx, req):
        pdf = hub_of(ctx).cashdesk.receipt_pdf(req.PaymentId, client_actor(caller(ctx)))
        return GetReceiptPdfResponse(Pdf=base64.b64encode(pdf).decode("ascii"))

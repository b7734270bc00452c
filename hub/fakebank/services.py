"""The fake partners' SOAP services (spyne, contract-first like the hub's own
endpoints: the published WSDL and XSD, the same security pipeline)."""

from __future__ import annotations

from datetime import date

from spyne import ComplexModel, Unicode

from hub import ns
from hub.money import parse_grosze
from hub.services.spyne_base import HubService, operation

Req = Unicode(min_occurs=1)


def _partner(ctx, name: str):
    return ctx.transport.req_env["hub.context"][name]


class _Bank(ComplexModel):
    __namespace__ = ns.BANK


class SubmitTransferRequest(_Bank):
    _type_info = [
        ("EndToEndId", Req),
        ("DebtorAccount", Req),
        ("CreditorAccount", Req),
        ("CreditorName", Req),
        ("Amount", Req),
        ("Title", Req),
        ("RequestedDate", Req),
    ]


class SubmitTransferResponse(_Bank):
    _type_info = [("BankReference", Req), ("Status", Req), ("RejectReason", Unicode)]


class FakeBankService(HubService):
    @operation("SubmitTransfer", SubmitTransferRequest, SubmitTransferResponse)
    def SubmitTransfer(ctx, req):
        transfer = _partner(ctx, "bank").submit(
            req.EndToEndId,
            req.DebtorAccount,
            req.CreditorAccount,
            req.CreditorName,
            parse_grosze(req.Amount),
            req.Title,
            date.fromisoformat(req.RequestedDate),
        )
        return SubmitTransferResponse(
            BankReference=transfer.bank_reference, Status=transfer.status, RejectReason=transfer.reject_reason
        )


class _Fk(ComplexModel):
    __namespace__ = ns.FK


class JournalLine(_Fk):
    _type_info = [("Account", Req), ("Debit", Req), ("Credit", Req), ("Description", Unicode), ("Reference", Unicode)]


class PostJournalRequest(_Fk):
    _type_info = [
        ("JournalId", Req),
        ("OfficeCode", Req),
        ("Date", Req),
        ("Line", JournalLine.customize(max_occurs="unbounded")),
    ]


class PostJournalResponse(_Fk):
    _type_info = [("Accepted", Req)]


class FakeFkService(HubService):
    @operation("PostJournal", PostJournalRequest, PostJournalResponse)
    def PostJournal(ctx, req):
        lines = [
            {
                "Account": line.Account,
                "Debit": parse_grosze(line.Debit),
                "Credit": parse_grosze(line.Credit),
                "Description": line.Description or "",
                "Reference": line.Reference or "",
            }
            for line in req.Line
        ]
        journal = _partner(ctx, "fk").post(req.JournalId, req.OfficeCode, date.fromisoformat(req.Date), lines)
        return PostJournalResponse(Accepted="true" if journal.accepted else "false")

"""camt.053.001.08 statements of the escrow account, as the fake bank writes them.

Each booked entry: Amt, CdtDbtInd, Sts/Cd BOOK, BookgDt, ValDt, AcctSvcrRef (the
bank's reference), BkTxCd (PMNT/ICDT/DMCT for a transfer out, PMNT/RCDT/DMCT for
one in), and one TxDtls with Refs/EndToEndId, the other party and the remittance
text. A credit to a company's virtual account names that account as CdtrAcct; a transfer
of ours that the creditor's bank sent back is a credit with RvslInd and its EndToEndId.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from lxml import etree

from hub import ns
from hub.clock import wire_time
from hub.money import format_pln

CAMT = ns.CAMT053["001.08"]
DEBIT, CREDIT = "DBIT", "CRDT"


@dataclass(frozen=True)
class StatementEntry:
    booked_on: date
    credit_debit: str  # CRDT | DBIT, as seen from the escrow account
    amount_grosze: int
    reference: str  # the bank's own (AcctSvcrRef), max 35
    end_to_end_id: str | None
    other_name: str
    other_account: str | None  # the creditor's (DBIT) or debtor's (CRDT) account
    remittance: str
    via_account: str | None = None  # CRDT: the (virtual) account the payer credited
    reversal: bool = False  # CRDT: a debit of ours that came back (RvslInd)


def iban(account: str) -> str:
    """An NRB as an IBAN; an IBAN as it is."""
    return f"PL{account}" if account.isdigit() and len(account) == 26 else account


def statement_xml(
    escrow_account: str,
    currency: str,
    entries: list[StatementEntry],
    opening_grosze: int,
    statement_id: str,
    created_at: datetime,
    day: date,
) -> bytes:
    c = f"{{{CAMT}}}"
    document = etree.Element(c + "Document", nsmap={None: CAMT})
    statement_root = etree.SubElement(document, c + "BkToCstmrStmt")
    header = etree.SubElement(statement_root, c + "GrpHdr")
    _text(header, "MsgId", statement_id)
    _text(header, "CreDtTm", wire_time(created_at))
    stmt = etree.SubElement(statement_root, c + "Stmt")
    _text(stmt, "Id", statement_id)
    _text(stmt, "CreDtTm", wire_time(created_at))
    account = etree.SubElement(stmt, c + "Acct")
    _account_id(account, escrow_account)
    _text(account, "Ccy", currency)
    closing = opening_grosze + sum(e.amount_grosze if e.credit_debit == CREDIT else -e.amount_grosze for e in entries)
    _balance(stmt, "OPBD", opening_grosze, currency, day)
    _balance(stmt, "CLBD", closing, currency, day)
    for entry in entries:
        _entry(stmt, entry, currency)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _entry(stmt: etree._Element, entry: StatementEntry, currency: str) -> None:
    c = f"{{{CAMT}}}"
    ntry = etree.SubElement(stmt, c + "Ntry")
    _amount(ntry, entry.amount_grosze, currency)
    _text(ntry, "CdtDbtInd", entry.credit_debit)
    if entry.reversal:
        _text(ntry, "RvslInd", "true")
    _text(etree.SubElement(ntry, c + "Sts"), "Cd", "BOOK")
    _text(etree.SubElement(ntry, c + "BookgDt"), "Dt", entry.booked_on.isoformat())
    _text(etree.SubElement(ntry, c + "ValDt"), "Dt", entry.booked_on.isoformat())
    _text(ntry, "AcctSvcrRef", entry.reference)
    _bank_code(ntry, entry.credit_debit)
    tx = etree.SubElement(etree.SubElement(ntry, c + "NtryDtls"), c + "TxDtls")
    refs = etree.SubElement(tx, c + "Refs")
    _text(refs, "AcctSvcrRef", entry.reference)
    _text(refs, "EndToEndId", entry.end_to_end_id or "NOTPROVIDED")
    _amount(tx, entry.amount_grosze, currency)
    _text(tx, "CdtDbtInd", entry.credit_debit)
    parties = etree.SubElement(tx, c + "RltdPties")
    if entry.credit_debit == DEBIT:
        _party(parties, "Cdtr", entry.other_name)
        if entry.other_account:
            _account_id(etree.SubElement(parties, c + "CdtrAcct"), entry.other_account)
    else:
        _party(parties, "Dbtr", entry.other_name)
        if entry.other_account:
            _account_id(etree.SubElement(parties, c + "DbtrAcct"), entry.other_account)
        if entry.via_account:
            _account_id(etree.SubElement(parties, c + "CdtrAcct"), entry.via_account)
    _text(etree.SubElement(tx, c + "RmtInf"), "Ustrd", entry.remittance[:140])


def _bank_code(parent: etree._Element, credit_debit: str) -> None:
    c = f"{{{CAMT}}}"
    domain = etree.SubElement(etree.SubElement(parent, c + "BkTxCd"), c + "Domn")
    _text(domain, "Cd", "PMNT")
    family = etree.SubElement(domain, c + "Fmly")
    _text(family, "Cd", "ICDT" if credit_debit == DEBIT else "RCDT")
    _text(family, "SubFmlyCd", "DMCT")


def _party(parent: etree._Element, role: str, name: str) -> None:
    c = f"{{{CAMT}}}"
    _text(etree.SubElement(etree.SubElement(parent, c + role), c + "Pty"), "Nm", name[:140])


def _account_id(parent: etree._Element, account: str) -> None:
    c = f"{{{CAMT}}}"
    _text(etree.SubElement(parent, c + "Id"), "IBAN", iban(account))


def _balance(stmt: etree._Element, code: str, grosze: int, currency: str, day: date) -> None:
    c = f"{{{CAMT}}}"
    bal = etree.SubElement(stmt, c + "Bal")
    _text(etree.SubElement(etree.SubElement(bal, c + "Tp"), c + "CdOrPrtry"), "Cd", code)
    _amount(bal, abs(grosze), currency)
    _text(bal, "CdtDbtInd", CREDIT if grosze >= 0 else DEBIT)
    _text(etree.SubElement(bal, c + "Dt"), "Dt", day.isoformat())


def _amount(parent: etree._Element, grosze: int, currency: str) -> None:
    element = etree.SubElement(parent, f"{{{CAMT}}}Amt", Ccy=currency)
    element.text = format_pln(grosze)


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{CAMT}}}{name}")
    element.text = value
    return element

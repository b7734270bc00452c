"""A small writer of camt.053.001.08 statements for tests, streaming (lxml xmlfile), so that a
statement of 100,000 entries never sits in memory; `validate` checks one against the XSD copy
in tests/data/iso20022. A document holds one statement (`write_camt053`) or several
(`write_document` of `Statement`s); a statement's closing balance is, unless given, its
opening balance plus its booked entries, so that it adds up."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import xmlschema
from lxml import etree

from hub import ns
from hub.money import AmountError, format_pln, parse_decimal_grosze

DATA = Path(__file__).resolve().parents[1] / "data" / "iso20022"
V08 = ns.CAMT053["001.08"]
C = f"{{{V08}}}"


@dataclass
class Entry:
    amount: str  # as written in the file, e.g. "150.00"
    direction: str = "CRDT"
    creditor_account: str | None = None  # RltdPties/CdtrAcct/Id/IBAN: the virtual account paid to
    remittance: str | None = None  # RmtInf/Ustrd
    ref: str | None = None  # Ntry/AcctSvcrRef
    end_to_end_id: str = "NOTPROVIDED"
    tx_ref: str | None = None  # TxDtls/Refs/AcctSvcrRef: a reversal names the credit it reverses
    reversal: bool = False
    status: str = "BOOK"
    debtor_name: str = "Leasing Polska S.A."
    debtor_account: str | None = "PL61109010140000071219812874"
    booking_date: str = "2026-03-10"
    currency: str = "PLN"
    splits: list[tuple[str | None, str]] = field(default_factory=list)  # (amount, EndToEndId) per transaction
    structured: str | None = None  # RmtInf/Strd/CdtrRefInf/Ref


@dataclass
class Statement:
    account: str
    entries: Iterable[Entry]
    statement_id: str = "STMT-2026-03-10"
    sequence: str | None = "1"
    currency: str = "PLN"
    opening: str = "0.00"
    closing: str | None = None  # None: opening + booked credits - booked debits
    othr_id: bool = False
    opening_code: str = "OPBD"


def grosze(amount: str) -> int:
    """An amount as the hub reads it; 0 for one it refuses (a test of that refusal)."""
    sign = -1 if amount.startswith("-") else 1  # a balance's: written as DBIT
    try:
        return sign * parse_decimal_grosze(amount.lstrip("-"), fraction_digits_max=5, total_digits_max=18)
    except AmountError:
        return 0


def booked_sum(entries: Iterable[Entry]) -> int:
    """Booked credits less booked debits, in grosze."""
    return sum(grosze(e.amount) * (1 if e.direction == "CRDT" else -1) for e in entries if e.status == "BOOK")


def write_camt053(
    out: BinaryIO | Path,
    account: str,
    entries: Iterable[Entry],
    *,
    statement_id: str = "STMT-2026-03-10",
    sequence: str | None = "1",
    currency: str = "PLN",
    opening: str = "0.00",
    closing: str | None = None,
    othr_id: bool = False,
) -> None:
    """Write a whole camt.053.001.08 document with one statement of `account`."""
    write_document(out, [Statement(account, entries, statement_id, sequence, currency, opening, closing, othr_id)])


def write_document(out: BinaryIO | Path, statements: Iterable[Statement], message_id: str | None = None) -> None:
    """Write a camt.053.001.08 document with every statement of `statements`, in order."""
    statements = list(statements)
    with etree.xmlfile(out, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(C + "Document", nsmap={None: V08}):
            with xf.element(C + "BkToCstmrStmt"):
                header = etree.Element(C + "GrpHdr", nsmap={None: V08})
                _sub(header, "MsgId", message_id or f"MSG-{statements[0].statement_id}")
                _sub(header, "CreDtTm", "2026-03-10T18:00:00+01:00")
                xf.write("\n", header, pretty_print=True)
                for st in statements:
                    entries = st.entries
                    closing = st.closing
                    if closing is None:
                        entries = list(entries)
                        closing = format_pln(grosze(st.opening) + booked_sum(entries))
                    with xf.element(C + "Stmt"):
                        xf.write("\n")
                        head = _statement_head(
                            st.account,
                            st.statement_id,
                            st.sequence,
                            st.currency,
                            st.opening,
                            closing,
                            st.othr_id,
                            st.opening_code,
                        )
                        for elem in head:
                            xf.write(elem, pretty_print=True)
                        for entry in entries:
                            xf.write(_entry(entry), pretty_print=True)


def camt053(account: str, entries: Iterable[Entry], **kw) -> bytes:
    out = io.BytesIO()
    write_camt053(out, account, list(entries), **kw)
    return out.getvalue()


def document(*statements: Statement, **kw) -> bytes:
    out = io.BytesIO()
    write_document(out, statements, **kw)
    return out.getvalue()


@lru_cache(maxsize=4)
def schema(version: str = "001.08") -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(DATA / f"camt.053.{version}.xsd"))


def validate(data: bytes, version: str = "001.08") -> None:
    schema(version).validate(io.BytesIO(data))


def line_of(data: bytes, needle: str, nth: int = 1) -> int:
    """1-based line number of the nth line containing `needle`."""
    hits = [i for i, text in enumerate(data.decode().splitlines(), start=1) if needle in text]
    return hits[nth - 1]


def iban(account: str) -> str:
    """An NRB as the IBAN a statement writes (PL + 26 digits); an IBAN as it is."""
    return f"PL{account}" if len(account) == 26 and account.isdigit() else account


def _sub(parent: etree._Element, path: str, text: str | None = None, **attrib: str) -> etree._Element:
    *steps, last = path.split("/")
    elem = parent
    for step in steps:  # reuse an existing parent, so "Dbtr/Pty/Nm" after "Dbtr/..." nests
        elem = _child(elem, step)
    elem = etree.SubElement(elem, C + last, **attrib)
    if text is not None:
        elem.text = text
    return elem


def _child(parent: etree._Element, name: str) -> etree._Element:
    found = parent.find(C + name)
    return found if found is not None else etree.SubElement(parent, C + name)


def _statement_head(
    account, statement_id, sequence, currency, opening, closing, othr_id, opening_code="OPBD"
) -> list[etree._Element]:
    head = []
    for name, text in (("Id", statement_id), ("ElctrncSeqNb", sequence), ("CreDtTm", "2026-03-10T18:00:00+01:00")):
        if text is not None:
            elem = etree.Element(C + name, nsmap={None: V08})
            elem.text = text
            head.append(elem)
    acct = etree.Element(C + "Acct", nsmap={None: V08})
    _sub(acct, "Id/Othr/Id" if othr_id else "Id/IBAN", account if othr_id else iban(account))
    _sub(acct, "Ccy", currency)
    head.append(acct)
    for code, amount in ((opening_code, opening), ("CLBD", closing)):
        bal = etree.Element(C + "Bal", nsmap={None: V08})
        _sub(bal, "Tp/CdOrPrtry/Cd", code)
        negative = amount.startswith("-")
        _sub(bal, "Amt", amount.lstrip("-"), Ccy=currency)
        _sub(bal, "CdtDbtInd", "DBIT" if negative else "CRDT")
        _sub(bal, "Dt/Dt", "2026-03-10")
        head.append(bal)
    return head


def _entry(e: Entry) -> etree._Element:
    ntry = etree.Element(C + "Ntry", nsmap={None: V08})
    _sub(ntry, "Amt", e.amount, Ccy=e.currency)
    _sub(ntry, "CdtDbtInd", e.direction)
    if e.reversal:
        _sub(ntry, "RvslInd", "true")
    _sub(ntry, "Sts/Cd", e.status)
    _sub(ntry, "BookgDt/Dt", e.booking_date)
    _sub(ntry, "ValDt/Dt", e.booking_date)
    if e.ref:
        _sub(ntry, "AcctSvcrRef", e.ref)
    _sub(ntry, "BkTxCd/Prtry/Cd", "TRANSFER")
    details = _sub(ntry, "NtryDtls")
    for amount, end_to_end in e.splits or [(None, e.end_to_end_id)]:
        tx = _sub(details, "TxDtls")
        refs = _sub(tx, "Refs")
        if e.tx_ref:
            _sub(refs, "AcctSvcrRef", e.tx_ref)
        _sub(refs, "EndToEndId", end_to_end)
        if amount is not None:
            _sub(tx, "Amt", amount, Ccy=e.currency)
            _sub(tx, "CdtDbtInd", e.direction)
        parties = _sub(tx, "RltdPties")
        _sub(parties, "Dbtr/Pty/Nm", e.debtor_name)
        if e.debtor_account:
            _sub(parties, "DbtrAcct/Id/IBAN", iban(e.debtor_account))
        if e.creditor_account:
            _sub(parties, "CdtrAcct/Id/IBAN", iban(e.creditor_account))
        if e.remittance:
            _sub(tx, "RmtInf/Ustrd", e.remittance)
        if e.structured:
            _sub(tx, "RmtInf/Strd/CdtrRefInf/Ref", e.structured)
    return ntry

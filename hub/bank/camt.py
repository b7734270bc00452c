"""camt.053 bank-to-customer statements (ISO 20022 001.02, 001.04, 001.08), read as a stream.

`read_statement(stream)` yields, for each statement (`Stmt`) of the document in file order, its
`StatementHeader` and then every `StatementEntry` of it, while parsing: each entry's elements
are dropped as soon as the entry is read (and each statement's once it ends), so memory stays
flat whether a document holds ten entries or a hundred thousand over several statements.

Hostile input is refused as by the hub's one hardened parser (hub/xmlsafe.py): no DTD (refused
at the root element, before any entry is read), no entity is ever resolved, nothing is loaded
from the network or the disk, huge_tree off (libxml2 stops at 256 levels and at 10 MB text
nodes). Every problem, from a syntax error to a missing element, an amount with a non-zero
digit past the grosz, a currency code ISO 4217 does not know or an entry status outside
BOOK/PDNG/INFO/FUTR, is a `StatementError` naming the element and its line.

Amounts are read in any lexical form the schema's amount type allows (xs:decimal, at most 5
fraction digits and 18 digits in all: "18.150", "5442.09000"), exactly, into grosze.
Optional XSD validation (`validate_schema`) uses the XSD of the document's namespace from a
folder (`[bank] statement_xsd_dir`), with xmlschema reading the document lazily.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from hub import ns
from hub.clock import WARSAW, business_day
from hub.errors import StatementError
from hub.ids import normalize_account
from hub.money import AmountError, currency_known, parse_decimal_grosze
from hub.xmlsafe import iterparse

VERSIONS = {uri: version for version, uri in ns.CAMT053.items()}
BOOKED = "BOOK"
# ExternalEntryStatus1Code: booked, pending, information only, future. Anything else is refused:
# an entry the hub cannot tell booked or not would make the balance check meaningless.
ENTRY_STATUSES = (BOOKED, "PDNG", "INFO", "FUTR")
AMOUNT_FRACTION_DIGITS_MAX = (
    5  # ActiveOrHistoricCurrencyAndAmount: fractionDigits 5, totalDigits 18
)
AMOUNT_TOTAL_DIGITS_MAX = 18
CREDIT, DEBIT = "CRDT", "DBIT"
NOT_PROVIDED = "NOTPROVIDED"  # the ISO placeholder for an absent EndToEndId

_DATE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$")
_OPENING_CODES = ("OPBD", "PRCD")  # opening booked, or the previous statement's closing booked
_CLOSING_CODES = ("CLBD",)


@dataclass(frozen=True, slots=True)
class Balance:
    code: str  # OPBD, PRCD, CLBD
    amount_grosze: int  # signed: a debit balance is negative
    currency: str
    on: date | None
    line: int


@dataclass(frozen=True, slots=True)
class StatementHeader:
    version: str  # "001.02", "001.04" or "001.08"
    message_id: str  # GrpHdr/MsgId
    statement_id: str  # Stmt/Id
    electronic_sequence: str | None  # Stmt/ElctrncSeqNb
    account: str  # Acct/Id/IBAN or Acct/Id/Othr/Id, compact (hub.ids.normalize_account)
    currency: str | None  # Acct/Ccy, when given
    created_at: datetime  # Stmt/CreDtTm (.08: optional, then GrpHdr/CreDtTm), aware
    opening: Balance | None  # OPBD, else PRCD
    closing: Balance | None  # CLBD
    line: int  # of Stmt


@dataclass(frozen=True, slots=True)
class Transaction:
    """One NtryDtls/TxDtls: who paid whom, and why."""

    amount_grosze: int | None  # TxDtls/Amt (.02: AmtDtls/TxAmt/Amt), when given
    currency: str | None
    end_to_end_id: str | None  # None for an absent one or NOTPROVIDED
    account_servicer_ref: str | None  # Refs/AcctSvcrRef
    creditor_account: str | None  # RltdPties/CdtrAcct: the (virtual) account paid to
    debtor_name: str | None
    debtor_account: str | None
    remittance: str  # every RmtInf/Ustrd, joined by a space
    references: tuple[
        str, ...
    ]  # every RmtInf/Strd/CdtrRefInf/Ref (an RF creditor reference, or the payer's own)
    line: int


@dataclass(frozen=True, slots=True)
class StatementEntry:
    amount_grosze: int
    currency: str
    direction: str  # CRDT or DBIT
    reversal: bool  # RvslInd
    status: str  # Sts (.08: Sts/Cd or Sts/Prtry): one of ENTRY_STATUSES
    booking_date: date | None
    value_date: date | None
    account_servicer_ref: str | None  # Ntry/AcctSvcrRef
    entry_ref: str | None  # Ntry/NtryRef
    transactions: tuple[Transaction, ...]
    line: int

    @property
    def booked(self) -> bool:
        return self.status == BOOKED


def read_statement(stream: BinaryIO) -> Iterator[StatementHeader | StatementEntry]:
    """For each statement, its header and then every entry of it, while parsing `stream`
    (a binary file object). A header starts each statement: what follows it, up to the next
    header or the end, are its entries."""
    events = iterparse(
        stream, ("start", "end"), tag=("{*}Document", "{*}GrpHdr", "{*}Stmt", "{*}Ntry")
    )
    try:
        yield from _Reader().read(events)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        last = exc.error_log.last_error
        what = (last.message if last is not None else exc.msg).strip()
        raise StatementError(f"not well-formed XML (column {column}): {what}", line=line) from None


class _Reader:
    """Fields are read through `_kids`, an element's children by local name in one pass over
    them, rather than an ElementPath `find` per field: most of the parse time was there."""

    def __init__(self) -> None:
        self.uri: str | None = None
        self.prefix = ""  # "{uri}", the document's namespace as lxml writes it in a tag
        self.names = _LocalNames("")
        self.version = ""
        self.group: tuple[str, datetime | None] | None = None
        self.statement: etree._Element | None = None
        self.statements = 0
        self.header_sent = False
        self.days: dict[
            str, date
        ] = {}  # "2026-03-10" -> its date: a statement's few days, parsed once

    def read(self, events: etree.iterparse) -> Iterator[StatementHeader | StatementEntry]:
        for event, elem in events:
            if self.uri is None:
                self._root(elem)
                continue
            tag = elem.tag
            if not tag.startswith(self.prefix):
                continue
            name = tag[len(self.prefix) :]
            if name == "Ntry" and event == "start" and not self.header_sent:
                yield self._header()
            elif name == "Ntry" and event == "end":
                yield self._entry(elem)
                _drop(elem)
            elif name == "Stmt" and event == "start":
                self.statement, self.header_sent = elem, False
                self.statements += 1
            elif name == "Stmt" and event == "end":
                if not self.header_sent:  # a statement without entries
                    yield self._header()
                self.statement, self.header_sent = (
                    None,
                    False,
                )  # an Ntry after it is outside any statement
                _drop(elem)
            elif name == "GrpHdr" and event == "end":
                kids = self._kids(elem)
                self.group = (
                    self._required_text(elem, kids, "MsgId"),
                    self._datetime(elem, kids, "CreDtTm", required=True),
                )
        if self.uri is None:
            root = getattr(events, "root", None)
            tag = etree.QName(root).text if root is not None else "nothing"
            raise StatementError(
                f"not a camt.053 document: the root element is {tag}", element="Document", line=1
            )
        if self.statements == 0:
            raise StatementError("the document holds no statement", element="Stmt")

    # -- the document and its header ---------------------------------------

    def _root(self, elem: etree._Element) -> None:
        docinfo = elem.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            raise StatementError(
                "the document has a DOCTYPE (DTD); DTDs and entity declarations are refused",
                line=elem.sourceline,
            )
        qname = etree.QName(elem)
        if (
            elem.getparent() is not None
            or qname.localname != "Document"
            or qname.namespace not in VERSIONS
        ):
            supported = ", ".join(ns.CAMT053.values())
            raise StatementError(
                f"not a camt.053 document: {qname.text} (supported namespaces: {supported})",
                element="Document",
                line=elem.sourceline,
            )
        self.uri = qname.namespace
        self.prefix = f"{{{self.uri}}}"
        self.names = _LocalNames(self.prefix)
        self.version = VERSIONS[self.uri]

    def _header(self) -> StatementHeader:
        self.header_sent = True
        stmt = self.statement
        if self.group is None:
            raise StatementError(
                "GrpHdr (with MsgId and CreDtTm) is required before the statement", element="GrpHdr"
            )
        if stmt is None:
            raise StatementError("an entry outside a statement", element="Ntry")
        kids = self._kids(stmt)
        acct = self._required(stmt, kids, "Acct")
        acct_kids = self._kids(acct)
        account = self._account(self._required(acct, acct_kids, "Id"))
        currency = _value(acct_kids.get("Ccy"))
        if currency is not None and not currency_known(currency):
            raise StatementError(
                f"{currency!r} is not an ISO 4217 currency code",
                element="Acct/Ccy",
                line=acct.sourceline,
            )
        message_id, group_created = self.group
        created = (
            self._datetime(stmt, kids, "CreDtTm", required=self.version != "001.08")
            or group_created
        )
        balances = [self._balance(b) for b in stmt.iterchildren(self.prefix + "Bal")]
        return StatementHeader(
            version=self.version,
            message_id=message_id,
            statement_id=self._required_text(stmt, kids, "Id"),
            electronic_sequence=_value(kids.get("ElctrncSeqNb")),
            account=account,
            currency=currency,
            created_at=created,
            opening=next((b for b in balances if b.code in _OPENING_CODES), None),
            closing=next((b for b in balances if b.code in _CLOSING_CODES), None),
            line=stmt.sourceline,
        )

    def _balance(self, bal: etree._Element) -> Balance:
        kids = self._kids(bal)
        code = self._text(bal, "Tp/CdOrPrtry/Cd") or self._text(bal, "Tp/CdOrPrtry/Prtry") or ""
        amount, currency = self._amount(self._required(bal, kids, "Amt"))
        sign = -1 if self._direction(bal, kids) == DEBIT else 1
        return Balance(
            code,
            sign * amount,
            currency,
            self._date_choice(self._required(bal, kids, "Dt")),
            bal.sourceline,
        )

    def _account(self, account_id: etree._Element) -> str:
        text = self._text(account_id, "IBAN") or self._text(account_id, "Othr/Id")
        if not text:
            raise StatementError(
                "an account needs IBAN or Othr/Id",
                element=_name(account_id),
                line=account_id.sourceline,
            )
        return normalize_account(text)

    # -- entries -----------------------------------------------------------

    def _entry(self, ntry: etree._Element) -> StatementEntry:
        kids = self._kids(ntry)
        amount, currency = self._amount(self._required(ntry, kids, "Amt"))
        sts = self._required(ntry, kids, "Sts")
        codes = self._kids(sts)
        status = (
            (_value(codes.get("Cd")) or _value(codes.get("Prtry")))
            if len(sts)
            else (sts.text or "").strip()
        )
        if status not in ENTRY_STATUSES:
            shown = f"{status!r} is not" if status else "no status is"
            raise StatementError(
                f"{shown} an entry status the hub knows (BOOK, PDNG, INFO, FUTR)",
                element="Sts",
                line=sts.sourceline,
            )
        booking, value = kids.get("BookgDt"), kids.get("ValDt")
        return StatementEntry(
            amount_grosze=amount,
            currency=currency,
            direction=self._direction(ntry, kids),
            reversal=self._boolean(ntry, kids, "RvslInd"),
            status=status,
            booking_date=None if booking is None else self._date_choice(booking),
            value_date=None if value is None else self._date_choice(value),
            account_servicer_ref=_value(kids.get("AcctSvcrRef")),
            entry_ref=_value(kids.get("NtryRef")),
            transactions=tuple(
                self._transaction(tx) for tx in self._all(ntry, "NtryDtls", "TxDtls")
            ),
            line=ntry.sourceline,
        )

    def _transaction(self, tx: etree._Element) -> Transaction:
        kids = self._kids(tx)
        amt = kids.get("Amt")
        if amt is None and "AmtDtls" in kids:
            amt = self._at(kids["AmtDtls"], "TxAmt/Amt")
        amount, currency = (None, None) if amt is None else self._amount(amt)
        refs = self._kids(kids["Refs"]) if "Refs" in kids else {}
        end_to_end = _value(refs.get("EndToEndId"))
        parties = kids.get("RltdPties")
        party = {} if parties is None else self._kids(parties)
        return Transaction(
            amount_grosze=amount,
            currency=currency,
            end_to_end_id=None if end_to_end in (None, NOT_PROVIDED) else end_to_end,
            account_servicer_ref=_value(refs.get("AcctSvcrRef")),
            creditor_account=self._optional_account(party.get("CdtrAcct")),
            debtor_name=self._debtor_name(party.get("Dbtr")),
            debtor_account=self._optional_account(party.get("DbtrAcct")),
            remittance=" ".join(
                u.text.strip()
                for u in self._all(tx, "RmtInf", "Ustrd")
                if u.text and u.text.strip()
            ),
            references=self._structured_references(tx),
            line=tx.sourceline,
        )

    def _structured_references(self, tx: etree._Element) -> tuple[str, ...]:
        """Every RmtInf/Strd/CdtrRefInf/Ref of a transaction."""
        refs = (self._text(strd, "CdtrRefInf/Ref") for strd in self._all(tx, "RmtInf", "Strd"))
        return tuple(ref for ref in refs if ref)

    def _debtor_name(self, debtor: etree._Element | None) -> str | None:
        """Dbtr/Nm (.02), or Dbtr/Pty/Nm (.08)."""
        if debtor is None:
            return None
        kids = self._kids(debtor)
        party = kids.get("Pty")
        return _value(kids.get("Nm")) or (
            None if party is None else _value(self._kids(party).get("Nm"))
        )

    def _optional_account(self, account: etree._Element | None) -> str | None:
        """CdtrAcct or DbtrAcct, when given: its Id."""
        account_id = None if account is None else self._kids(account).get("Id")
        return None if account_id is None else self._account(account_id)

    # -- field readers -----------------------------------------------------

    def _kids(self, elem: etree._Element) -> dict[str | None, etree._Element]:
        """The children of `elem` in the document's namespace by local name: the first of
        each name, as `find` would give it (other children are under None)."""
        names, kids = self.names, {}
        for child in elem:
            name = names[child.tag]
            if name not in kids:
                kids[name] = child
        return kids

    def _at(self, elem: etree._Element, path: str) -> etree._Element | None:
        """The element at `path` ("Pty/Nm") below `elem`, by the first child of each step's name."""
        for name in path.split("/"):
            elem = self._kids(elem).get(name)
            if elem is None:
                return None
        return elem

    def _all(self, elem: etree._Element, name: str, inner: str) -> Iterator[etree._Element]:
        """Every `name/inner` below `elem`, in document order (Ntry's NtryDtls/TxDtls, RmtInf/Ustrd)."""
        for outer in elem.iterchildren(self.prefix + name):
            yield from outer.iterchildren(self.prefix + inner)

    def _text(self, elem: etree._Element, path: str) -> str | None:
        return _value(self._at(elem, path))

    def _required(
        self, elem: etree._Element, kids: dict[str, etree._Element], name: str
    ) -> etree._Element:
        found = kids.get(name)
        if found is None:
            raise StatementError(
                f"{name} is required in {_name(elem)}", element=name, line=elem.sourceline
            )
        return found

    def _required_text(
        self, elem: etree._Element, kids: dict[str, etree._Element], name: str
    ) -> str:
        text = _value(kids.get(name))
        if text is None:
            raise StatementError(
                f"{name} is required in {_name(elem)}", element=name, line=elem.sourceline
            )
        return text

    def _amount(self, amt: etree._Element) -> tuple[int, str]:
        currency = (amt.get("Ccy") or "").strip()
        if not currency_known(currency):
            raise StatementError(
                f"the Ccy attribute must be an ISO 4217 currency code, got {currency!r}",
                element="Amt",
                line=amt.sourceline,
            )
        text = (amt.text or "").strip()
        try:
            grosze = parse_decimal_grosze(
                text,
                fraction_digits_max=AMOUNT_FRACTION_DIGITS_MAX,
                total_digits_max=AMOUNT_TOTAL_DIGITS_MAX,
            )
        except AmountError as error:
            raise StatementError(
                f"{error}; an amount must be exact to the grosz", element="Amt", line=amt.sourceline
            ) from None
        return grosze, currency

    def _direction(self, elem: etree._Element, kids: dict[str, etree._Element]) -> str:
        value = self._required_text(elem, kids, "CdtDbtInd")
        if value not in (CREDIT, DEBIT):
            raise StatementError(
                f"CdtDbtInd must be CRDT or DBIT, got {value!r}",
                element="CdtDbtInd",
                line=elem.sourceline,
            )
        return value

    def _boolean(self, elem: etree._Element, kids: dict[str, etree._Element], name: str) -> bool:
        value = _value(kids.get(name))
        if value is None:
            return False
        if value not in ("true", "false", "1", "0"):
            raise StatementError(
                f"{name} must be true or false, got {value!r}", element=name, line=elem.sourceline
            )
        return value in ("true", "1")

    def _date_choice(self, elem: etree._Element) -> date:
        """DateAndDateTimeChoice: Dt, or DtTm taken as its Warsaw day."""
        kids = self._kids(elem)
        text = _value(kids.get("Dt"))
        if text is not None:
            day = self.days.get(text)
            if day is None:
                day = _iso_date(text, f"{_name(elem)}/Dt", elem.sourceline)
                if len(self.days) < 1000:
                    self.days[text] = day
            return day
        stamp = self._datetime(elem, kids, "DtTm", required=False)
        if stamp is None:
            raise StatementError(
                "Dt or DtTm is required", element=_name(elem), line=elem.sourceline
            )
        return business_day(stamp)

    def _datetime(
        self, elem: etree._Element, kids: dict[str, etree._Element], name: str, *, required: bool
    ) -> datetime | None:
        text = _value(kids.get(name))
        if text is None:
            if required:
                raise StatementError(
                    f"{name} is required in {_name(elem)}", element=name, line=elem.sourceline
                )
            return None
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise StatementError(
                f"{text!r} is not a date and time", element=name, line=elem.sourceline
            ) from None
        # ISODateTime without an offset is the bank's local time: a Polish bank's, Warsaw.
        return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=WARSAW)


class _LocalNames(dict):
    """lxml tag -> local name, for the document's namespace; None for any other tag (another
    namespace, an entity). Remembers up to 1,000 tags: a schema has fewer, a hostile
    document may have more."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def __missing__(self, tag) -> str | None:
        name = (
            tag[len(self.prefix) :]
            if isinstance(tag, str) and tag.startswith(self.prefix)
            else None
        )
        if len(self) < 1000:
            self[tag] = name
        return name


def _value(elem: etree._Element | None) -> str | None:
    """The element's text, stripped; None for no element or no text."""
    text = None if elem is None else elem.text
    return None if text is None else text.strip() or None


def _iso_date(text: str, element: str, line: int) -> date:
    match = _DATE.match(text)
    try:
        if match:
            return date.fromisoformat(match.group(1))
    except ValueError:
        pass
    raise StatementError(f"{text!r} is not a date", element=element, line=line)


def _name(elem: etree._Element) -> str:
    return etree.QName(elem).localname


def _drop(elem: etree._Element) -> None:
    """Free an entry that has been read, and the entries before it (lxml's iterparse idiom:
    the element the parser stands on stays, cleared; earlier siblings go)."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    while elem.getprevious() is not None:
        del parent[0]


# -- optional XSD validation ----------------------------------------------------


def schema_file(xsd_dir: Path, version: str) -> Path:
    return xsd_dir / f"camt.053.{version}.xsd"


@lru_cache(maxsize=8)
def _schema(path: str):
    import xmlschema

    return xmlschema.XMLSchema(path)


def validate_schema(stream: BinaryIO, xsd_dir: Path, version: str) -> None:
    """Validate against `<xsd_dir>/camt.053.<version>.xsd` (the document's namespace, as
    `read_statement` found it); the first error is a StatementError naming element and line.
    The document is read lazily (constant memory) and nothing is loaded for it."""
    import xmlschema

    path = schema_file(xsd_dir, version)
    if not path.is_file():
        raise StatementError(
            f"no XSD for camt.053.{version} in {xsd_dir} (expected {path.name})", element="Document"
        )
    # lxml's parser (hardened as read_statement's) instead of xmlschema's ElementTree one, so that
    # errors know their line; read_statement has refused any DTD in the same bytes already.
    resource = xmlschema.XMLResource(
        stream, lazy=True, defuse="never", allow="none", iterparse=iterparse
    )
    problem = _first_schema_error(_schema(str(path)), resource)
    if problem is not None:
        reason, element, line = problem
        raise StatementError(
            f"does not match the camt.053.{version} schema: {reason}", element=element, line=line
        )


def _first_schema_error(schema, resource) -> tuple[str, str | None, int | None] | None:
    """The first error's reason, element and line, as plain values. xmlschema's lazy reader of
    the stream is left in a reference cycle when validation stops at an error; collected by
    chance after the caller has closed the stream, it would print a traceback of its own
    ("I/O operation on closed file") after the error line."""
    errors = schema.iter_errors(resource)
    try:
        error = next(errors, None)
        if error is None:
            return None
        # A lazy resource has dropped the element by now; its path and line remain.
        element = (
            re.sub(r"\[[0-9]+\]$", "", (error.path or "").rsplit("/", 1)[-1]).rsplit(":", 1)[-1]
            or None
        )
        return str(error.reason), element, error.sourceline
    finally:
        error = None
        errors.close()
        gc.collect()  # the reader sits in a reference cycle of xmlschema's: collected now, while the stream is open

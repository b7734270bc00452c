"""camt.053 bank-to-customer statements (ISO 20022 001.02, 001.04, 001.08), read as a stream
with lxml: the `StatementReader` of hub.bank.reader (`CamtReader`, injected by hub/app.py).

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

Speed: an entry is read by walking its children once per element that holds fields, comparing
each child's tag with the document's tags built once (`_tags`): no ElementPath, no XPath, no
per-field search. Most of a statement's time is lxml building the elements; this reader adds
about as much again (bench/camt.py).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Generator, Iterator, Sequence
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO, Literal, overload

from lxml import etree

from hub import ns
from hub.adapters.camt_process import read_large
from hub.bank.reader import CREDIT, DEBIT, ENTRY_STATUSES, Balance, StatementEntry, StatementHeader, Transaction
from hub.clock import WARSAW, business_day
from hub.errors import StatementError
from hub.ids import normalize_account
from hub.money import AmountError, currency_known, parse_decimal_grosze
from hub.xmlsafe import iterparse

VERSIONS = {uri: version for version, uri in ns.CAMT053.items()}
# ActiveOrHistoricCurrencyAndAmount: fractionDigits 5, totalDigits 18
AMOUNT_FRACTION_DIGITS_MAX = 5
AMOUNT_TOTAL_DIGITS_MAX = 18
NOT_PROVIDED = "NOTPROVIDED"  # the ISO placeholder for an absent EndToEndId
DAYS_REMEMBERED_MAX = 1000  # distinct Dt texts parsed once per document; a statement has few
ACCOUNTS_REMEMBERED_MAX = 10_000  # distinct account texts normalised once per document

_DATE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$")
# The common form of an amount, "1234.50" (up to three zeros past the grosz): read without the
# general parser; any other form goes through parse_decimal_grosze, which refuses or reads it.
_PLAIN_AMOUNT = re.compile(r"([0-9]{1,16})\.([0-9]{2})0{0,3}")
_OPENING_CODES = ("OPBD", "PRCD")  # opening booked, or the previous statement's closing booked
_CLOSING_CODES = ("CLBD",)
# Every element name the reader looks for; `_tags` spells them in the document's namespace.
_NAMES = (
    "Acct AcctSvcrRef Amt AmtDtls Bal BookgDt Ccy Cd CdOrPrtry CdtDbtInd CdtrAcct CdtrRefInf "
    "CreDtTm Dbtr DbtrAcct Dt DtTm ElctrncSeqNb EndToEndId GrpHdr IBAN Id MsgId Nm Ntry NtryDtls "
    "NtryRef Othr Prtry Pty Ref Refs RltdPties RmtInf RvslInd Stmt Strd Sts Tp TxAmt TxDtls "
    "Ustrd ValDt"
).split()

_Element = Any  # lxml's etree._Element (lxml ships no type hints mypy reads here)
_Children = dict[Any, _Element]  # tag -> the first child with it


class CamtReader:
    """hub.bank.reader.StatementReader for camt.053 documents."""

    def read(self, stream: BinaryIO) -> Generator[StatementHeader | StatementEntry, None, None]:
        """`read_statement`, in a process of its own for a large document (hub.adapters.camt_process)."""
        return read_large(stream, read_statement)

    def validate_schema(self, stream: BinaryIO, xsd_dir: Path, version: str) -> None:
        validate_schema(stream, xsd_dir, version)


def read_statement(stream: BinaryIO) -> Iterator[StatementHeader | StatementEntry]:
    """For each statement, its header and then every entry of it, while parsing `stream`
    (a binary file object). A header starts each statement: what follows it, up to the next
    header or the end, are its entries."""
    events = iterparse(stream, ("start", "end"), tag=("{*}Document", "{*}GrpHdr", "{*}Stmt", "{*}Ntry"))
    try:
        yield from _Reader().read(events)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position
        last = exc.error_log.last_error
        what = (last.message if last is not None else exc.msg).strip()
        raise StatementError(f"not well-formed XML (column {column}): {what}", line=line) from None


class _Reader:
    """One document's reading: its namespace (and so its tags), its group header, the
    statement being read."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.version = ""
        self.group: tuple[str, datetime] | None = None  # MsgId, CreDtTm
        self.statement: _Element | None = None
        self.statements = 0
        self.header_sent = False
        self.days: dict[str, date] = {}  # a Dt's text ("2026-03-10") -> its date: parsed once
        self.currencies: set[str] = set()  # Ccy codes found in ISO 4217 already
        self.accounts: dict[str, str] = {}  # an account's text -> compact: the same few recur

    def read(self, events: Any) -> Iterator[StatementHeader | StatementEntry]:
        first = next(events, None)
        if first is None:
            root = getattr(events, "root", None)
            tag = etree.QName(root).text if root is not None else "nothing"
            raise StatementError(f"not a camt.053 document: the root element is {tag}", element="Document", line=1)
        self._root(first[1])
        ntry, stmt, group = self.tags["Ntry"], self.tags["Stmt"], self.tags["GrpHdr"]
        for event, elem in events:
            tag = elem.tag
            if tag == ntry:
                if event == "end":
                    yield self._entry(elem)
                    _drop(elem)
                elif not self.header_sent:
                    yield self._header()
            elif tag == stmt:
                if event == "start":
                    self.statement, self.header_sent = elem, False
                    self.statements += 1
                    continue
                if not self.header_sent:  # a statement without entries
                    yield self._header()
                # an Ntry after it is outside any statement
                self.statement, self.header_sent = None, False
                _drop(elem)
            elif tag == group and event == "end":
                kids = _children(elem)
                self.group = (
                    self._required_text(elem, kids, "MsgId"),
                    self._datetime(elem, kids, "CreDtTm", required=True),
                )
        if self.statements == 0:
            raise StatementError("the document holds no statement", element="Stmt")

    # -- the document and its header ---------------------------------------

    def _root(self, elem: _Element) -> None:
        docinfo = elem.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            raise StatementError(
                "the document has a DOCTYPE (DTD); DTDs and entity declarations are refused", line=elem.sourceline
            )
        qname = etree.QName(elem)
        if elem.getparent() is not None or qname.localname != "Document" or qname.namespace not in VERSIONS:
            supported = ", ".join(ns.CAMT053.values())
            raise StatementError(
                f"not a camt.053 document: {qname.text} (supported namespaces: {supported})",
                element="Document",
                line=elem.sourceline,
            )
        self.tags = _tags(qname.namespace)
        self.version = VERSIONS[qname.namespace]

    def _header(self) -> StatementHeader:
        self.header_sent = True
        stmt = self.statement
        if self.group is None:
            raise StatementError("GrpHdr (with MsgId and CreDtTm) is required before the statement", element="GrpHdr")
        if stmt is None:
            raise StatementError("an entry outside a statement", element="Ntry")
        kids = _children(stmt)
        acct = self._required(stmt, kids, "Acct")
        acct_kids = _children(acct)
        account = self._account(self._required(acct, acct_kids, "Id"))
        currency = _value(acct_kids.get(self.tags["Ccy"]))
        if currency is not None and not currency_known(currency):
            raise StatementError(
                f"{currency!r} is not an ISO 4217 currency code", element="Acct/Ccy", line=acct.sourceline
            )
        message_id, group_created = self.group
        created = self._datetime(stmt, kids, "CreDtTm", required=self.version != "001.08") or group_created
        balances = [self._balance(b) for b in stmt.iterchildren(self.tags["Bal"])]
        return StatementHeader(
            version=self.version,
            message_id=message_id,
            statement_id=self._required_text(stmt, kids, "Id"),
            electronic_sequence=_value(kids.get(self.tags["ElctrncSeqNb"])),
            account=account,
            currency=currency,
            created_at=created,
            opening=next((b for b in balances if b.code in _OPENING_CODES), None),
            closing=next((b for b in balances if b.code in _CLOSING_CODES), None),
            line=stmt.sourceline,
        )

    def _balance(self, bal: _Element) -> Balance:
        kids = _children(bal)
        code = self._text(bal, "Tp", "CdOrPrtry", "Cd") or self._text(bal, "Tp", "CdOrPrtry", "Prtry")
        amount, currency = self._amount(self._required(bal, kids, "Amt"))
        sign = -1 if self._direction(bal, kids) == DEBIT else 1
        return Balance(
            code or "", sign * amount, currency, self._date_choice(self._required(bal, kids, "Dt")), bal.sourceline
        )

    def _account(self, account_id: _Element) -> str:
        """Id/IBAN, else Id/Othr/Id, compact."""
        kids = _children(account_id)
        text = _value(kids.get(self.tags["IBAN"]))
        if not text:
            other = kids.get(self.tags["Othr"])
            text = None if other is None else self._text(other, "Id")
        if not text:
            raise StatementError(
                "an account needs IBAN or Othr/Id", element=_name(account_id), line=account_id.sourceline
            )
        account = self.accounts.get(text)
        if account is None:
            account = normalize_account(text)
            if len(self.accounts) < ACCOUNTS_REMEMBERED_MAX:
                self.accounts[text] = account
        return account

    # -- entries -----------------------------------------------------------

    def _entry(self, ntry: _Element) -> StatementEntry:
        """Checked in the order of the fields: amount, status, direction, reversal, dates,
        then each transaction."""
        t = self.tags
        kids, details = _children_and(ntry, t["NtryDtls"])
        amt = kids.get(t["Amt"])
        if amt is None:
            raise _missing(ntry, "Amt")
        amount, currency = self._amount(amt)
        sts = kids.get(t["Sts"])
        if sts is None:
            raise _missing(ntry, "Sts")
        status = self._status(sts)
        direction = self._direction(ntry, kids)
        reversal = False if t["RvslInd"] not in kids else self._boolean(ntry, kids, "RvslInd")
        booking, value = kids.get(t["BookgDt"]), kids.get(t["ValDt"])
        booking_date = None if booking is None else self._date_choice(booking)
        value_date = None if value is None else self._date_choice(value)
        tx_tag = t["TxDtls"]
        transactions = [self._transaction(tx) for dtls in details for tx in dtls if tx.tag == tx_tag]
        return StatementEntry(
            amount,
            currency,
            direction,
            reversal,
            status,
            booking_date,
            value_date,
            _value(kids.get(t["AcctSvcrRef"])),
            _value(kids.get(t["NtryRef"])),
            tuple(transactions),
            ntry.sourceline,
        )

    def _status(self, sts: _Element) -> str:
        if len(sts):
            codes = _children(sts)
            status = _value(codes.get(self.tags["Cd"])) or _value(codes.get(self.tags["Prtry"]))
        else:
            status = (sts.text or "").strip()
        if not status or status not in ENTRY_STATUSES:
            shown = f"{status!r} is not" if status else "no status is"
            raise StatementError(
                f"{shown} an entry status the hub knows (BOOK, PDNG, INFO, FUTR)", element="Sts", line=sts.sourceline
            )
        return status

    def _transaction(self, tx: _Element) -> Transaction:
        t = self.tags
        kids, remittances = _children_and(tx, t["RmtInf"])
        amt = kids.get(t["Amt"])
        if amt is None and t["AmtDtls"] in kids:
            amt = self._at(kids[t["AmtDtls"]], "TxAmt", "Amt")
        amount, currency = (None, None) if amt is None else self._amount(amt)
        refs_elem = kids.get(t["Refs"])
        refs = {} if refs_elem is None else _children(refs_elem)
        end_to_end = _value(refs.get(t["EndToEndId"]))
        parties_elem = kids.get(t["RltdPties"])
        parties = {} if parties_elem is None else _children(parties_elem)
        creditor_account = self._optional_account(parties.get(t["CdtrAcct"]))
        debtor_name = self._debtor_name(parties.get(t["Dbtr"]))
        debtor_account = self._optional_account(parties.get(t["DbtrAcct"]))
        texts, references = self._remittance(remittances)
        return Transaction(
            amount,
            currency,
            None if end_to_end == NOT_PROVIDED else end_to_end,
            _value(refs.get(t["AcctSvcrRef"])),
            creditor_account,
            debtor_name,
            debtor_account,
            " ".join(texts),
            tuple(references),
            tx.sourceline,
        )

    def _remittance(self, remittances: list[_Element]) -> tuple[list[str], list[str]]:
        """Every RmtInf/Ustrd text, and every RmtInf/Strd/CdtrRefInf/Ref, in document order."""
        unstructured, structured = self.tags["Ustrd"], self.tags["Strd"]
        texts, references = [], []
        for rmtinf in remittances:
            for child in rmtinf:
                tag = child.tag
                if tag == unstructured:
                    text = child.text
                    if text and text.strip():
                        texts.append(text.strip())
                elif tag == structured:
                    reference = self._text(child, "CdtrRefInf", "Ref")
                    if reference:
                        references.append(reference)
        return texts, references

    def _debtor_name(self, debtor: _Element | None) -> str | None:
        """Dbtr/Nm (.02), or Dbtr/Pty/Nm (.08)."""
        if debtor is None:
            return None
        kids = _children(debtor)
        party = kids.get(self.tags["Pty"])
        return _value(kids.get(self.tags["Nm"])) or (None if party is None else self._text(party, "Nm"))

    def _optional_account(self, account: _Element | None) -> str | None:
        """CdtrAcct or DbtrAcct, when given: its Id."""
        account_id = None if account is None else self._at(account, "Id")
        return None if account_id is None else self._account(account_id)

    # -- field readers -----------------------------------------------------

    def _at(self, elem: _Element, *names: str) -> _Element | None:
        """The element at the path of `names` below `elem`, by the first child of each name."""
        for name in names:
            tag = self.tags[name]
            for child in elem:
                if child.tag == tag:
                    elem = child
                    break
            else:
                return None
        return elem

    def _text(self, elem: _Element, *names: str) -> str | None:
        return _value(self._at(elem, *names))

    def _required(self, elem: _Element, kids: _Children, name: str) -> _Element:
        found = kids.get(self.tags[name])
        if found is None:
            raise _missing(elem, name)
        return found

    def _required_text(self, elem: _Element, kids: _Children, name: str) -> str:
        text = _value(kids.get(self.tags[name]))
        if text is None:
            raise _missing(elem, name)
        return text

    def _amount(self, amt: _Element) -> tuple[int, str]:
        currency = (amt.get("Ccy") or "").strip()
        if currency not in self.currencies:
            if not currency_known(currency):
                raise StatementError(
                    f"the Ccy attribute must be an ISO 4217 currency code, got {currency!r}",
                    element="Amt",
                    line=amt.sourceline,
                )
            self.currencies.add(currency)
        text = (amt.text or "").strip()
        plain = _PLAIN_AMOUNT.fullmatch(text)
        if plain is not None:
            return int(plain[1]) * 100 + int(plain[2]), currency
        try:
            grosze = parse_decimal_grosze(
                text, fraction_digits_max=AMOUNT_FRACTION_DIGITS_MAX, total_digits_max=AMOUNT_TOTAL_DIGITS_MAX
            )
        except AmountError as error:
            raise StatementError(
                f"{error}; an amount must be exact to the grosz", element="Amt", line=amt.sourceline
            ) from None
        return grosze, currency

    def _direction(self, elem: _Element, kids: _Children) -> str:
        value = self._required_text(elem, kids, "CdtDbtInd")
        if value != CREDIT and value != DEBIT:
            raise StatementError(
                f"CdtDbtInd must be CRDT or DBIT, got {value!r}", element="CdtDbtInd", line=elem.sourceline
            )
        return value

    def _boolean(self, elem: _Element, kids: _Children, name: str) -> bool:
        value = _value(kids.get(self.tags[name]))
        if value is None:
            return False
        if value not in ("true", "false", "1", "0"):
            raise StatementError(f"{name} must be true or false, got {value!r}", element=name, line=elem.sourceline)
        return value in ("true", "1")

    def _date_choice(self, elem: _Element) -> date:
        """DateAndDateTimeChoice: Dt, or DtTm taken as its Warsaw day. A Dt text read before
        is not parsed again."""
        dt = self.tags["Dt"]
        for child in elem:
            if child.tag == dt:
                day = self.days.get(child.text)
                if day is not None:
                    return day
                break
        return self._new_date_choice(elem)

    def _new_date_choice(self, elem: _Element) -> date:
        text = self._text(elem, "Dt")
        if text is not None:
            day = _iso_date(text, f"{_name(elem)}/Dt", elem.sourceline)
            if len(self.days) < DAYS_REMEMBERED_MAX:
                dt = self._at(elem, "Dt")
                assert dt is not None  # its text was read just above
                raw = dt.text  # as the next element will have it
                self.days[raw] = day
            return day
        stamp = self._datetime(elem, _children(elem), "DtTm", required=False)
        if stamp is None:
            raise StatementError("Dt or DtTm is required", element=_name(elem), line=elem.sourceline)
        return business_day(stamp)

    @overload
    def _datetime(self, elem: _Element, kids: _Children, name: str, *, required: Literal[True]) -> datetime: ...

    @overload
    def _datetime(self, elem: _Element, kids: _Children, name: str, *, required: bool) -> datetime | None: ...

    def _datetime(self, elem: _Element, kids: _Children, name: str, *, required: bool) -> datetime | None:
        text = _value(kids.get(self.tags[name]))
        if text is None:
            if required:
                raise _missing(elem, name)
            return None
        try:
            stamp = datetime.fromisoformat(text)
        except ValueError:
            raise StatementError(f"{text!r} is not a date and time", element=name, line=elem.sourceline) from None
        # ISODateTime without an offset is the bank's local time: a Polish bank's, Warsaw.
        return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=WARSAW)


@lru_cache(maxsize=8)
def _tags(uri: str) -> dict[str, str]:
    """Each name the reader looks for, as lxml writes its tag in namespace `uri`: "{uri}Ntry"."""
    return {name: f"{{{uri}}}{name}" for name in _NAMES}


def _children(elem: _Element) -> _Children:
    """The children of `elem` by tag: the first of each, as `find` would give it."""
    kids: _Children = {}
    for child in elem:
        tag = child.tag
        if tag not in kids:
            kids[tag] = child
    return kids


def _children_and(elem: _Element, repeated: str) -> tuple[_Children, list[_Element]]:
    """`_children`, and every child whose tag is `repeated` (NtryDtls, RmtInf), in order."""
    kids: _Children = {}
    every = []
    for child in elem:
        tag = child.tag
        if tag == repeated:
            every.append(child)
        if tag not in kids:
            kids[tag] = child
    return kids, every


def _missing(elem: _Element, name: str) -> StatementError:
    return StatementError(f"{name} is required in {_name(elem)}", element=name, line=elem.sourceline)


def _value(elem: _Element | None) -> str | None:
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


def _name(elem: _Element) -> str:
    return str(etree.QName(elem).localname)


def _drop(elem: _Element) -> None:
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
def _schema(path: str) -> Any:
    import xmlschema

    return xmlschema.XMLSchema(path)


def validate_schema(stream: BinaryIO, xsd_dir: Path, version: str) -> None:
    """Validate against `<xsd_dir>/camt.053.<version>.xsd` (the document's namespace, as
    `read_statement` found it); the first error is a StatementError naming element and line.
    The document is read lazily (constant memory) and nothing is loaded for it."""
    import xmlschema

    path = schema_file(xsd_dir, version)
    if not path.is_file():
        raise StatementError(f"no XSD for camt.053.{version} in {xsd_dir} (expected {path.name})", element="Document")
    # lxml's parser (hardened as read_statement's) instead of xmlschema's ElementTree one, so that
    # errors know their line; read_statement has refused any DTD in the same bytes already.
    resource = xmlschema.XMLResource(stream, lazy=True, defuse="never", allow="none", iterparse=_schema_iterparse)
    problem = _first_schema_error(_schema(str(path)), resource)
    if problem is not None:
        reason, element, line = problem
        raise StatementError(f"does not match the camt.053.{version} schema: {reason}", element=element, line=line)


def _schema_iterparse(stream: Any, events: Sequence[str] | None) -> Iterator[tuple[str, Any]]:
    """hub.xmlsafe.iterparse as xmlschema's XMLResource calls it: with the stream validate_schema gave
    it (binary) and the events it reads, a tuple."""
    assert events is not None  # XMLResource always names the events it reads
    return iterparse(stream, tuple(events))


def _first_schema_error(schema: Any, resource: Any) -> tuple[str, str | None, int | None] | None:
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
        element = re.sub(r"\[[0-9]+\]$", "", (error.path or "").rsplit("/", 1)[-1]).rsplit(":", 1)[-1] or None
        return str(error.reason), element, error.sourceline
    finally:
        error = None
        errors.close()
        # the reader sits in a reference cycle of xmlschema's: collected now, while the stream is open
        gc.collect()

"""Identifiers with check digits: coupon ids, NIP, NRB (Polish bank accounts).

Coupon id (contract section 1): 16 symbols of Crockford base-32; 15 random
symbols from a CSPRNG and a Luhn mod 32 check symbol. Luhn mod N catches every
single-symbol substitution and every adjacent transposition except one pair:
the symbols with values 0 and N-1 (`0` and `Z`), whose doubled-and-folded
values coincide. So the generator never issues an id in which `0` and `Z` stand
side by side (check symbol included); it redraws instead. That costs under
0.04 bits of the 75, and makes "every adjacent transposition is caught" true of
every id the hub issues.
"""

from __future__ import annotations

import secrets
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_N = len(ALPHABET)  # 32
_SYMBOLS = frozenset(ALPHABET)
# What each symbol adds to the Luhn mod 32 sum when doubled: twice its value, its two
# base-32 digits added (`addend // 32 + addend % 32`).
_DOUBLED = {c: 2 * v // _N + 2 * v % _N for c, v in _VALUE.items()}
_FORGIVE = str.maketrans({"O": "0", "I": "1", "L": "1"})
_UNCAUGHT_PAIRS = ("0Z", "Z0")

COUPON_ID_SYMBOLS = 16


class MalformedId(ValueError):
    """Text that is not a well-formed identifier (wrong length, symbol or check)."""


def _luhn_check_symbol(payload: str) -> str:
    """The symbol that makes `payload + symbol` pass Luhn mod 32: from the right, every
    other payload symbol is doubled, the rightmost first, as in Luhn mod N."""
    total = sum(map(_DOUBLED.__getitem__, payload[::-2])) + sum(map(_VALUE.__getitem__, payload[-2::-2]))
    return ALPHABET[(_N - total % _N) % _N]


def _luhn_valid(symbols: str) -> bool:
    return _luhn_check_symbol(symbols[:-1]) == symbols[-1]


# The ids a request made the first time, handed out again when `hub audit recover --apply`
# re-applies it (the coupons a company printed, the RedemptionId an office keeps must stay).
_GIVEN: ContextVar[deque[str] | None] = ContextVar("hub_given_ids", default=None)


@contextmanager
def given_ids(ids: Iterable[str]) -> Iterator[None]:
    """Within this block new_uuid() and new_coupon_id() hand out `ids` in order (then fresh ones)."""
    token = _GIVEN.set(deque(ids))
    try:
        yield
    finally:
        _GIVEN.reset(token)


def _given() -> str | None:
    given = _GIVEN.get()
    return given.popleft() if given else None


def new_uuid() -> str:
    """A fresh id (UUID 4) for a batch, a redemption, a payment."""
    return _given() or str(uuid.uuid4())


def new_coupon_id() -> str:
    """A fresh coupon id, 16 symbols, no dashes (storage form)."""
    if (given := _given()) is not None:
        return normalize_coupon_id(given)
    while True:
        payload = "".join(secrets.choice(ALPHABET) for _ in range(COUPON_ID_SYMBOLS - 1))
        symbols = payload + _luhn_check_symbol(payload)
        if not any(pair in symbols for pair in _UNCAUGHT_PAIRS):
            return symbols


def normalize_coupon_id(text: str) -> str:
    """Forgiving input -> 16 symbols, or MalformedId.

    Case, spaces and dashes are ignored; `O` reads as `0`, `I` and `L` as `1`.
    The check symbol is verified, so a typo is caught before any lookup.
    """
    symbols = "".join(text.split()).replace("-", "").upper().translate(_FORGIVE)
    if len(symbols) != COUPON_ID_SYMBOLS:
        raise MalformedId(f"a coupon id has {COUPON_ID_SYMBOLS} symbols, this has {len(symbols)}")
    if not _SYMBOLS.issuperset(symbols):
        bad = sorted(set(symbols) - _SYMBOLS)
        raise MalformedId(f"a coupon id has no symbol {''.join(bad)!r}")
    if not _luhn_valid(symbols):
        raise MalformedId("the check symbol does not match: a symbol is mistyped")
    return symbols


def format_coupon_id(symbols: str) -> str:
    """Storage form -> canonical printed form `XXXX-XXXX-XXXX-XXXX`."""
    return "-".join(symbols[i : i + 4] for i in range(0, len(symbols), 4))


_NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
_ASCII_DIGITS = frozenset("0123456789")


def ascii_digits(text: str) -> bool:
    """True for a non-empty string of 0-9 only. `str.isdigit()` and `int()` also take
    fullwidth and Arabic-Indic digits, so `"１２３"` would pass as a NIP and register a
    second company with the same number; every digit check goes through here."""
    return bool(text) and all(c in _ASCII_DIGITS for c in text)


def nip_valid(nip: str) -> bool:
    """10 digits whose last is the weighted mod-11 check digit."""
    if len(nip) != 10 or not ascii_digits(nip):
        return False
    check = sum(w * int(d) for w, d in zip(_NIP_WEIGHTS, nip[:9], strict=True)) % 11
    return check != 10 and check == int(nip[9])


def nip_check_digit(first9: str) -> int | None:
    """The check digit for nine NIP digits, or None where no valid NIP has them."""
    check = sum(w * int(d) for w, d in zip(_NIP_WEIGHTS, first9, strict=False)) % 11
    return None if check == 10 else check


def _iban_mod97(bban: str, country: str, check: str) -> int:
    digits = "".join(str(int(c, 36)) for c in bban + country + check)
    return int(digits) % 97


def nrb_valid(nrb: str) -> bool:
    """26-digit NRB: 2 check digits, 8-digit bank code, 16-digit account; IBAN mod 97."""
    if len(nrb) != 26 or not ascii_digits(nrb):
        return False
    return _iban_mod97(nrb[2:], "PL", nrb[:2]) == 1


def iban_valid(iban: str) -> bool:
    """Any country's IBAN by its mod-97 check (the escrow account may be foreign in tests)."""
    iban = iban.replace(" ", "").upper()
    if (
        not (15 <= len(iban) <= 34)
        or not iban.isascii()
        or not iban[:2].isalpha()
        or not ascii_digits(iban[2:4])
        or not iban.isalnum()
    ):
        return False
    return _iban_mod97(iban[4:], iban[:2], iban[2:4]) == 1


def nrb_with_check(bban24: str) -> str:
    """Bank code and account number (24 digits) -> full NRB with its check digits."""
    if len(bban24) != 24 or not ascii_digits(bban24):
        raise ValueError("an NRB without check digits has 24 digits")
    check = 98 - _iban_mod97(bban24, "PL", "00")
    return f"{check:02d}{bban24}"


def normalize_account(text: str) -> str:
    """Spaces removed, `PL` prefix dropped: `PL61 1090 ...` -> 26-digit NRB; other IBANs kept whole."""
    compact = "".join(text.split()).upper()
    if compact.startswith("PL") and len(compact) == 28:
        return compact[2:]
    return compact


def format_nrb(nrb: str) -> str:
    """`61109010140000071219812874` -> `61 1090 1014 0000 0712 1981 2874`."""
    return nrb[:2] + " " + " ".join(nrb[i : i + 4] for i in range(2, 26, 4))


def format_iban(iban: str) -> str:
    """An IBAN in groups of four, as printed: `NL26VAYB8060476890` -> `NL26 VAYB 8060 4768 90`."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def virtual_account(escrow_nrb: str, nip: str) -> str:
    """A company's own top-up account: the escrow's bank code and its first six
    account digits as the mass-payment prefix, then the company's NIP. Unique per
    company (NIP is), valid checksum, and the bank credits it to the escrow."""
    return nrb_with_check(escrow_nrb[2:10] + escrow_nrb[10:16] + nip)


def rf_reference(body: str) -> str:
    """An ISO 11649 creditor reference ("RF" + 2 check digits + `body`, 1 to 21 letters or
    digits): the company's is its NIP, `rf_reference("5260250274")` -> "RF..5260250274"."""
    body = body.upper()
    if not 1 <= len(body) <= 21 or not (body.isascii() and body.isalnum()):
        raise ValueError("an RF reference's body is 1 to 21 letters or digits")
    return f"RF{98 - _iban_mod97(body, 'RF', '00'):02d}{body}"


def rf_reference_body(text: str) -> str | None:
    """The body of an ISO 11649 creditor reference whose check digits hold; None for any other text."""
    compact = "".join(text.split()).upper()
    body, check = compact[4:], compact[2:4]
    if not compact.startswith("RF") or not (check.isascii() and check.isdigit()) or not 1 <= len(body) <= 21:
        return None
    if not (body.isascii() and body.isalnum()) or _iban_mod97(body, "RF", check) != 1:
        return None
    return body

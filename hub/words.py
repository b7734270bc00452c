"""The words people read, in Polish: one label for every code the hub keeps, and
amounts, dates and plural forms by Babel's pl_PL data.

A kernel module: it imports no domain package, so the portal, the PDFs, the CSVs
and the CLI can all use it. Codes stay codes inside (ISSUED, HOLD, CASH, REJ_NEW,
user:anna); only what a person reads goes through here. Case types are named in
fees.toml, so their labels come from the config (`case_type_pl` takes the names).

Domain errors carry an English sentence (for operators and SOAP clients) and a
code; `error_pl` gives the Polish sentence for a person, keyed by the error's code
and, where one code covers several mistakes, its `kind` (hub.errors). No English
sentence is ever shown inside a Polish one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from num2words import num2words

from hub.clock import WARSAW

LOCALE = Locale.parse("pl_PL")

# -- codes ------------------------------------------------------------------------

COUPON_STATUS = {"ISSUED": "wydany", "REDEEMED": "wykorzystany", "CANCELLED": "anulowany", "EXPIRED": "wygasły"}
STATEMENT_KIND = {
    "TOPUP": "zasilenie",
    "HOLD": "blokada",
    "CAPTURE": "pobranie",
    "RELEASE": "zwolnienie blokady",
    "ADJUSTMENT": "korekta",
}
PAYMENT_METHOD = {"CASH": "gotówka", "CARD": "karta płatnicza"}
PAYMENT_STATUS = {"PAID": "przyjęta", "VOIDED": "unieważniona"}
SYSTEM = {"POJAZD": "Pojazd", "KIEROWCA": "Kierowca", "WORD": "WORD"}
SYSTEM_PURPOSE = {"POJAZD": "rejestracja pojazdów", "KIEROWCA": "prawa jazdy", "WORD": "egzaminy"}
SYSTEM_LONG = {
    code: f"{name} ({SYSTEM_PURPOSE[code]})" for code, name in SYSTEM.items()
}  # "Pojazd (rejestracja pojazdów)"
ROLE = {
    "admin": "administrator",
    "issuer": "wystawca kuponów",
    "viewer": "podgląd",
    "cashier": "kasjer",
    "supervisor": "kierownik kasy",
}
# Who did something, when it was not a person with a login
ACTOR = {"hub:login": "hub (blokada po błędnych hasłach)", "cli:root": "operator hubu"}
ACTOR_PREFIX = {"user:": "", "client:": "system ", "cli:": "operator hubu "}


def label(labels: Mapping[str, str], code: str | None) -> str:
    """The label of a code, or the code itself when it has none (never an empty cell)."""
    if code is None:
        return ""
    return labels.get(code, code)


def coupon_status_pl(code: str) -> str:
    return label(COUPON_STATUS, code)


def statement_kind_pl(code: str) -> str:
    return label(STATEMENT_KIND, code)


def payment_method_pl(code: str) -> str:
    return label(PAYMENT_METHOD, code)


def role_pl(name: str) -> str:
    """A built-in role's Polish name; a custom role is called what its admin named it."""
    return label(ROLE, name)


def case_type_pl(code: str | None, names: Mapping[str, str]) -> str:
    """A case type by its fees.toml name ("Rejestracja nowego pojazdu"); a code no
    longer in fees.toml keeps its code, as the only thing known about it."""
    if code is None:
        return ""
    return names.get(code, code)


def person_pl(actor_name: str | None) -> str:
    """Who acted, as a person reads it: `user:anna@firma.pl` -> `anna@firma.pl`,
    `client:pojazd-1465` -> `system pojazd-1465`."""
    if not actor_name:
        return ""
    if actor_name in ACTOR:
        return ACTOR[actor_name]
    for prefix, said in ACTOR_PREFIX.items():
        if actor_name.startswith(prefix):
            return said + actor_name[len(prefix) :]
    return actor_name


def statement_title_pl(kind: str, coupon_id: str | None, reference: str) -> str:
    """The title of a statement entry: for a coupon's hold, capture or release, the
    coupon (the ledger's transfer id is the hub's bookkeeping, not the customer's)."""
    if coupon_id:
        return f"kupon {coupon_id}"
    return reference


# -- amounts, dates, plural forms --------------------------------------------------


def format_amount_pl(grosze: int) -> str:
    """123456 -> '1 234,56 zł' (non-breaking spaces, as Polish typesetting wants)."""
    return format_currency(Decimal(grosze) / 100, "PLN", locale=LOCALE)


def format_decimal_pl(grosze: int) -> str:
    """123456 -> '1234,56': a number a Polish spreadsheet reads (decimal comma, no
    thousands separator, no currency), for CSV cells."""
    return format_decimal(Decimal(grosze) / 100, format="0.00", locale=LOCALE)


def format_date_pl(day: date | None) -> str:
    return "" if day is None else format_date(day, "dd.MM.yyyy", locale=LOCALE)


def format_datetime_pl(at: datetime | None, *, seconds: bool = False) -> str:
    """An aware instant in Warsaw time: '10.03.2026 10:30'."""
    if at is None:
        return ""
    return format_datetime(at, "dd.MM.yyyy HH:mm:ss" if seconds else "dd.MM.yyyy HH:mm", tzinfo=WARSAW, locale=LOCALE)


def plural_pl(n: int, one: str, few: str, many: str) -> str:
    """The word for `n` things: plural_pl(1, 'kupon', 'kupony', 'kuponów') -> 'kupon';
    2 -> 'kupony'; 5, 12, 0 -> 'kuponów' (Babel's CLDR rule for Polish)."""
    form = LOCALE.plural_form(n)
    return {"one": one, "few": few}.get(form, many)


def amount_in_words_pl(grosze: int) -> str:
    """`323000` -> "trzy tysiące dwieście trzydzieści złotych 00/100", as written on a receipt (KP)."""
    if grosze < 0:
        raise ValueError(f"an amount in words is of a non-negative amount, got {grosze}")
    zloty, rest = divmod(grosze, 100)
    return f"{num2words(zloty, lang='pl')} {plural_pl(zloty, 'złoty', 'złote', 'złotych')} {rest:02d}/100"


def count_pl(n: int, one: str, few: str, many: str) -> str:
    """'1 kupon', '22 kupony', '1 000 kuponów'."""
    return f"{format_decimal(n, locale=LOCALE)} {plural_pl(n, one, few, many)}"


# -- domain errors ------------------------------------------------------------------

NOTHING_CHANGED = "Nic nie zostało zmienione."

# error code -> what a person is told, when the error names no more precise kind
ERROR_BY_CODE = {
    "NotAuthorized": "Nie masz uprawnień do tej operacji.",
    "NotFound": "Nie znaleziono: element nie istnieje albo nie należy do Twojej firmy lub urzędu.",
    "DayClosed": (
        "Dzień kasowy jest już zamknięty na tym stanowisku: wpłat z tego dnia nie można już przyjmować ani unieważniać."
    ),
    "IdempotencyConflict": (
        "Ten formularz został już wysłany z innymi danymi. Otwórz formularz ponownie i wyślij go jeszcze raz."
    ),
    "InvalidRequest": "Nieprawidłowe dane: sprawdź pola formularza.",
    "SchemaViolation": "Nieprawidłowe dane: sprawdź pola formularza.",
    "CouponNotRedeemable": "Tego kuponu nie można użyć.",
}
# error kind (hub.errors: `kind=`) -> the Polish sentence; {name} are the error's detail fields
ERROR_BY_KIND = {
    # CouponNotRedeemable: its contract Reason, in lower case
    "coupon_malformed": (
        "Numer kuponu jest błędny: ma 16 znaków (cyfry i litery bez I, L, O, U), np. ABCD-EFGH-JKMN-PQRS."
    ),
    "coupon_not_found": "Nie ma takiego kuponu.",
    "coupon_redeemed": "Kupon został już wykorzystany.",
    "coupon_cancelled": "Kupon został anulowany.",
    "coupon_expired": "Kupon wygasł.",
    "coupon_case_type_mismatch": "Kupon jest wydany na inny rodzaj sprawy.",
    "coupon_payer_mismatch": "Kupon należy do innej firmy.",
    "coupon_office_mismatch": "Kupon jest ważny tylko w innym urzędzie.",
    "coupon_not_issued": "Kupon nie jest już ważny: został wykorzystany, anulowany albo wygasł.",
    "password_length": "Hasło musi mieć od {min} do {max} znaków.",
    "password_same": "Nowe hasło musi być inne niż dotychczasowe.",
    "password_wrong": "Obecne hasło jest błędne.",
    "login_invalid": (
        "Login może mieć od 2 do {max} znaków: małe litery a–z, cyfry i . _ @ + -; zaczyna się literą lub cyfrą."
    ),
    "login_taken": "Ten login jest już zajęty.",
    "role_name_invalid": (
        "Nazwa roli może mieć od 2 do {max} znaków: małe litery a–z, cyfry, _ i -; zaczyna się literą."
    ),
    "role_taken": "Rola o tej nazwie już istnieje.",
    "role_built_in": "To nazwa roli wbudowanej: wybierz inną.",
    "role_unknown": "Nie ma takiej roli.",
    "role_last": "To ostatnia rola użytkownika; zamiast ją odbierać, dezaktywuj konto.",
    "permission_not_held": "Nie możesz nadać ani odebrać uprawnień, których sam nie masz.",
    "totp_wrong": "Kod z aplikacji jest błędny albo już wygasł.",
    "totp_not_enrolled": "Najpierw włącz weryfikację dwuetapową.",
    "totp_enrolled": "Weryfikacja dwuetapowa jest już włączona.",
    "count_range": "Liczba kuponów musi wynosić od 1 do {max}.",
    "days_range": "Data początkowa nie może być późniejsza niż końcowa.",
    "statement_too_long": "Wyciąg obejmuje najwyżej {max} dni: podziel okres na części.",
    "reference_invalid": "Numer referencyjny firmy może mieć najwyżej {max} znaków, bez znaków sterujących.",
    "search_empty": "Wpisz numer kuponu, partii, znak sprawy albo numer referencyjny.",
    "search_too_long": "Wyszukiwany tekst może mieć najwyżej {max} znaków.",
    "pdf_rows_max": "Raport PDF mieści najwyżej {max} wierszy: zawęź okres albo pobierz CSV.",
}


def error_pl(code: str, kind: str | None = None, facts: Mapping[str, object] | None = None) -> str:
    """The Polish sentence for a domain error with this code and kind (never its
    English message). `facts` fill the sentence's {placeholders}."""
    text = ERROR_BY_KIND.get(kind or "") or ERROR_BY_CODE.get(code) or "Operacja nie powiodła się."
    try:
        return text.format(**(facts or {}))
    except (KeyError, IndexError):  # a sentence whose fact the error did not carry: the general one
        return ERROR_BY_CODE.get(code) or "Operacja nie powiodła się."


# -- the portal's form messages ------------------------------------------------------

# WTForms' own messages (its English ids) as the portal says them. WTForms' Polish
# catalogue has clumsy ("z zakresu 1 i 1000") and untranslated ones; these replace it.
FORM_MESSAGES = {
    "This field is required.": "To pole jest wymagane.",
    "Invalid input.": "Nieprawidłowa wartość.",
    "Number must be between %(min)s and %(max)s.": "Wpisz liczbę od %(min)s do %(max)s.",
    "Number must be at least %(min)s.": "Wpisz liczbę nie mniejszą niż %(min)s.",
    "Number must be at most %(max)s.": "Wpisz liczbę nie większą niż %(max)s.",
    "Field must be between %(min)d and %(max)d characters long.": "Wpisz od %(min)d do %(max)d znaków.",
    "Field must be equal to %(other_name)s.": "Wartości muszą być takie same.",
    "Not a valid date value.": "Wpisz datę w postaci dzień.miesiąc.rok.",
    "Not a valid datetime value.": "Wpisz datę i godzinę.",
    "Not a valid integer value.": "Wpisz liczbę całkowitą.",
    "Not a valid decimal value.": "Wpisz liczbę.",
    "Not a valid float value.": "Wpisz liczbę.",
    "Not a valid choice.": "Wybierz jedną z pozycji listy.",
    "Invalid Choice: could not coerce.": "Wybierz jedną z pozycji listy.",
    "Invalid value, must be one of: %(values)s.": "Wybierz jedną z wartości: %(values)s.",
    "Invalid value, can't be any of: %(values)s.": "Ta wartość jest niedozwolona.",
    "Invalid email address.": "Wpisz poprawny adres e-mail.",
    "Invalid URL.": "Wpisz poprawny adres internetowy.",
    "Invalid UUID.": "Nieprawidłowy identyfikator.",
}
# the plural ones: English singular id -> Polish (one, few, many), chosen by plural_pl
FORM_PLURAL_MESSAGES = {
    "Field must be at least %(min)d character long.": (
        "Wpisz co najmniej %(min)d znak.",
        "Wpisz co najmniej %(min)d znaki.",
        "Wpisz co najmniej %(min)d znaków.",
    ),
    "Field cannot be longer than %(max)d character.": (
        "Wpisz najwyżej %(max)d znak.",
        "Wpisz najwyżej %(max)d znaki.",
        "Wpisz najwyżej %(max)d znaków.",
    ),
    "Field must be exactly %(max)d character long.": (
        "Wpisz dokładnie %(max)d znak.",
        "Wpisz dokładnie %(max)d znaki.",
        "Wpisz dokładnie %(max)d znaków.",
    ),
    "'%(value)s' is not a valid choice for this field.": ("Wybierz pozycję z listy.",) * 3,
}


class FormMessages:
    """WTForms' translations interface (gettext, ngettext) over FORM_MESSAGES; a
    message not listed there comes from `fallback` (WTForms' own catalogue)."""

    def __init__(self, fallback) -> None:
        self.fallback = fallback

    def gettext(self, string: str) -> str:
        return FORM_MESSAGES.get(string) or self.fallback.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        forms = FORM_PLURAL_MESSAGES.get(singular)
        if forms is None:
            return self.fallback.ngettext(singular, plural, n)
        return plural_pl(n, *forms)

"""The portal's own words, in Polish: the sentences its pages, forms and flashes say.

The names of the domain's things (statuses, methods, systems, roles), amounts,
dates and plurals are the kernel's (`hub.words`), shared with receipts, reports and
e-mails; this module holds what only the portal says, so a page's wording is changed
in one place and a translator finds every sentence here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from hub import access
from hub.cashdesk.models import CARD, CASH
from hub.errors import HubError, InsufficientFunds
from hub.words import NOTHING_CHANGED, count_pl, error_pl, format_amount_pl, role_pl


def polish(error: HubError) -> str:
    """A domain error as a person at the portal reads it: the Polish sentence hub.words
    has for its code and kind, with the facts it carries. The English sentence is
    never shown here: it stays in the log and the audit trail."""
    if isinstance(error, InsufficientFunds):
        return (
            f"Za mało środków na koncie: dostępne {format_amount_pl(error.available_grosze)}, "
            f"potrzeba {format_amount_pl(error.required_grosze)}. Nic nie zostało zablokowane ani wydane. "
            "Zasil konto przelewem na rachunek wirtualny firmy (Pulpit) albo zmniejsz liczbę kuponów."
        )
    return f"{error_pl(error.code, error.kind, error.facts)} {NOTHING_CHANGED}"


# -- the cash desk ---------------------------------------------------------------------


def card_auth_problem(method: str, code: str | None) -> str:
    """Why hub.cashdesk refused this card authorization code, said to the cashier."""
    code = (code or "").strip()
    if method == CARD and not code:
        return "Przy płatności kartą wpisz kod autoryzacji z terminala."
    if method == CASH and code:
        return "Kod autoryzacji dotyczy tylko płatności kartą; usuń go."
    return "Kod autoryzacji to od 1 do 32 liter, cyfr lub myślników."


NO_FEE_CHOSEN = "Wybierz co najmniej jedną opłatę (liczba większa od zera)."
SUPERVISOR_NEEDED = "Unieważnienie zatwierdza kierownik: wpisz jego login i hasło."
SUPERVISOR_REFUSED = "Nie udało się potwierdzić kierownika: błędny login lub hasło albo konto zablokowane."
NOT_AN_AMOUNT_COUNTED = "Wpisz kwotę w złotych, np. 1234,50."
DAY_NOT_YET = "Tego dnia jeszcze nie ma: zamknąć można dzień dzisiejszy albo wcześniejszy."
CLOSE_FORM_INCOMPLETE = "Formularz zamknięcia jest niepełny; policz gotówkę i spróbuj ponownie."


def too_many_fees(count_max: int) -> str:
    return f"Jedna wpłata obejmuje najwyżej {count_max} opłat."


def desk_closed(day: date, desk_id: str, report_id: str) -> str:
    return (
        f"Dzień kasowy {day:%d.%m.%Y} stanowiska {desk_id} jest zamknięty (raport {report_id}): "
        "stanowisko nie przyjmie już wpłat z tego dnia. Wybierz inne stanowisko."
    )


def payment_taken(receipt_number: str, total_grosze: int) -> str:
    return f"Przyjęto wpłatę {receipt_number} na kwotę {format_amount_pl(total_grosze)}. Wydrukuj potwierdzenie."


def payment_voided(supervisor: str) -> str:
    return f"Wpłatę unieważnił(a) {supervisor}."


def late_day_needs_consent(day: date) -> str:
    return f"Dzień {day:%d.%m.%Y} jest sprzed ponad jednego dnia: zaznacz potwierdzenie, aby go zamknąć."


def day_closed(day: date, desk_id: str, report_id: str, difference_grosze: int) -> str:
    note = f" Różnica w kasie: {format_amount_pl(difference_grosze)}." if difference_grosze else ""
    return f"Zamknięto dzień {day:%d.%m.%Y} stanowiska {desk_id}: raport {report_id}.{note}"


# -- the company area --------------------------------------------------------------------

NOT_AN_AMOUNT_TOPUP = "Wpisz kwotę w złotych, np. 500,00."
TO_BEFORE_FROM = "Data „do” nie może być wcześniejsza niż data „od”."


def qr_amount_too_large(amount_max_grosze: int) -> str:
    return f"Kod QR mieści kwotę do {format_amount_pl(amount_max_grosze)}; większą wpisz w aplikacji banku."


def coupon_count_range(count_max: int) -> str:
    return f"Liczba kuponów musi wynosić od 1 do {count_max}."


def coupons_issued(count: int, held_grosze: int) -> str:
    return (
        f"Wydano {count_pl(count, 'kupon', 'kupony', 'kuponów')}, "
        f"zablokowano {format_amount_pl(held_grosze)}. Pobierz PDF do wydruku."
    )


def coupon_cancelled(coupon_id: str, released_grosze: int) -> str:
    return f"Kupon {coupon_id} anulowano; zwolniono {format_amount_pl(released_grosze)}."


# -- logging in, one's account, users and roles -----------------------------------------

LOGIN_REFUSED = (
    "Nie udało się zalogować: błędny login lub hasło, albo konto jest zablokowane. "
    "Po kilku błędnych próbach kolejne są możliwe dopiero po chwili."
)
SESSION_EXPIRED = "Sesja wygasła. Zaloguj się ponownie."
LOGGED_OUT = "Wylogowano."
LOG_IN_AGAIN = "Zaloguj się ponownie."
CODE_REFUSED = (
    "Kod jest błędny, już użyty albo wygasł. Po kilku błędnych próbach konto jest blokowane jak po błędnych hasłach."
)
CURRENT_PASSWORD_REFUSED = (
    "Obecne hasło jest błędne albo było zbyt wiele nieudanych prób: "
    "spróbuj ponownie za chwilę. Nic nie zostało zmienione."
)
PASSWORD_CHANGED = "Hasło zostało zmienione."
CHOOSE_ROLE = "Wybierz rolę do nadania."
NO_ROLE = "Nie wskazano roli."
BAD_FORM = "Nieprawidłowy formularz."


def login_delayed(wait_s: int) -> str:
    return f"Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za {wait_s} s."


def password_length(chars_min: int, chars_max: int) -> str:
    return f"Hasło musi mieć od {chars_min} do {chars_max} znaków."


def role_created(name: str, permission_names: Iterable[str]) -> str:
    return f"Utworzono rolę {name}: {', '.join(permission_names)}."


def role_granted(role: str, login: str) -> str:
    return f"Nadano rolę {role_pl(role)} użytkownikowi {login}."


def role_revoked(role: str, login: str) -> str:
    return f"Odebrano rolę {role_pl(role)} użytkownikowi {login}."


def account_unlocked(login: str) -> str:
    return f"Odblokowano konto {login}."


def account_locked(login: str) -> str:
    return f"Zablokowano konto {login}: nie zaloguje się, dopóki ktoś go nie odblokuje."


# -- every form ------------------------------------------------------------------------

NOT_DIGITS = "Wpisz liczbę cyframi 0-9."
NOT_A_DAY = "Wpisz dzień w postaci RRRR-MM-DD, np. 2026-03-10."


def day_out_of_range(first: date, last: date) -> str:
    return f"Podaj dzień od {first} do {last}."


# -- labels, prompts and the menu -------------------------------------------------------


class Label:
    """Form fields' labels and the choices they offer."""

    CODE_OR_RECOVERY = "Kod z aplikacji albo kod zapasowy"
    CURRENT_PASSWORD = "Obecne hasło"
    NEW_PASSWORD = "Nowe hasło"
    REPEAT_PASSWORD = "Powtórz nowe hasło"
    APP_CODE = "Kod z aplikacji (6 cyfr)"
    LOGIN = "Login"
    PASSWORD = "Hasło"
    DESK = "Stanowisko kasowe"
    SYSTEM = "System"
    CASE_NUMBER = "Znak sprawy"
    METHOD = "Forma płatności"
    CARD_AUTH_CODE = "Kod autoryzacji karty"
    PAYER_NAME = "Wpłacający (imię i nazwisko lub nazwa)"
    PAYER_ADDRESS = "Adres wpłacającego"
    VOID_REASON = "Powód unieważnienia"
    SUPERVISOR_LOGIN = "Login kierownika"
    SUPERVISOR_PASSWORD = "Hasło kierownika"
    DAY = "Dzień"
    COUNTED_CASH = "Gotówka policzona w kasie (zł)"
    LATE_CLOSE_CONSENT = (
        "Potwierdzam zamknięcie dnia sprzed ponad jednego dnia (zostanie odnotowane w dzienniku zdarzeń)."
    )
    CASE_TYPE = "Rodzaj sprawy"
    COUPON_COUNT = "Liczba kuponów"
    VALID_AT_OFFICE = "Ważne w urzędzie"
    BATCH_REFERENCE = "Numer referencyjny firmy (opcjonalnie)"
    ANY_OFFICE = "w każdym urzędzie"
    ANY = "każdy"
    STATUS = "Status"
    ISSUED_FROM = "Wydane od"
    ISSUED_TO = "Wydane do"
    COUPON_SEARCH = "Szukaj: numer kuponu, partii, znak sprawy lub numer referencyjny"
    DATE_FROM = "Od dnia"
    DATE_TO = "Do dnia"
    ORDER = "Kolejność"
    NEWEST_FIRST = "od najnowszych"
    OLDEST_FIRST = "od najstarszych"
    COUPON_STATUS = "Status kuponu"
    OFFICE = "Urząd"
    NEW_LOGIN = "Login nowego użytkownika"
    ROLE = "Rola"
    NEW_USER_PASSWORD = "Hasło (puste: wygeneruj)"
    ROLE_NAME = "Nazwa roli"
    PERMISSIONS = "Uprawnienia"
    ROLE_TO_GRANT = "Rola do nadania"
    CUSTOM_ROLE = " (własna)"
    TOPUP_QR = "Kod QR przelewu zasilającego konto firmy"
    ENROL_QR = "Kod QR do zeskanowania w aplikacji uwierzytelniającej"


class Ask:
    """What a form asks for when a field is missing or wrong."""

    CODE = "Wpisz kod."
    CURRENT_PASSWORD = "Wpisz obecne hasło."
    NEW_PASSWORD = "Wpisz nowe hasło."
    REPEAT_PASSWORD = "Powtórz nowe hasło."
    PASSWORDS_DIFFER = "Hasła się różnią."
    APP_CODE = "Wpisz kod z aplikacji."
    LOGIN = "Wpisz login."
    PASSWORD = "Wpisz hasło."
    COUPON_COUNT = "Wpisz liczbę kuponów."
    LOGIN_LENGTH = "Login musi mieć od 3 do 100 znaków."
    ROLE = "Wybierz rolę."
    ROLE_NAME = "Wpisz nazwę roli."
    ROLE_NAME_LENGTH = "Nazwa roli musi mieć od 2 do 40 znaków."
    PERMISSION = "Wybierz co najmniej jedno uprawnienie."


class Menu:
    """The menu's entries."""

    DASHBOARD = "Pulpit"
    ISSUE = "Wydaj kupony"
    BATCHES = "Partie"
    COUPONS = "Kupony"
    STATEMENT = "Wyciąg"
    NEW_PAYMENT = "Nowa wpłata"
    PAYMENTS = "Wpłaty dnia"
    CLOSE_DAY = "Zamknięcie dnia"
    CASH_REPORT = "Raport kasowy"
    REPORTS = "Raporty"
    USERS = "Użytkownicy i role"
    ACCOUNT = "Moje konto"


def desk_label(desk_id: str) -> str:
    return f"stanowisko {desk_id}"


# -- error pages, reports, permissions ---------------------------------------------------

PORTAL_OFF = "Portal jest wyłączony: dodaj sekcję [portal] do hub.toml (secret_key_file).\n"
RECIPIENT = "Hub opłat urzędowych"  # the escrow account's holder as a banking app shows it (20 characters at most)


class ErrorPage:
    """An error page's title and text."""

    FAILED = "Nie udało się"
    RESTORING = (
        "Hub jest w trakcie odtwarzania",
        "Baza danych hubu została odtworzona z kopii zapasowej i jest uzupełniana. "
        "Do tego czasu hub nie przyjmuje zmian; nic nie zostało zmienione. "
        "Spróbuj ponownie za kilka minut.",
    )
    CSRF_REFUSED = (
        "Formularz odrzucony",
        "Formularz wygasł albo nie pochodzi z tej strony (brak ważnego tokenu CSRF). "
        "Nic nie zostało zmienione. Wróć, odśwież stronę i spróbuj ponownie.",
    )
    SERVER = (
        "Błąd hubu",
        "Wystąpił błąd po stronie hubu. Operacja mogła się nie udać: "
        "sprawdź jej wynik, zanim ją powtórzysz, "
        "a jeśli błąd się powtarza, zgłoś go administratorowi.",
    )
    FORBIDDEN = ("Brak uprawnień", "Nie masz uprawnień do tej operacji. Nic nie zostało zmienione.")
    NOT_FOUND = ("Nie znaleziono", "Nie ma takiego elementu albo nie należy on do Twojej firmy lub urzędu.")
    NO_PAGE = ("Nie znaleziono", "Nie ma takiej strony.")
    TOO_LARGE = ("Za duży formularz", "Formularz jest za duży.")


# name -> (title, what it is); which of them a user sees is hub.portal.reports'
REPORTS = {
    "coupons": (
        "Rejestr kuponów",
        "Każdy kupon firmy z sumami według statusu, rodzaju sprawy, wystawiającego i urzędu.",
    ),
    "redemptions": ("Wykorzystanie kuponów", "Kupony wykorzystane w urzędach dzień po dniu, z wykresem."),
    "statement": ("Wyciąg z rachunku", "Saldo dostępne na początek i koniec okresu oraz każda operacja."),
}

PERMISSION_NAMES = {
    access.COUPONS_ISSUE: "wydawanie kuponów",
    access.COUPONS_CANCEL: "anulowanie kuponów",
    access.COUPONS_READ: "przeglądanie kuponów i partii",
    access.STATEMENT_READ: "wyciąg z rachunku",
    access.REPORTS_READ: "raporty",
    access.USERS_MANAGE: "użytkownicy i role",
    access.PAYMENTS_REGISTER: "przyjmowanie wpłat",
    access.PAYMENTS_READ: "przeglądanie wpłat",
    access.PAYMENTS_VOID: "unieważnianie wpłat",
    access.DESK_CLOSE: "zamykanie dnia kasowego",
}


def chart_empty(title: str) -> str:
    return f"{title}: brak danych"


def chart_summary(title: str, values: Sequence[int]) -> str:
    return f"{title}: {len(values)} słupków, razem {sum(values)}, najwięcej {max(values)}"

"""The hub's config: four TOML files in one directory, read once per process.

`load_config(dir)` reads `hub.toml`, `offices.toml`, `clients.toml` and
`fees.toml` (contract section 8) and returns a frozen `HubConfig`; callers pass
that object around, there is no global config. It either returns a config in
which every rule below holds, or raises `ConfigProblems` (a `ConfigError`) that
lists every problem found, one line each, naming file, entry and field:

    offices.toml: office[1] (code 1261): card_fee: 3 decimal places in 1.005; amounts are PLN to the grosz

One class per section or entry (`CouponSettings`, `Office`, `Fee`, ...), a frozen pydantic
dataclass: its field checks and conversions (PLN to grosze, paths made absolute, certificates
read) run while `load_config` reads the TOML, strictly (TOML already says what is a string
and what is a number). Built in code, the same class is just data: `Office(card_fee_grosze=150)`
in a test is never re-interpreted as PLN, and `dataclasses.replace` works on it.

Amounts: TOML floats are read as `Decimal` (`parse_float=Decimal`), so `54.00`
and `"54.00"` are both exact; anything written with a third decimal place is
refused, and inside the hub every amount is `int` grosze (`*_grosze`).
Relative paths are relative to the config directory.
"""

from __future__ import annotations

import inspect
import ipaddress
import re
import tomllib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Generic, Literal, NoReturn, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs, PydanticCustomError

from hub.clock import parse_day
from hub.config_keys import key_lines, unknown_keys
from hub.errors import ConfigProblems, InvalidRequest
from hub.fees import FeeSchedule
from hub.ids import ascii_digits, iban_valid, nip_valid, normalize_account, nrb_valid
from hub.money import parse_grosze
from hub.signing.keys import NotASigningKey, private_key_from_pem

HUB_FILE = "hub.toml"
OFFICES_FILE = "offices.toml"
CLIENTS_FILE = "clients.toml"
FEES_FILE = "fees.toml"
CONFIG_FILES = (HUB_FILE, OFFICES_FILE, CLIENTS_FILE, FEES_FILE)

DEFAULT_DATABASE_URL = "sqlite:///var/hub.sqlite3"

ClientKind = Literal["POJAZD", "KIEROWCA", "WORD", "CASHDESK", "COMPANY", "BANK"]
CLIENT_KINDS: tuple[ClientKind, ...] = ("POJAZD", "KIEROWCA", "WORD", "CASHDESK", "COMPANY", "BANK")
OFFICE_CLIENT_KINDS: frozenset[ClientKind] = frozenset({"POJAZD", "KIEROWCA", "WORD", "CASHDESK"})
System = Literal["POJAZD", "KIEROWCA", "WORD"]
SYSTEMS: tuple[System, ...] = ("POJAZD", "KIEROWCA", "WORD")

# The contract fixes IssueCoupons' Count to 1..1000; config may only lower it.
BATCH_COUNT_LIMIT = 1000
CLIENT_CERTS_MAX = 2  # a client's pinned certificates: its current one and, during a rotation, the next
PORTAL_SECRET_BYTES_MIN = 32
DAYS_MAX = 36_500  # every day count in config (validity, retention, warnings): at most 100 years


# --------------------------------------------------------------------------------------------
# Field checks. Each raises one custom pydantic error whose message is the whole problem.
# --------------------------------------------------------------------------------------------

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_SQLITE_FILE_URL = re.compile(r"^(?P<scheme>sqlite(?:\+\w+)?):///(?P<path>[^?]*)(?P<query>\?.*)?$")
_OFFICE_CODE = re.compile(r"^[0-9]{4}$")  # [0-9], not \d: \d takes every Unicode digit
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DESK_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_PLAIN_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_COMMA_SPACES = re.compile(r"\s*(?<!\\),\s*")
_TOML_POSITION = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$", re.DOTALL)
_TOML_END = re.compile(r"^(?P<message>.*) \(at end of document\)$", re.DOTALL)


def _fail(problem: str) -> NoReturn:
    # The template is only "{problem}", so braces inside the problem text stay as they are.
    raise PydanticCustomError("hub_config", "{problem}", {"problem": problem})


def _shown(value: object) -> str:
    """A value the way it looks in a TOML file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def _config_dir(info: ValidationInfo) -> Path:
    context: dict[str, Path] = info.context or {}
    return context["config_dir"]


def _expect_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        _fail(f"expected a string ({what}), got {_shown(value)}")
    return value


def _path(value: object, info: ValidationInfo) -> Path:
    # A default is already a Path; the TOML gives a string.
    relative = value if isinstance(value, Path) else _expect_str(value, "a path")
    return (_config_dir(info) / relative).resolve()


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        _fail(f"no such file: {path}")
    return path


def _existing_dir(path: Path) -> Path:
    if not path.is_dir():
        _fail(f"no such directory: {path}")
    return path


def _pem_certificates(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        _fail(f"not a PEM certificate: {path}")


def _pem_certificate(path: Path) -> Path:
    _pem_certificates(_existing_file(path))
    return path


def _pem_ca_certificate(path: Path) -> Path:
    for cert in _pem_certificates(_existing_file(path)):
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            _fail(f"not a CA certificate (basicConstraints CA:TRUE missing): {path}")
    return path


def _secret_key(path: Path) -> Path:
    if len(_existing_file(path).read_bytes()) < PORTAL_SECRET_BYTES_MIN:
        _fail(
            f"a secret key needs at least {PORTAL_SECRET_BYTES_MIN} random bytes: {path} "
            "(make one with `hub portal keygen`)"
        )
    return path


def _pem_private_key(path: Path) -> Path:
    try:
        private_key_from_pem(_existing_file(path).read_bytes())
    except TypeError:
        _fail(f"encrypted private key; the hub needs it unencrypted: {path}")
    except NotASigningKey as exc:
        _fail(f"{exc}: {path}")
    except ValueError:
        _fail(f"not a PEM private key: {path}")
    return path


def _url_or_path(value: str, info: ValidationInfo) -> str:
    if _URL.match(value):
        return value
    return str((_config_dir(info) / value).resolve())


def _database_url(value: str, info: ValidationInfo) -> str:
    if not _URL.match(value):
        _fail(f"expected a database URL such as {DEFAULT_DATABASE_URL}, got {_shown(value)}")
    sqlite = _SQLITE_FILE_URL.match(value)
    if sqlite is None or sqlite["path"] in ("", ":memory:") or sqlite["path"].startswith("/"):
        return value
    path = (_config_dir(info) / sqlite["path"]).resolve()
    return f"{sqlite['scheme']}:///{path}{sqlite['query'] or ''}"


def _amount_grosze(value: object) -> int:
    """A TOML number (Decimal or int) or string -> grosze; a third decimal place is refused,
    even a zero one, so that `54.000` and `"54.000"` are treated alike."""
    if isinstance(value, str) and _PLAIN_DECIMAL.match(value.strip()):
        amount = Decimal(value.strip())
    elif isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        amount = Decimal(value)
    else:
        _fail(f"expected an amount in PLN such as 54.00, got {_shown(value)}")
    if not amount.is_finite():
        _fail(f"expected an amount in PLN such as 54.00, got {amount}")
    exponent = amount.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > 2:
        _fail(f"{places} decimal places in {amount}; amounts are PLN to the grosz")
    if amount < 0:
        _fail(f"negative amount {amount}; amounts are at least 0.00")
    return parse_grosze(amount)


def _date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_day(value)
        except ValueError:
            pass
    _fail(f"expected a date such as 2026-07-01, got {_shown(value)}")


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.match(value):
            _fail(f"expected {what}, got {_shown(value)}")
        return value

    return check


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            _fail(f"expected one of {', '.join(choices)}, got {_shown(value)}")
        return value

    return check


def _not_blank(value: str) -> str:
    if not value.strip():
        _fail("must not be empty")
    return value


def _currency_code(value: str) -> str:
    # The escrow account's currency (ISO 4217). Amounts inside the hub are integers in its
    # minor unit (grosze for PLN, the production setting); a statement in any other currency
    # is refused, never converted.
    if not re.fullmatch(r"[A-Z]{3}", value):
        _fail(f"expected a three-letter ISO 4217 currency code such as PLN, got {_shown(value)}")
    return value


def _nrb(value: str) -> str:
    nrb = normalize_account(value)
    if len(nrb) != 26 or not ascii_digits(nrb):
        _fail(f"expected a 26-digit NRB, got {_shown(value)}")
    if not nrb_valid(nrb):
        _fail(f"NRB checksum does not match in {_shown(value)}; check for a mistyped digit")
    return nrb


def _escrow_account(value: str) -> str:
    account = normalize_account(value)
    if ascii_digits(account):
        return _nrb(value)
    if not iban_valid(account):
        _fail(f"expected a 26-digit NRB or an IBAN with a valid checksum, got {_shown(value)}")
    return account


def _nip(value: str) -> str:
    nip = value.replace("-", "").replace(" ", "")
    if len(nip) != 10 or not ascii_digits(nip):
        _fail(f"expected a 10-digit NIP, got {_shown(value)}")
    if not nip_valid(nip):
        _fail(f"NIP check digit does not match in {_shown(value)}; check for a mistyped digit")
    return nip


def _ip_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        hint = ""
        if "host bits set" in str(error):
            hint = f"; did you mean {ipaddress.ip_network(value, strict=False)}?"
        _fail(f'expected a network such as "10.20.0.0/16" or "fd00::/8", got {_shown(value)}{hint}')


def _distinguished_name(value: str) -> str:
    # Admins write "CN=x, O=y"; RFC 4514 has no space after the comma. Escaped commas stay.
    try:
        name = x509.Name.from_rfc4514_string(_COMMA_SPACES.sub(",", value.strip()))
    except ValueError:
        _fail(f'not an RFC 4514 distinguished name such as "CN=pojazd,O=Ministry,C=PL": {_shown(value)}')
    if len(name) == 0:
        _fail("must not be empty")
    return name.rfc4514_string()


def _certificate_files(value: object, info: ValidationInfo) -> tuple[Path, ...]:
    """`cert`: one path, or during a key rotation a list of two (the current and the next)."""
    paths = [value] if isinstance(value, str) else value
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        _fail(f'expected a path or a list of paths such as ["keys/old.crt", "keys/new.crt"], got {_shown(value)}')
    if not 1 <= len(paths) <= CLIENT_CERTS_MAX:
        _fail(f"list one certificate, or two during a key rotation (the current and the next), got {len(paths)}")
    files = tuple(_pem_certificate(_path(p, info)) for p in paths)
    if len({_fingerprint(f) for f in files}) != len(files):
        _fail(f"the same certificate is listed twice in {_shown(value)}")
    return files


def _toml_list(value: object) -> tuple[object, ...]:
    # TOML has arrays; the settings keep tuples (frozen all the way down).
    if not isinstance(value, list):
        _fail(f"expected a list, got {_shown(value)}")
    return tuple(value)


def _text_one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    one_of = _one_of(choices)

    def check(value: object) -> str:
        if not isinstance(value, str):
            _fail(f"expected a string, got {_shown(value)}")
        return one_of(value)

    return check


def _network_text(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(value, str):
        _fail(f"expected a string, got {_shown(value)}")
    return _ip_network(value)


def _reading_toml(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and "config_dir" in info.context


def _toml(check: Callable[..., Any]) -> Callable[[Any, ValidationInfo], Any]:
    """`check` (of the value, or of the value and the validation info) while `load_config`
    reads TOML. Settings built in code (a test's `Office(card_fee_grosze=150)`) are data as
    they are: never re-read as PLN, never resolved against a config directory."""
    with_info = len(inspect.signature(check).parameters) == 2

    def run(value: Any, info: ValidationInfo) -> Any:
        if not _reading_toml(info):
            return value
        return check(value, info) if with_info else check(value)

    return run


def _before(check: Callable[..., Any]) -> BeforeValidator:
    return BeforeValidator(_toml(check))


def _after(check: Callable[..., Any]) -> AfterValidator:
    return AfterValidator(_toml(check))


_File = Annotated[Path, _before(_path), _after(_existing_file)]
_CertificateFile = Annotated[Path, _before(_path), _after(_pem_certificate)]
_CaCertificateFile = Annotated[Path, _before(_path), _after(_pem_ca_certificate)]
_PrivateKeyFile = Annotated[Path, _before(_path), _after(_pem_private_key)]
_SecretKeyFile = Annotated[Path, _before(_path), _after(_secret_key)]
_Directory = Annotated[Path, _before(_path), _after(_existing_dir)]
_ConfigPath = Annotated[Path, _before(_path)]
_UrlOrPath = Annotated[str, _after(_not_blank), _after(_url_or_path)]
_Url = Annotated[str, _after(_matching(_URL, 'a URL such as "http://127.0.0.1:8081/soap/bank"'))]
_DatabaseUrl = Annotated[str, _after(_database_url)]
_Amount = Annotated[int, _before(_amount_grosze)]
_FeeDate = Annotated[date, _before(_date)]
_Text = Annotated[str, _after(_not_blank)]
_Nrb = Annotated[str, _after(_nrb)]
_EscrowAccount = Annotated[str, _after(_escrow_account)]
_Nip = Annotated[str, _after(_nip)]
_DistinguishedName = Annotated[str, _after(_distinguished_name)]
_OfficeCode = Annotated[str, _after(_matching(_OFFICE_CODE, '4 digits (a TERYT powiat code such as "1465")'))]
_Code = Annotated[str, _after(_matching(_CODE, 'upper-case letters, digits and _ such as "REJ_NEW"'))]
_ClientId = Annotated[str, _after(_matching(_CLIENT_ID, 'letters, digits, ".", "_" and "-" such as "pojazd-1465"'))]
_DeskId = Annotated[str, _after(_matching(_DESK_ID, 'letters, digits, "_" and "-" such as "01"'))]
_Network = Annotated[ipaddress.IPv4Network | ipaddress.IPv6Network, _before(_network_text)]
_PositiveInt = Annotated[int, Field(gt=0)]
_Days = Annotated[int, Field(gt=0, le=DAYS_MAX)]  # a day count far beyond it overflows date arithmetic
_Seconds = Annotated[int, Field(gt=0, le=300)]
_Currency = Annotated[str, _after(_currency_code)]
_T = TypeVar("_T")
_Tuple = Annotated[tuple[_T, ...], _before(_toml_list)]


# --------------------------------------------------------------------------------------------
# What the hub sees, one class per section or entry: frozen, money in grosze, paths absolute.
# `load_config` builds them from the TOML (by TOML key, strictly: a string where an integer
# belongs is an error, not coerced); unknown sections and keys are problems with their line
# (`_unknown_keys`), so `extra="forbid"` only ever refuses a typo made in code.
# --------------------------------------------------------------------------------------------

_SETTINGS = ConfigDict(strict=True, extra="forbid", validate_by_name=True, validate_by_alias=True)


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class DatabaseSettings:
    """`[database]`. A relative sqlite path is already made absolute (relative to the config dir)."""

    url: _DatabaseUrl = Field(default=DEFAULT_DATABASE_URL, validate_default=True)


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class SigningSettings:
    """`[signing]`: the hub's own key and certificate, both PEM, checked to belong together."""

    key: _PrivateKeyFile
    cert: _CertificateFile


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class SecuritySettings:
    """`[security]`: WS-Security limits, safe by default."""

    clock_skew_s: _PositiveInt = 300
    replay_window_s: _PositiveInt = 900
    request_bytes_max: _PositiveInt = 1_000_000
    xml_depth_max: _PositiveInt = 100
    request_body_timeout_s: _Seconds = 10  # a SOAP request's body must arrive within this


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class CouponSettings:
    """`[coupons]`."""

    validity_days: _Days = 90
    batch_count_max: Annotated[int, Field(gt=0, le=BATCH_COUNT_LIMIT)] = BATCH_COUNT_LIMIT


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class BankSettings:
    """`[bank]`. `wsdl` is a URL, or an absolute path; `endpoint` (optional) overrides the
    service address written in the WSDL. `escrow_account` is a 26-digit NRB or a compact IBAN."""

    wsdl: _UrlOrPath
    escrow_account: _EscrowAccount
    currency: _Currency = "PLN"
    statement_xsd_dir: _Directory | None = None
    endpoint: _Url | None = None


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class SettlementSettings:
    """`[settlement]`."""

    reversal_window_h: Annotated[int, Field(gt=0, le=DAYS_MAX * 24)] = 72


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class PortalSettings:
    """`[portal]` (optional: without it `hub serve` serves no portal). The session cookie
    is signed with the key in `secret_key_file` (random bytes, `hub portal keygen`);
    `cookie_secure` off only for plain-http tests and the demo on 127.0.0.1."""

    secret_key_file: _SecretKeyFile
    cookie_secure: bool = True
    session_idle_s: _PositiveInt = 1800  # signed out after this long without a request
    session_max_s: _PositiveInt = 43200  # and after this long in any case


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class AuditSettings:
    """`[audit]` (optional): the message log's archives. `hub audit archive` moves records
    older than `retention_days` (or `--before`) into signed files in `archive_dir`;
    `archive_certs` are earlier hub certificates whose archive signatures stay trusted
    after a key rotation (the current `[signing] cert` always is). The hub seals the log's
    head (signs it) every `seal_every_records` records or `seal_every_s` seconds, whichever
    comes first (hub.audit.seals). With `tsa_url`, `hub audit seal` has the newest seal
    time-stamped by that RFC 3161 TSA, whose tokens must be signed by one of `tsa_certs`
    (hub.audit.timestamps)."""

    archive_dir: _ConfigPath = Field(default=Path("var/message-log-archive"), validate_default=True)
    retention_days: _Days | None = None
    archive_certs: _Tuple[_CertificateFile] = ()
    seal_every_records: Annotated[int, Field(gt=0, le=100_000)] = 100
    seal_every_s: Annotated[int, Field(gt=0, le=86_400)] = 60
    tsa_url: _Url | None = None
    tsa_certs: _Tuple[_CertificateFile] = ()
    tsa_timeout_s: _Seconds = 10


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class NotifySettings:
    """`[notify]` (optional): how companies are warned (low balance, coupons about to
    expire): e-mail through `smtp_host`, and signed webhooks. The SMTP password, if any,
    is read from `smtp_password_file` when a message is sent, never kept in hub.toml."""

    smtp_host: _Text = "127.0.0.1"
    smtp_port: Annotated[int, Field(gt=0, le=65535)] = 25
    smtp_from: _Text = "hub@localhost"
    smtp_starttls: bool = False
    smtp_user: _Text | None = None
    smtp_password_file: _File | None = None
    timeout_s: _PositiveInt = 10
    expiry_warning_days: _Days = 7
    # Webhooks reach public addresses only; these networks (e.g. a company's endpoint on the
    # operator's own private network) are allowed too (hub/notify/targets.py).
    webhook_allow_networks: _Tuple[_Network] = ()


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class Office:
    """One `[[office]]`: a powiat office, its payout account (NRB) and handling fees
    (written in PLN as `card_fee` and `cash_fee`)."""

    code: _OfficeCode
    name: _Text
    account: _Nrb
    card_fee_grosze: _Amount = Field(alias="card_fee")
    cash_fee_grosze: _Amount = Field(alias="cash_fee")
    fk_wsdl: _UrlOrPath | None = None
    desks: _Tuple[_DeskId]


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class Client:
    """One `[[client]]`: a certificate (pinned `cert`, or `ca` + `subject`) and what it acts for.

    `subject` is kept in RFC 4514 form as `cryptography` writes it
    (`x509.Name.rfc4514_string()`), so it compares equal to a certificate's subject string.
    During a key rotation `cert = ["old.crt", "new.crt"]` pins both: `cert` is the first,
    `rotation_certs` the others (at most one), each accepted until the entry lists it no more.
    """

    id: _ClientId
    kind: Annotated[ClientKind, _before(_text_one_of(CLIENT_KINDS))]
    certs: Annotated[tuple[Path, ...], _before(_certificate_files)] = Field(default=(), alias="cert")
    ca: _CaCertificateFile | None = None
    subject: _DistinguishedName | None = None
    offices: _Tuple[_OfficeCode] = ()
    company_nip: _Nip | None = None
    allow_sha1: bool = False

    @property
    def cert(self) -> Path | None:
        return self.certs[0] if self.certs else None

    @property
    def rotation_certs(self) -> tuple[Path, ...]:
        return self.certs[1:]


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class Fee:
    """One `[[fee]]` entry (its `amount` in PLN). A fee code may have several entries, one
    per `valid_from`; which is in force on a day is hub.fees' rule."""

    code: _Code
    name: _Text
    amount_grosze: _Amount = Field(alias="amount")
    valid_from: _FeeDate | None = None


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class CaseType:
    """One `[[case_type]]`. Its amount is the sum of its fees (a code may repeat) on a given day."""

    code: _Code
    system: Annotated[System, _before(_text_one_of(SYSTEMS))]
    name: _Text
    fees: Annotated[_Tuple[_Code], Field(min_length=1)]
    validity_days: _Days | None = None
    allow_lower_amount: bool = False  # coupons may be issued for less than the fee (a reduced fee)


@dataclass(frozen=True, kw_only=True, config=_SETTINGS)
class HubConfig:
    """Everything in the config directory, checked. Build it with `load_config`."""

    config_dir: Path
    database: DatabaseSettings
    signing: SigningSettings
    security: SecuritySettings
    coupons: CouponSettings
    bank: BankSettings
    settlement: SettlementSettings
    offices: tuple[Office, ...]
    clients: tuple[Client, ...]
    fees: tuple[Fee, ...]
    case_types: tuple[CaseType, ...]
    portal: PortalSettings | None = None
    audit: AuditSettings = AuditSettings()
    notify: NotifySettings = NotifySettings()

    @cached_property
    def known_offices(self) -> Offices:
        """offices.toml by code: what a service that names offices is handed (hub.app)."""
        return ByCode(self.offices, "Unknown office code {code!r}: the hub serves no such office.")

    @cached_property
    def tariff(self) -> Tariff:
        """fees.toml: the case types and the fee schedule that prices them (hub.app)."""
        return Tariff(self.case_types, self.fees)

    @cached_property
    def fee_schedule(self) -> FeeSchedule[Fee]:
        return self.tariff.fee_schedule

    @cached_property
    def _client_by_id(self) -> Mapping[str, Client]:
        return MappingProxyType({c.id: c for c in self.clients})

    def find_office(self, code: str) -> Office | None:
        return self.known_offices.find(code)

    def find_client(self, client_id: str) -> Client | None:
        return self._client_by_id.get(client_id)

    def find_case_type(self, code: str) -> CaseType | None:
        return self.tariff.case_types.find(code)

    def office(self, code: str) -> Office:
        return self.known_offices.known(code)

    def client(self, client_id: str) -> Client:
        if (client := self.find_client(client_id)) is None:
            raise InvalidRequest(f"Unknown client {client_id!r}: clients.toml lists no such client.")
        return client

    def case_type(self, code: str) -> CaseType:
        return self.tariff.case_type(code)

    def fee(self, fee_code: str, on: date) -> Fee:
        return self.tariff.fee(fee_code, on)

    def fee_amount_grosze(self, fee_code: str, on: date) -> int:
        return self.tariff.fee_amount_grosze(fee_code, on)

    def case_type_amount_grosze(self, code: str, on: date) -> int:
        return self.tariff.case_type_amount_grosze(code, on)


_Coded = TypeVar("_Coded", Office, CaseType)


class ByCode(Generic[_Coded]):
    """The entries of a config file (offices, case types) by code: what a service that
    checks or names them is handed (hub.app), instead of the whole HubConfig."""

    def __init__(self, entries: Iterable[_Coded], unknown: str) -> None:
        """`unknown`: the InvalidRequest's text for a code not listed, with `{code!r}`."""
        self.all: tuple[_Coded, ...] = tuple(entries)
        self._by_code: Mapping[str, _Coded] = MappingProxyType({e.code: e for e in self.all})
        self._unknown = unknown

    def __iter__(self) -> Iterator[_Coded]:
        return iter(self.all)

    def find(self, code: str) -> _Coded | None:
        return self._by_code.get(code)

    def known(self, code: str) -> _Coded:
        """`find`, for a code a request names: an unknown one is InvalidRequest."""
        if (entry := self.find(code)) is None:
            raise InvalidRequest(self._unknown.format(code=code))
        return entry

    def names(self) -> dict[str, str]:
        """Code -> name, for what prints or lists them."""
        return {e.code: e.name for e in self.all}


Offices = ByCode[Office]


class Tariff:
    """fees.toml: the case types and the fee schedule that prices them (hub.fees): the
    narrow settings of a service that prices coupons, receipts or journals."""

    def __init__(self, case_types: Iterable[CaseType], fees: Iterable[Fee]) -> None:
        self.case_types = ByCode(case_types, "Unknown case type {code!r}: fees.toml lists no such case type.")
        self.fees = tuple(fees)
        self.fee_schedule: FeeSchedule[Fee] = FeeSchedule(self.fees)

    def case_type(self, code: str) -> CaseType:
        return self.case_types.known(code)

    def fee(self, fee_code: str, on: date) -> Fee:
        """The entry of `fee_code` in force on `on` (hub.fees); InvalidRequest if none is."""
        return self.fee_schedule.fee(fee_code, on)

    def fee_amount_grosze(self, fee_code: str, on: date) -> int:
        return self.fee(fee_code, on).amount_grosze

    def case_type_amount_grosze(self, code: str, on: date) -> int:
        """The sum of the case type's fees in force on `on`."""
        return self.fee_schedule.amount_grosze(self.case_type(code).fees, on)


# --------------------------------------------------------------------------------------------
# Loading: collect every problem, then raise once.
# --------------------------------------------------------------------------------------------

_S = TypeVar("_S")


class _Problems:
    """Problem lines, each `<file>: <entry>: <field>: <what is wrong>`."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, field_name: str | None, problem: str) -> None:
        self.lines.append(f"{where}: {field_name}: {problem}" if field_name else f"{where}: {problem}")


def load_config(config_dir: Path) -> HubConfig:
    """Read and check the four config files in `config_dir`; raise `ConfigProblems` listing
    every problem, or return the config."""
    config_dir = Path(config_dir).resolve()
    if not config_dir.is_dir():
        raise ConfigProblems([f"{config_dir}: no such config directory"])
    problems = _Problems()
    context = {"config_dir": config_dir}
    docs = {name: _read_toml(config_dir / name, problems) for name in CONFIG_FILES}
    _unknown_keys(config_dir, docs, problems)

    hub = _hub_sections(docs[HUB_FILE], context, problems)
    offices, office_codes = _offices(docs[OFFICES_FILE], context, problems)
    clients = _clients(docs[CLIENTS_FILE], context, office_codes, problems)
    fees, case_types = _fees_and_case_types(docs[FEES_FILE], context, problems)

    if problems.lines or hub is None:  # hub is None only where a problem was found
        raise ConfigProblems(problems.lines)
    return HubConfig(
        config_dir=config_dir,
        **hub,
        offices=tuple(offices),
        clients=tuple(clients),
        fees=tuple(fees),
        case_types=tuple(case_types),
    )


def _read_toml(path: Path, problems: _Problems) -> dict[str, Any] | None:
    try:
        with path.open("rb") as f:
            return tomllib.load(f, parse_float=Decimal)
    except FileNotFoundError:
        problems.add(path.name, None, f"file not found: {path}")
    except tomllib.TOMLDecodeError as e:
        problems.add(path.name, None, _toml_error_text(e))
    except UnicodeDecodeError as e:
        problems.add(path.name, None, f"not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x})")
    except OSError as e:
        problems.add(path.name, None, f"cannot read {path}: {e.strerror}")
    return None


def _toml_error_text(error: tomllib.TOMLDecodeError) -> str:
    """tomllib writes `Invalid value (at line 7, column 3)`; we write `line 7, column 3: Invalid value`."""
    text = str(error)
    if m := _TOML_POSITION.match(text):
        return f"line {m['line']}, column {m['column']}: {m['message']}"
    if m := _TOML_END.match(text):
        return f"end of file: {m['message']}"
    return text


def _field_path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _pydantic_problem(error: Mapping[str, Any]) -> str:
    kind, got, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "hub_config":
        return str(ctx["problem"])
    if kind in ("missing", "missing_keyword_only_argument"):
        return "required but missing"
    expected = {
        "string_type": "a string",
        "int_type": "an integer",
        "bool_type": "true or false",
        "list_type": "a list",
    }.get(kind)
    if expected:
        return f"expected {expected}, got {_shown(got)}"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']}, got {_shown(got)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}, got {_shown(got)}"
    if kind == "too_short":
        return f"must have at least {ctx['min_length']} entry, got {_shown(got)}"
    return f"{error['msg']}, got {_shown(got)}"


def _validate(section: type[_S], raw: object, where: str, context: dict[str, Any], problems: _Problems) -> _S | None:
    if not isinstance(raw, dict):
        problems.add(where, None, f"expected a table, got {_shown(raw)}")
        return None
    try:
        return _from_toml(section, raw, context)
    except ValidationError as e:
        for error in e.errors(include_url=False):
            problems.add(where, _field_path(error["loc"]), _pydantic_problem(error))
        return None


def _from_toml(section: type[_S], table: dict[str, Any], context: dict[str, Any]) -> _S:
    """`section` built from its TOML table: by TOML key, strictly, with the TOML checks on
    (`context`). Keys the section does not know are left out: `_unknown_keys` reports them."""
    known = _toml_keys(section)
    arguments = ArgsKwargs((), {key: value for key, value in table.items() if key in known})
    built = section.__new__(section)
    # What the dataclass's __init__ does, with the context and the TOML keys (aliases) only.
    dataclass_type: Any = section
    dataclass_type.__pydantic_validator__.validate_python(
        arguments, self_instance=built, context=context, by_alias=True, by_name=False
    )
    return built


def _toml_keys(section: Any) -> list[str]:
    """The keys of `section`'s TOML table, in the order of its fields."""
    return [info.alias or name for name, info in section.__pydantic_fields__.items()]


def _entries(
    doc: dict[str, Any], file: str, key: str, label_key: str, problems: _Problems
) -> Iterator[tuple[str, Any]]:
    """(`"office[1] (code 1261)"`, raw table) for each `[[key]]` in `file`."""
    raw = doc.get(key)
    if raw is None or raw == []:
        problems.add(f"{file}: [[{key}]]", None, f"required but missing; add at least one [[{key}]] table")
        return
    if not isinstance(raw, list):
        problems.add(f"{file}: [[{key}]]", None, f"expected an array of tables [[{key}]], got {_shown(raw)}")
        return
    for i, entry in enumerate(raw):
        label = entry.get(label_key) if isinstance(entry, dict) else None
        yield (f"{key}[{i}]" + (f" ({label_key} {label})" if isinstance(label, str) else ""), entry)


# hub.toml's sections and the class of each. `[portal]` is optional and handled on its own
# (no [portal], no portal).
_HUB_SECTIONS: dict[str, type] = {
    "database": DatabaseSettings,
    "signing": SigningSettings,
    "security": SecuritySettings,
    "coupons": CouponSettings,
    "bank": BankSettings,
    "settlement": SettlementSettings,
    "audit": AuditSettings,
    "notify": NotifySettings,
}


def _known_keys() -> dict[str, dict[str, list[str]]]:
    """Every section and key each file may have: the TOML keys of its classes."""
    return {
        HUB_FILE: {
            **{name: _toml_keys(section) for name, section in _HUB_SECTIONS.items()},
            "portal": _toml_keys(PortalSettings),
        },
        OFFICES_FILE: {"office": _toml_keys(Office)},
        CLIENTS_FILE: {"client": _toml_keys(Client)},
        FEES_FILE: {"fee": _toml_keys(Fee), "case_type": _toml_keys(CaseType)},
    }


def _unknown_keys(config_dir: Path, docs: dict[str, dict[str, Any] | None], problems: _Problems) -> None:
    """A section or key the hub does not know is an error, never ignored: a typo would
    otherwise fall back to a default. Each names its line and the nearest known key."""
    known = _known_keys()
    for name, doc in docs.items():
        if doc is None:  # unreadable: already a problem of its own
            continue
        lines = key_lines((config_dir / name).read_text(encoding="utf-8"))
        for line, problem in unknown_keys(doc, known[name], lines):
            problems.add(f"{name}: line {line}" if line else name, None, problem)


def _hub_sections(doc: dict[str, Any] | None, context: dict[str, Any], problems: _Problems) -> dict[str, Any] | None:
    """`[section]` name -> its settings, or None where any section has a problem."""
    if doc is None:
        return None
    entries = {
        name: _validate(section, doc.get(name, {}), f"{HUB_FILE}: [{name}]", context, problems)
        for name, section in _HUB_SECTIONS.items()
    }
    signing, security, audit = entries["signing"], entries["security"], entries["audit"]
    if isinstance(audit, AuditSettings) and audit.tsa_url and not audit.tsa_certs:
        problems.add(
            f"{HUB_FILE}: [audit]",
            "tsa_certs",
            "needed with tsa_url: the TSA's certificate(s) its time-stamps must be signed by",
        )
    if isinstance(signing, SigningSettings) and not _key_matches_certificate(signing.key, signing.cert):
        problems.add(f"{HUB_FILE}: [signing]", "key", f"does not belong to the certificate in cert ({signing.cert})")
    if isinstance(security, SecuritySettings) and security.replay_window_s < 2 * security.clock_skew_s:
        # A message is accepted from clock_skew_s before its Created to clock_skew_s after it;
        # forgetting seen signatures sooner than that would let a replay through.
        problems.add(
            f"{HUB_FILE}: [security]",
            "replay_window_s",
            f"must be at least twice clock_skew_s ({2 * security.clock_skew_s}), got {security.replay_window_s}",
        )
    portal = None
    if "portal" in doc:  # optional: no [portal], no portal
        portal = _validate(PortalSettings, doc["portal"], f"{HUB_FILE}: [portal]", context, problems)
        if portal is None:
            return None
    if any(entry is None for entry in entries.values()):
        return None
    return {**entries, "portal": portal}


def _key_matches_certificate(key_path: Path, cert_path: Path) -> bool:
    key = private_key_from_pem(key_path.read_bytes())  # checked by `_pem_private_key`: no second check
    cert = x509.load_pem_x509_certificates(cert_path.read_bytes())[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(serialization.Encoding.DER, public) == cert.public_key().public_bytes(
        serialization.Encoding.DER, public
    )


def _raw_text(raw: object, key: str) -> str | None:
    """`raw[key]` when it is a string: for duplicate and reference checks before full validation,
    so one wrong field in an entry does not also make every reference to that entry "unknown"."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


class _FirstSeen:
    """Which entry first used a key that must be unique."""

    def __init__(self) -> None:
        self._entry_by_key: dict[Hashable, str] = {}

    def earlier(self, key: Hashable, entry_name: str) -> str | None:
        """The entry that used `key` before `entry_name`; None if none did, and `key` is now taken."""
        if key in self._entry_by_key:
            return self._entry_by_key[key]
        self._entry_by_key[key] = entry_name
        return None


def _offices(
    doc: dict[str, Any] | None, context: dict[str, Any], problems: _Problems
) -> tuple[list[Office], set[str] | None]:
    """The offices, and every office code the file names (None when the file could not be read)."""
    if doc is None:
        return [], None
    offices: list[Office] = []
    office_codes: set[str] = set()
    codes = _FirstSeen()
    for entry_name, raw in _entries(doc, OFFICES_FILE, "office", "code", problems):
        where = f"{OFFICES_FILE}: {entry_name}"
        code = _raw_text(raw, "code")
        if code is not None:
            office_codes.add(code)
            if earlier := codes.earlier(code, entry_name):
                problems.add(where, "code", f"duplicate office code {code}, also {earlier}")
        entry = _validate(Office, raw, where, context, problems)
        if entry is None:
            continue
        for desk in sorted({d for d in entry.desks if entry.desks.count(d) > 1}):
            problems.add(where, "desks", f"duplicate desk id {_shown(desk)}")
        offices.append(entry)
    return offices, office_codes


def _clients(
    doc: dict[str, Any] | None, context: dict[str, Any], office_codes: set[str] | None, problems: _Problems
) -> list[Client]:
    if doc is None:
        return []
    clients: list[Client] = []
    identities = _FirstSeen()
    for entry_name, raw in _entries(doc, CLIENTS_FILE, "client", "id", problems):
        where = f"{CLIENTS_FILE}: {entry_name}"
        client_id = _raw_text(raw, "id")
        if client_id is not None and (earlier := identities.earlier(("id", client_id), entry_name)):
            problems.add(where, "id", f"duplicate client id {_shown(client_id)}, also {earlier}")
        entry = _validate(Client, raw, where, context, problems)
        if entry is None:
            continue
        _check_client(entry, where, office_codes, problems)
        for field_name, key, what in _client_certificate_identity(entry):
            if earlier := identities.earlier(key, entry_name):
                problems.add(where, field_name, f"{what}, also {earlier}")
        clients.append(entry)
    return clients


def _check_client(entry: Client, where: str, office_codes: set[str] | None, problems: _Problems) -> None:
    if entry.cert is not None and entry.ca is not None:
        problems.add(where, "ca", "give either cert (a pinned certificate) or ca with subject, not both")
    elif entry.cert is None and entry.ca is None:
        problems.add(where, "cert", "required but missing; give cert (a pinned certificate) or ca with subject")
    elif entry.ca is not None and entry.subject is None:
        problems.add(where, "subject", "required with ca: the subject DN the CA-issued certificate must have")
    elif entry.cert is not None and entry.subject is not None:
        problems.add(where, "subject", "only used with ca; a pinned cert needs no subject")
    if entry.kind in OFFICE_CLIENT_KINDS and not entry.offices:
        problems.add(where, "offices", f"required for kind {entry.kind}: the office codes this client acts for")
    if entry.kind == "CASHDESK" and len(entry.offices) > 1:
        problems.add(where, "offices", f"a CASHDESK client acts for exactly one office, got {_shown(entry.offices)}")
    if entry.kind == "COMPANY" and entry.company_nip is None:
        problems.add(where, "company_nip", "required for kind COMPANY: the NIP of the company this client acts for")
    if office_codes is not None:
        for i, code in enumerate(entry.offices):
            if code not in office_codes:
                problems.add(where, f"offices[{i}]", f"unknown office code {code}; offices.toml has no such office")


def _client_certificate_identity(entry: Client) -> Iterator[tuple[str, tuple[str, ...], str]]:
    """What must not be shared between clients, so that a certificate names one client."""
    if entry.cert is not None and entry.ca is None:
        for cert in entry.certs:
            yield ("cert", ("cert", _fingerprint(cert)), "the same certificate is pinned for another client")
    if entry.ca is not None and entry.subject is not None and entry.cert is None:
        key = ("ca", _fingerprint(entry.ca), entry.subject)
        yield "subject", key, "another client has the same ca and subject"


def _fingerprint(cert_path: Path) -> str:
    return x509.load_pem_x509_certificates(cert_path.read_bytes())[0].fingerprint(hashes.SHA256()).hex()


def _fees_and_case_types(
    doc: dict[str, Any] | None, context: dict[str, Any], problems: _Problems
) -> tuple[list[Fee], list[CaseType]]:
    if doc is None:
        return [], []
    fees: list[Fee] = []
    fee_codes: set[str] = set()
    versions = _FirstSeen()
    for entry_name, raw in _entries(doc, FEES_FILE, "fee", "code", problems):
        where = f"{FEES_FILE}: {entry_name}"
        if (code := _raw_text(raw, "code")) is not None:
            fee_codes.add(code)
        fee = _validate(Fee, raw, where, context, problems)
        if fee is None:
            continue
        if earlier := versions.earlier((fee.code, fee.valid_from), entry_name):
            since = f"valid from {fee.valid_from}" if fee.valid_from else "without valid_from"
            problems.add(where, "valid_from", f"duplicate fee {fee.code} {since}, also {earlier}")
        fees.append(fee)

    case_types: list[CaseType] = []
    case_codes = _FirstSeen()
    for entry_name, raw in _entries(doc, FEES_FILE, "case_type", "code", problems):
        where = f"{FEES_FILE}: {entry_name}"
        code = _raw_text(raw, "code")
        if code is not None and (earlier := case_codes.earlier(code, entry_name)):
            problems.add(where, "code", f"duplicate case type code {code}, also {earlier}")
        entry = _validate(CaseType, raw, where, context, problems)
        if entry is None:
            continue
        for fee_code in dict.fromkeys(c for c in entry.fees if c not in fee_codes):
            problems.add(where, "fees", f"unknown fee code {_shown(fee_code)}; fees.toml has no [[fee]] with that code")
        case_types.append(entry)
    return fees, case_types

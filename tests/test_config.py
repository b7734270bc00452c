"""The config layer: the shipped example loads, and each kind of mistake is named exactly.

Every broken-input test copies the shipped config to tmp_path, breaks one thing,
and asserts the whole list of problem lines (file, entry, field, what is wrong).
"""

from __future__ import annotations

import shutil
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.config import HubConfig, load_config
from hub.errors import ConfigError, ConfigProblems, InvalidRequest
from hub.ids import nrb_valid
from hub.signing.keys import SigningIdentity

SHIPPED_CONFIG = Path(__file__).resolve().parent.parent / "config"
A_DAY_IN_2026 = date(2026, 3, 2)


@pytest.fixture(scope="module")
def shipped() -> HubConfig:
    return load_config(SHIPPED_CONFIG)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped config (keys included) to break."""
    copy = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, copy)
    return copy.resolve()


def edit(path: Path, old: str, new: str) -> None:
    """Replace text that occurs exactly once, so a changed example fails here, not silently."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def problems_of(config_dir: Path) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_config(config_dir)
    error = raised.value
    assert isinstance(error, ConfigProblems)
    assert str(error) == "\n".join(error.problems)
    return error.problems


# --- the shipped example ------------------------------------------------------------------


def test_shipped_config_loads_with_contract_fees(shipped: HubConfig) -> None:
    assert shipped.case_type_amount_grosze("REJ_NEW", A_DAY_IN_2026) == 16150
    assert shipped.case_type_amount_grosze("PJ_B", A_DAY_IN_2026) == 10050
    assert shipped.case_type_amount_grosze("WORD_TEORIA", A_DAY_IN_2026) == 5000
    assert shipped.case_type_amount_grosze("WORD_PRAKTYKA_B", A_DAY_IN_2026) == 20000
    assert shipped.fee_amount_grosze("TAB_MOT", A_DAY_IN_2026) == 4000
    assert shipped.case_type("REJ_NEW").system == "POJAZD"
    assert shipped.case_type("PJ_B").fees == ("PJ", "EWID")


def test_shipped_config_offices_and_clients(shipped: HubConfig) -> None:
    assert [o.code for o in shipped.offices] == ["1465", "1261", "3064", "0264"]
    warszawa = shipped.office("1465")
    assert warszawa.name == "Wydział Komunikacji Urzędu m.st. Warszawy"
    assert warszawa.account == "60102010260000042270201111"  # spaces dropped
    assert (warszawa.card_fee_grosze, warszawa.cash_fee_grosze) == (150, 0)
    assert shipped.office("1261").card_fee_grosze == 100  # written as the string "1.00"
    assert warszawa.desks == ("01", "02")
    assert all(nrb_valid(o.account) for o in shipped.offices)
    assert {c.kind for c in shipped.clients} == {"POJAZD", "KIEROWCA", "WORD", "CASHDESK", "COMPANY", "BANK"}
    pinned = shipped.client("pojazd-1465")
    assert pinned.cert == SHIPPED_CONFIG / "keys" / "pojazd-1465.crt"
    assert (pinned.ca, pinned.subject, pinned.offices, pinned.allow_sha1) == (None, None, ("1465",), False)
    issued = shipped.client("pojazd-1261")
    assert (issued.cert, issued.ca) == (None, SHIPPED_CONFIG / "keys" / "dev-ca.crt")
    assert issued.subject == "CN=pojazd-1261,O=Hub Dev Clients,C=PL"
    assert shipped.client("leasing-7010254361").company_nip == "7010254361"


def test_shipped_config_hub_settings(shipped: HubConfig) -> None:
    assert shipped.config_dir == SHIPPED_CONFIG
    assert shipped.database.url == f"sqlite:///{SHIPPED_CONFIG}/var/hub.sqlite3"
    assert shipped.signing.key == SHIPPED_CONFIG / "keys" / "hub.key"
    assert shipped.signing.cert == SHIPPED_CONFIG / "keys" / "hub.crt"
    assert (shipped.security.clock_skew_s, shipped.security.replay_window_s) == (300, 900)
    assert (shipped.security.request_bytes_max, shipped.security.xml_depth_max) == (1_000_000, 100)
    assert (shipped.coupons.validity_days, shipped.coupons.batch_count_max) == (90, 1000)
    assert shipped.bank.escrow_account == "75116022020000000412345678"
    assert shipped.bank.wsdl == str(SHIPPED_CONFIG.parent / "hub" / "wsdl" / "bank.wsdl")
    assert shipped.bank.currency == "PLN"
    assert shipped.settlement.reversal_window_h == 72


def test_config_objects_are_frozen(shipped: HubConfig) -> None:
    with pytest.raises(FrozenInstanceError):
        shipped.office("1465").card_fee_grosze = 0  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        shipped.security.clock_skew_s = 1  # type: ignore[misc]


def test_unknown_codes_are_invalid_requests(shipped: HubConfig) -> None:
    with pytest.raises(InvalidRequest, match="^Unknown case type 'NOPE': fees.toml lists no such case type.$"):
        shipped.case_type("NOPE")
    with pytest.raises(InvalidRequest, match="^Unknown office code '9999'"):
        shipped.office("9999")
    with pytest.raises(InvalidRequest, match="^Unknown fee code 'NOPE'"):
        shipped.fee_amount_grosze("NOPE", A_DAY_IN_2026)
    with pytest.raises(InvalidRequest, match="^Unknown client 'nobody'"):
        shipped.client("nobody")


# --- fees over time -----------------------------------------------------------------------


def test_fee_valid_from_in_the_future_does_not_count_before_that_date(config_dir: Path) -> None:
    with (config_dir / "fees.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[fee]]\ncode = "DR"\nname = "Wydanie dowodu rejestracyjnego"\n')
        f.write("amount = 60.00\nvalid_from = 2027-07-01\n")
    config = load_config(config_dir)
    assert config.fee_amount_grosze("DR", date(2027, 6, 30)) == 5400
    assert config.fee_amount_grosze("DR", date(2027, 7, 1)) == 6000
    assert config.case_type_amount_grosze("REJ_NEW", date(2027, 6, 30)) == 16150
    assert config.case_type_amount_grosze("REJ_NEW", date(2027, 7, 1)) == 16750


def test_fee_with_only_dated_entries_has_no_amount_before_its_first_date(config_dir: Path) -> None:
    edit(config_dir / "fees.toml", "amount = 50.00\n", "amount = 50.00\nvalid_from = 2026-01-01\n")
    config = load_config(config_dir)
    assert config.fee_amount_grosze("WORD_T", date(2026, 1, 1)) == 5000
    with pytest.raises(InvalidRequest, match="^Fee 'WORD_T' has no amount in force on 2025-12-31"):
        config.case_type_amount_grosze("WORD_TEORIA", date(2025, 12, 31))


def test_amount_as_string_equals_amount_as_number(config_dir: Path) -> None:
    edit(config_dir / "fees.toml", "amount = 54.00", 'amount = "54.00"')
    edit(config_dir / "fees.toml", "amount = 13.50", 'amount = "13.5"')
    config = load_config(config_dir)
    assert config.fee_amount_grosze("DR", A_DAY_IN_2026) == 5400
    assert config.fee_amount_grosze("PC", A_DAY_IN_2026) == 1350
    assert config.case_type_amount_grosze("REJ_NEW", A_DAY_IN_2026) == 16150


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grosze=st.integers(min_value=0, max_value=10**11), quoted=st.booleans())
def test_amounts_are_read_exactly_to_the_grosz(config_dir: Path, grosze: int, quoted: bool) -> None:
    text = str((Decimal(grosze) / 100).quantize(Decimal("0.01")))
    fees = config_dir / "fees.toml"
    original = fees.read_text(encoding="utf-8")
    try:
        edit(fees, "amount = 12.50", f'amount = "{text}"' if quoted else f"amount = {text}")
        assert load_config(config_dir).fee_amount_grosze("NAL", A_DAY_IN_2026) == grosze
    finally:
        fees.write_text(original, encoding="utf-8")


# --- defaults -----------------------------------------------------------------------------


def test_limits_and_database_default_when_left_out(config_dir: Path) -> None:
    hub = config_dir / "hub.toml"
    text = hub.read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if not line.startswith(("[security]", "clock_", "replay_", "request_"))]
    kept = [line for line in kept if not line.startswith(("xml_", "[database]", "url ", "[coupons]", "validity_"))]
    kept = [line for line in kept if not line.startswith(("batch_", "[settlement]", "reversal_", "currency"))]
    hub.write_text("\n".join(kept) + "\n", encoding="utf-8")
    config = load_config(config_dir)
    assert config.security.clock_skew_s == 300
    assert config.security.replay_window_s == 900
    assert config.security.request_bytes_max == 1_000_000
    assert config.security.xml_depth_max == 100
    assert (config.coupons.validity_days, config.coupons.batch_count_max) == (90, 1000)
    assert config.settlement.reversal_window_h == 72
    assert config.bank.currency == "PLN"
    assert config.database.url == f"sqlite:///{config_dir}/var/hub.sqlite3"


def test_escrow_account_may_be_any_iban(config_dir: Path) -> None:
    edit(config_dir / "hub.toml", '"PL75 1160 2202 0000 0004 1234 5678"', '"DE89 3704 0044 0532 0130 00"')
    assert load_config(config_dir).bank.escrow_account == "DE89370400440532013000"


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def test_a_typo_in_a_key_or_section_is_an_error_naming_line_and_nearest_key(config_dir: Path) -> None:
    """`uri` for `url` used to run the hub on the default SQLite file while `config check` said ok."""
    hub = config_dir / "hub.toml"
    edit(hub, 'url = "sqlite:///var/hub.sqlite3"', 'uri = "postgresql://hub@db/hub"')
    edit(hub, "[security]\nclock_skew_s", "[securty]\nclock_skwe_s")
    hub.write_text(
        hub.read_text(encoding="utf-8") + '\n[portal]\nsecret_key_file = "keys/x"\ncookie_secur = false\n',
        encoding="utf-8",
    )
    uri = line_of(hub, 'uri = "postgresql://hub@db/hub"')
    assert problems_of(config_dir)[:3] == [
        f"hub.toml: line {uri}: [database]: unknown key uri; did you mean url?",
        f"hub.toml: line {line_of(hub, '[securty]')}: unknown section [securty]; did you mean security?",
        f"hub.toml: line {line_of(hub, 'cookie_secur = false')}: [portal]: "
        "unknown key cookie_secur; did you mean cookie_secure?",
    ]


def test_unknown_keys_in_every_file_name_the_entry_and_line(config_dir: Path) -> None:
    offices, clients, fees = (config_dir / name for name in ("offices.toml", "clients.toml", "fees.toml"))
    edit(offices, 'code = "1465"\n', 'code = "1465"\nacount = "x"\n')
    edit(clients, 'kind = "BANK"', 'kind = "BANK"\nallow_sha = true')
    fees.write_text(fees.read_text(encoding="utf-8") + '\n[[fees]]\ncode = "X"\n', encoding="utf-8")
    found = problems_of(config_dir)
    index = [o["code"] for o in __import__("tomllib").loads(offices.read_text(encoding="utf-8"))["office"]].index(
        "1465"
    )
    acount = line_of(offices, 'acount = "x"')
    assert f"offices.toml: line {acount}: office[{index}]: unknown key acount; did you mean account?" in found
    assert any(
        p.startswith(f"clients.toml: line {line_of(clients, 'allow_sha = true')}: client[")
        and p.endswith("unknown key allow_sha; did you mean allow_sha1?")
        for p in found
    ), found
    assert f"fees.toml: line {line_of(fees, '[[fees]]')}: unknown section [[fees]]; did you mean fee?" in found


def test_keys_inside_values_are_not_taken_for_keys() -> None:
    """The line scan follows strings, multi-line strings and arrays, so `x = 1` written inside
    a value is not a key, and the real keys after it keep their lines."""
    from hub.config_keys import key_lines

    text = 'a = """\nx = 1\n"""\nb = [\n  "y = 2", # z = 3\n]\n[t]\nc = \'#\' # d = 4\n[[u]]\ne = 1\n[[u]]\n"f.g" = 2\n'
    assert key_lines(text) == {
        ("a",): 1,
        ("b",): 4,
        ("t",): 7,
        ("t", "c"): 8,
        ("u", 0): 9,
        ("u", 0, "e"): 10,
        ("u", 1): 11,
        ("u", 1, "f.g"): 12,
    }


# --- each kind of mistake -----------------------------------------------------------------


def test_broken_toml_names_line_and_column(config_dir: Path) -> None:
    clients = config_dir / "clients.toml"
    edit(clients, 'kind = "BANK"', "kind = BANK")
    line = clients.read_text(encoding="utf-8").splitlines().index("kind = BANK") + 1
    assert problems_of(config_dir) == [f"clients.toml: line {line}, column 8: Invalid value"]


def test_missing_file_names_the_file(config_dir: Path) -> None:
    (config_dir / "fees.toml").unlink()
    assert problems_of(config_dir) == [f"fees.toml: file not found: {config_dir / 'fees.toml'}"]


def test_string_for_an_integer(config_dir: Path) -> None:
    edit(config_dir / "hub.toml", "batch_count_max = 1000", 'batch_count_max = "ten"')
    assert problems_of(config_dir) == ['hub.toml: [coupons]: batch_count_max: expected an integer, got "ten"']


def test_amount_with_three_decimal_places(config_dir: Path) -> None:
    edit(config_dir / "offices.toml", 'card_fee = "1.00"', "card_fee = 1.005")
    assert problems_of(config_dir) == [
        "offices.toml: office[1] (code 1261): card_fee: 3 decimal places in 1.005; amounts are PLN to the grosz"
    ]


def test_amount_string_with_three_decimal_places(config_dir: Path) -> None:
    edit(config_dir / "fees.toml", "amount = 54.00", 'amount = "54.005"')
    assert problems_of(config_dir) == [
        "fees.toml: fee[0] (code DR): amount: 3 decimal places in 54.005; amounts are PLN to the grosz"
    ]


def test_bad_nip_checksum(config_dir: Path) -> None:
    edit(config_dir / "clients.toml", 'company_nip = "7010254361"', 'company_nip = "7010254362"')
    assert problems_of(config_dir) == [
        "clients.toml: client[6] (id leasing-7010254361): company_nip: "
        'NIP check digit does not match in "7010254362"; check for a mistyped digit'
    ]


def test_bad_nrb_checksum(config_dir: Path) -> None:
    edit(config_dir / "offices.toml", '"48 1020 4027 0000 0000 0003 1064"', '"48 1020 4027 0000 0000 0003 1046"')
    assert problems_of(config_dir) == [
        "offices.toml: office[2] (code 3064): account: "
        'NRB checksum does not match in "48 1020 4027 0000 0000 0003 1046"; check for a mistyped digit'
    ]


def test_unknown_fee_code_in_case_type(config_dir: Path) -> None:
    edit(config_dir / "fees.toml", 'fees = ["PJ", "EWID"]', 'fees = ["PJ", "XYZ"]')
    assert problems_of(config_dir) == [
        'fees.toml: case_type[2] (code PJ_B): fees: unknown fee code "XYZ"; fees.toml has no [[fee]] with that code'
    ]


def test_client_office_not_in_offices_toml(config_dir: Path) -> None:
    edit(config_dir / "clients.toml", 'offices = ["1465", "0264"]', 'offices = ["1465", "1062"]')
    assert problems_of(config_dir) == [
        "clients.toml: client[2] (id kierowca-1465): offices[1]: unknown office code 1062; "
        "offices.toml has no such office"
    ]


def test_missing_cert_file(config_dir: Path) -> None:
    (config_dir / "keys" / "word-warszawa.crt").unlink()
    assert problems_of(config_dir) == [
        f"clients.toml: client[4] (id word-warszawa): cert: no such file: {config_dir / 'keys' / 'word-warszawa.crt'}"
    ]


def test_cert_that_is_not_pem(config_dir: Path) -> None:
    (config_dir / "keys" / "bank-escrow.crt").write_text("not a certificate\n", encoding="utf-8")
    assert problems_of(config_dir) == [
        "clients.toml: client[7] (id bank-escrow): cert: "
        f"not a PEM certificate: {config_dir / 'keys' / 'bank-escrow.crt'}"
    ]


def test_a_signing_key_the_hub_cannot_use_is_named_with_why(config_dir: Path) -> None:
    key = config_dir / "keys" / "hub.key"
    where = "hub.toml: [signing]: key: "
    key.write_text("not a key\n", encoding="utf-8")
    assert problems_of(config_dir) == [f"{where}not a PEM private key: {key}"]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key.write_bytes(
        rsa_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"secret password"))
    )
    assert problems_of(config_dir) == [f"{where}encrypted private key; the hub needs it unencrypted: {key}"]
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    assert problems_of(config_dir) == [
        f"{where}expected an RSA or EC private key (RSA-SHA256 or ECDSA-SHA256), got Ed25519PrivateKey: {key}"
    ]
    key.write_bytes(rsa_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    assert problems_of(config_dir) == [
        f"hub.toml: [signing]: key: does not belong to the certificate in cert ({config_dir / 'keys' / 'hub.crt'})"
    ]


def test_the_signing_key_is_checked_once_per_process(config_dir: Path, monkeypatch) -> None:
    """RSA's consistency check is most of a key load's ~30 ms: the config's checks and the
    signing identity share one load of the same key (a key new to this process)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder(subject_name=name, issuer_name=name, public_key=key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    (config_dir / "keys" / "hub.key").write_bytes(pem)
    (config_dir / "keys" / "hub.crt").write_bytes(cert.public_bytes(Encoding.PEM))
    load_pem_private_key = serialization.load_pem_private_key
    loads: list[bytes] = []

    def counted(data: bytes, password: bytes | None, **kwargs):
        loads.append(data)
        return load_pem_private_key(data, password, **kwargs)

    monkeypatch.setattr(serialization, "load_pem_private_key", counted)
    config = load_config(config_dir)
    SigningIdentity.load(config.signing.key, config.signing.cert)
    assert loads.count(pem) == 1


def test_duplicate_office_code(config_dir: Path) -> None:
    edit(config_dir / "offices.toml", 'code = "0264"', 'code = "1261"')
    edit(config_dir / "clients.toml", 'offices = ["1465", "0264"]', 'offices = ["1465"]')
    assert problems_of(config_dir) == [
        "offices.toml: office[3] (code 1261): code: duplicate office code 1261, also office[1] (code 1261)"
    ]


def test_missing_required_field(config_dir: Path) -> None:
    edit(config_dir / "offices.toml", 'name = "Wydział Komunikacji Urzędu Miasta Poznania"\n', "")
    assert problems_of(config_dir) == ["offices.toml: office[2] (code 3064): name: required but missing"]


def test_missing_required_hub_section(config_dir: Path) -> None:
    edit(config_dir / "hub.toml", 'wsdl = "../hub/wsdl/bank.wsdl"\n', "")
    assert problems_of(config_dir) == ["hub.toml: [bank]: wsdl: required but missing"]


def test_cert_and_ca_together(config_dir: Path) -> None:
    pinned = 'cert = "keys/pojazd-1465.crt"\n'
    edit(config_dir / "clients.toml", pinned, pinned + 'ca = "keys/dev-ca.crt"\n')
    assert problems_of(config_dir) == [
        "clients.toml: client[0] (id pojazd-1465): ca: "
        "give either cert (a pinned certificate) or ca with subject, not both"
    ]


def test_ca_without_subject(config_dir: Path) -> None:
    edit(config_dir / "clients.toml", 'subject = "CN=pojazd-1261,O=Hub Dev Clients,C=PL"\n', "")
    assert problems_of(config_dir) == [
        "clients.toml: client[1] (id pojazd-1261): subject: "
        "required with ca: the subject DN the CA-issued certificate must have"
    ]


def test_subject_is_kept_in_rfc4514_form(config_dir: Path) -> None:
    edit(
        config_dir / "clients.toml",
        '"CN=pojazd-1261,O=Hub Dev Clients,C=PL"',
        '"CN=pojazd-1261, O=Hub Dev Clients, C=PL"',
    )
    assert load_config(config_dir).client("pojazd-1261").subject == "CN=pojazd-1261,O=Hub Dev Clients,C=PL"


def test_cashdesk_acts_for_one_office(config_dir: Path) -> None:
    desk = 'cert = "keys/kasa-1465-01.crt"\n'
    edit(config_dir / "clients.toml", desk + 'offices = ["1465"]', desk + 'offices = ["1465", "1261"]')
    assert problems_of(config_dir) == [
        "clients.toml: client[5] (id kasa-1465-01): offices: "
        'a CASHDESK client acts for exactly one office, got ["1465", "1261"]'
    ]


def test_signing_key_must_belong_to_the_cert(config_dir: Path) -> None:
    edit(config_dir / "hub.toml", 'key = "keys/hub.key"', 'key = "keys/dev-ca.key"')
    assert problems_of(config_dir) == [
        f"hub.toml: [signing]: key: does not belong to the certificate in cert ({config_dir / 'keys' / 'hub.crt'})"
    ]


def test_replay_window_must_cover_the_clock_skew(config_dir: Path) -> None:
    edit(config_dir / "hub.toml", "replay_window_s = 900", "replay_window_s = 500")
    assert problems_of(config_dir) == [
        "hub.toml: [security]: replay_window_s: must be at least twice clock_skew_s (600), got 500"
    ]


def test_duplicate_fee_version(config_dir: Path) -> None:
    with (config_dir / "fees.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[fee]]\ncode = "PJ"\nname = "Wydanie prawa jazdy"\namount = 110.00\n')
    assert problems_of(config_dir) == [
        "fees.toml: fee[9] (code PJ): valid_from: duplicate fee PJ without valid_from, also fee[6] (code PJ)"
    ]


def test_every_problem_is_reported_at_once_one_line_each(config_dir: Path) -> None:
    edit(config_dir / "hub.toml", "xml_depth_max = 100", "xml_depth_max = -1")
    edit(config_dir / "offices.toml", 'code = "3064"', 'code = "306"')
    edit(config_dir / "clients.toml", 'kind = "WORD"', 'kind = "EXAM"')
    edit(
        config_dir / "fees.toml",
        'system = "WORD"\nname = "Egzamin teoretyczny',
        'system = 7\nname = "Egzamin teoretyczny',
    )
    problems = problems_of(config_dir)
    assert problems == [
        "hub.toml: [security]: xml_depth_max: must be greater than 0, got -1",
        'offices.toml: office[2] (code 306): code: expected 4 digits (a TERYT powiat code such as "1465"), got "306"',
        "clients.toml: client[3] (id kierowca-3064): offices[0]: "
        "unknown office code 3064; offices.toml has no such office",
        "clients.toml: client[4] (id word-warszawa): kind: "
        'expected one of POJAZD, KIEROWCA, WORD, CASHDESK, COMPANY, BANK, got "EXAM"',
        "fees.toml: case_type[3] (code WORD_TEORIA): system: expected a string, got 7",
    ]
    assert not any("\n" in line or "Input should" in line for line in problems)


def test_day_counts_have_a_limit_that_date_arithmetic_can_hold(config_dir: Path) -> None:
    """`retention_days = 99999999` passed, then `hub audit archive` died in an OverflowError."""
    hub = config_dir / "hub.toml"
    hub.write_text(hub.read_text(encoding="utf-8") + "\n[audit]\nretention_days = 99999999\n", encoding="utf-8")
    assert problems_of(config_dir) == ["hub.toml: [audit]: retention_days: must be at most 36500, got 99999999"]

"""JSON log lines: the fields of a signed call, and no full coupon id at INFO."""

from __future__ import annotations

import io
import json
import logging
import urllib.request

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from hub.app import cli
from hub.ids import format_coupon_id, new_coupon_id, normalize_coupon_id
from hub.ops.logging import EXTRA_FIELDS, JsonFormatter, configure_logging, mask_coupon_ids, request_fields
from hub.signing.keys import SigningIdentity
from tests.support.factories import config_copy
from tests.support.served import ServedHub
from tests.support.soap import redeem_fields, signed_request


@pytest.fixture
def log_lines():
    """Everything logged while the test runs, through the hub's formatter, as parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        url + "/soap/office", data=body, headers={"Content-Type": "text/xml; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["X-Hub-Request-Id"]
    except urllib.error.HTTPError as e:
        return e.code, e.headers["X-Hub-Request-Id"]


def test_a_signed_call_logs_one_line_with_its_fields_and_no_full_coupon_id(running_hub, coupon, log_lines):
    status, request_id = post(
        running_hub.url, signed_request(running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
    )
    assert status == 200
    lines = [line for line in log_lines() if line.get("request_id") == request_id]
    summary = [line for line in lines if line["logger"] == "hub.soap" and line["level"] == "INFO"]
    assert len(summary) == 1
    line = summary[0]
    assert set(line) >= {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "service",
        "operation",
        "client",
        "outcome",
        "duration_ms",
    }
    assert (line["service"], line["operation"], line["client"], line["outcome"]) == (
        "office",
        "RedeemCoupon",
        "pojazd-1465",
        "ok",
    )
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["time"].endswith("Z")
    assert line["coupon"] == "****-****-****-" + coupon[-4:]

    compact = normalize_coupon_id(coupon)
    for logged in log_lines():
        if logged["level"] != "DEBUG":
            text = json.dumps(logged)
            assert coupon not in text and compact not in text, logged
    # the masking is what keeps it out: the DEBUG line of the same request has it whole
    assert any(coupon in json.dumps(logged) for logged in lines if logged["level"] == "DEBUG")


def test_a_fault_is_logged_with_its_code_as_the_outcome(running_hub, coupon, log_lines):
    identity = running_hub.identity("pojazd-1465")
    post(running_hub.url, signed_request(identity, "RedeemCoupon", **redeem_fields(coupon)))
    status, request_id = post(running_hub.url, signed_request(identity, "RedeemCoupon", **redeem_fields(coupon)))
    assert status == 500
    line = next(line for line in log_lines() if line.get("request_id") == request_id and line["logger"] == "hub.soap")
    assert line["outcome"] == "Client.CouponNotRedeemable"


def test_coupon_ids_are_masked_in_every_spelling_and_nothing_else_is():
    coupon = format_coupon_id(new_coupon_id())
    compact = coupon.replace("-", "")
    masked = "****-****-****-" + coupon[-4:]
    assert mask_coupon_ids(f"coupon {coupon} redeemed") == f"coupon {masked} redeemed"
    assert mask_coupon_ids(f"({compact.lower()})") == f"({masked})"
    untouched = (
        "request 6f1c2a9e-1b2c-4d5e-8f90-1234567890ab, NRB 61109010140000071219812874, NIP 5260250274, sha "
        + "ab" * 32
        + ", raised psycopg.OperationalError: the exception's name stays readable"
    )
    assert mask_coupon_ids(untouched) == untouched


def test_private_keys_and_unlisted_fields_never_reach_a_line():
    formatter = JsonFormatter()
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    record = logging.LogRecord("hub.test", logging.ERROR, __file__, 1, "loaded %s", (pem,), None)
    record.password = "hunter2"
    line = json.loads(formatter.format(record))
    assert line["message"] == "loaded [private key redacted]"
    assert "hunter2" not in json.dumps(line)


_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END RSA PRIVATE KEY-----"
_COUPON = "AB12-CD34-EF56-GH78"
# A field's value: none, a number, or text that may hold a coupon id (any spelling) or a key
_VALUE = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(
        st.sampled_from((_COUPON, _COUPON.lower(), _COUPON.replace("-", ""), _PEM, "OperationalError", "-", " ", "x")),
        max_size=4,
    ).map(" ".join),
    st.text(max_size=20),
)
_FIELDS = st.dictionaries(st.sampled_from(EXTRA_FIELDS), _VALUE, max_size=len(EXTRA_FIELDS))


_LEVELS = st.sampled_from((logging.DEBUG, logging.INFO, logging.ERROR))


@given(request=_FIELDS, extra=_FIELDS, level=_LEVELS, message=_VALUE)
def test_a_line_holds_the_fields_set_in_order_the_record_s_own_first_and_no_secret(request, extra, level, message):
    """Each field once, in EXTRA_FIELDS' order, the record's extra over the request's, none
    that is None; at INFO and above every coupon id masked, and never a private key."""
    record = logging.LogRecord("hub.test", level, __file__, 1, "%s", (message,), None)
    record.__dict__.update(extra)
    with request_fields(**request):
        line = json.loads(JsonFormatter().format(record))
    chosen = {name: extra[name] if name in extra else request.get(name) for name in EXTRA_FIELDS}
    assert list(line) == ["time", "level", "logger", "message"] + [n for n, v in chosen.items() if v is not None]
    for name, value in chosen.items():
        if isinstance(value, str) and name != "request_id":  # the hub's own log id, never a secret
            value = value.replace(_PEM, "[private key redacted]")
            assert line[name] == (mask_coupon_ids(value) if level >= logging.INFO else value)
        elif value is not None:
            assert line[name] == value
    line.pop("request_id", None)
    text = json.dumps(line)
    assert "PRIVATE KEY" not in text
    if level >= logging.INFO:
        assert _COUPON not in text and _COUPON.replace("-", "") not in text.upper()


def test_request_fields_reach_lines_logged_deeper_down(log_lines):
    with request_fields(request_id="r-1", service="office"):
        logging.getLogger("hub.coupons").info("something happened")
    line = log_lines()[-1]
    assert (line["request_id"], line["service"], line["logger"]) == ("r-1", "office", "hub.coupons")


def test_the_cli_logs_json_lines_on_stderr(capsys):
    handler = configure_logging("INFO")
    try:
        logging.getLogger("hub.test").warning("disk %s full", "/var/lib/hub")
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert (line["level"], line["logger"], line["message"]) == ("WARNING", "hub.test", "disk /var/lib/hub full")
    finally:
        logging.getLogger().removeHandler(handler)


def test_hub_serve_writes_one_line_a_soap_request_and_gunicorn_s_access_line_for_the_rest(tmp_path):
    """Under `hub serve` (gunicorn): a SOAP request's line is its only one, with the HTTP
    status and the caller's address; a request the hub does not log itself (`?wsdl`) gets
    gunicorn's access line, as JSON."""
    config_dir = config_copy(tmp_path, f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    assert CliRunner().invoke(cli, ["--config", str(config_dir), "init"]).exit_code == 0
    served = ServedHub(config_dir, tmp_path / "serve.log", workers=1)
    try:
        keys = config_dir / "keys"
        identity = SigningIdentity.load(keys / "pojazd-1465.key", keys / "pojazd-1465.crt")
        answered = [
            served.post(signed_request(identity, "VerifyCoupon", CouponId=c, OfficeCode="1465"), "/soap/office")
            for c in ("AAAA-BBBB-CCCC-DDDD", "not a coupon")
        ]
        assert [status for status, _ in answered] == [200, 200]
        with urllib.request.urlopen(served.url + "/soap/office?wsdl", timeout=10) as wsdl:
            assert wsdl.status == 200
    finally:
        served.stop()
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines() if line.startswith("{")]
    soap = [line for line in lines if line["logger"] == "hub.soap" and line["level"] == "INFO"]
    assert [(line["operation"], line["path"], line["status"], line["remote"]) for line in soap] == [
        ("VerifyCoupon", "/soap/office", 200, "127.0.0.1")
    ] * 2
    access = [line["message"] for line in lines if line["logger"] == "gunicorn.access"]
    assert access and all('"GET /soap/office?wsdl HTTP/1.1" 200' in line for line in access), access  # ServedHub's too

"""Key rotation with overlap: a client's entry pins its old and its new certificate for a
while, so the client switches keys whenever it is ready; and the hub's own key changes
after callers trust the new hub certificate beside the old one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import zeep
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from hub.app import cli
from hub.config import load_config
from hub.errors import ConfigProblems
from hub.signing import devcerts
from hub.signing.keys import SigningIdentity
from hub.signing.zeep_plugin import HubSignature
from tests.support.soap import fault_of, redeem_fields, signed_request
from tests.support.wsgi import RunningHub

POJAZD_CERT_LINE = 'cert = "keys/pojazd-1465.crt"'


def new_identity(config_dir: Path, stem: str, cn: str) -> SigningIdentity:
    """A fresh key and self-signed certificate, written as keys/<stem>.key and keys/<stem>.crt."""
    key, cert = devcerts.self_signed(cn)
    key_path, pem_path = devcerts.write_pem(config_dir / "keys", stem, key, cert)
    crt_path = pem_path.with_suffix(".crt")
    shutil.move(pem_path, crt_path)
    return SigningIdentity.load(key_path, crt_path)


def pin_pojazd(config_dir: Path, *cert_files: str) -> None:
    """Rewrite the pojazd-1465 entry's `cert` line of clients.toml."""
    clients = config_dir / "clients.toml"
    value = f'"{cert_files[0]}"' if len(cert_files) == 1 else "[" + ", ".join(f'"{c}"' for c in cert_files) + "]"
    text, n = re.subn(
        r'(?m)^cert = (?:"keys/pojazd-1465[^"]*"|\[[^\]]*pojazd-1465[^\]]*\])$', f"cert = {value}", clients.read_text()
    )
    assert n == 1
    clients.write_text(text)


def verify(url: str, config_dir: Path, identity: SigningIdentity, coupon: str):
    hub = RunningHub(None, url, config_dir)
    return hub.post(signed_request(identity, "VerifyCoupon", CouponId=coupon, OfficeCode="1465"))


def test_a_client_works_with_either_certificate_during_the_overlap_and_only_the_new_after(running_hub, coupon, serve):
    config_dir = running_hub.config_dir
    old = running_hub.identity("pojazd-1465")
    new = new_identity(config_dir, "pojazd-1465-2027", "pojazd-1465 2027")

    # 1. the admin adds the new certificate beside the old one; `hub config check` accepts it
    pin_pojazd(config_dir, "keys/pojazd-1465.crt", "keys/pojazd-1465-2027.crt")
    checked = CliRunner().invoke(cli, ["--config", str(config_dir), "config", "check"])
    assert checked.exit_code == 0 and ": ok:" in checked.stdout, checked.stderr
    overlap = serve(config_dir)
    assert verify(overlap, config_dir, old, coupon)[0] == 200
    assert verify(overlap, config_dir, new, coupon)[0] == 200
    # the client acts as itself with either key: its offices, its redemptions
    status, answer = RunningHub(None, overlap, config_dir).post(
        signed_request(new, "RedeemCoupon", **redeem_fields(coupon))
    )
    assert status == 200, fault_of(answer)

    # 2. after the switch the admin removes the old certificate; the old key is refused
    pin_pojazd(config_dir, "keys/pojazd-1465-2027.crt")
    after = serve(config_dir)
    status, answer = verify(after, config_dir, old, coupon)
    assert status == 500
    assert fault_of(answer)[0].endswith("}FailedAuthentication")
    assert verify(after, config_dir, new, coupon)[0] == 200


def test_callers_that_trust_both_hub_certificates_keep_working_when_the_hub_switches_keys(running_hub, coupon, serve):
    config_dir = running_hub.config_dir
    caller = running_hub.identity("pojazd-1465")
    old_cert = running_hub.hub_cert
    new_hub = new_identity(config_dir, "hub-2027", "hub 2027")

    def ask(url: str, trusted) -> bool:
        client = zeep.Client(url + "/soap/office?wsdl", wsse=HubSignature.pinned(caller, trusted, "hub"))
        return client.service.VerifyCoupon(CouponId=coupon, OfficeCode="1465").Valid

    # 1. the new hub certificate is published; callers add it to their trust (a two-certificate PEM bundle)
    bundle = [old_cert, new_hub.cert]
    before = serve(config_dir)
    assert ask(before, bundle) is True

    # 2. the hub switches its key (hub.toml [signing]) and restarts
    hub_toml = config_dir / "hub.toml"
    hub_toml.write_text(
        hub_toml.read_text()
        .replace('key = "keys/hub.key"', 'key = "keys/hub-2027.key"')
        .replace('cert = "keys/hub.crt"', 'cert = "keys/hub-2027.crt"')
    )
    switched = serve(config_dir)
    assert ask(switched, bundle) is True
    # a caller that skipped step 1 refuses the hub's answers: that is why the order matters
    with pytest.raises(zeep.exceptions.SignatureVerificationFailed):
        ask(switched, old_cert)

    # `hub client --hub-cert` takes the bundle as one PEM file
    bundle_file = config_dir / "keys" / "hub-trust.pem"
    bundle_file.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in bundle))
    keys = config_dir / "keys"
    result = CliRunner().invoke(
        cli,
        [
            "client",
            "verify-coupon",
            "--url",
            switched,
            "--key",
            str(keys / "pojazd-1465.key"),
            "--cert",
            str(keys / "pojazd-1465.crt"),
            "--hub-cert",
            str(bundle_file),
            "--coupon",
            coupon,
            "--office",
            "1465",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert '"Valid": true' in result.stdout


@pytest.mark.parametrize(
    "value, problem",
    [
        (
            '["keys/pojazd-1465.crt", "keys/a.crt", "keys/b.crt"]',
            "list one certificate, or two during a key rotation (the current and the next), got 3",
        ),
        ('["keys/pojazd-1465.crt", "keys/pojazd-1465.crt"]', "the same certificate is listed twice"),
        ('["keys/pojazd-1465.crt", "keys/word-warszawa.crt"]', "the same certificate is pinned for another client"),
        ("[]", "list one certificate, or two during a key rotation"),
        ('["keys/pojazd-1465.crt", 7]', "expected a path or a list of paths"),
    ],
)
def test_config_check_names_a_wrong_rotation_entry(tmp_path, value, problem):
    from tests.support import SHIPPED_CONFIG

    config_dir = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, config_dir)
    for stem in ("a", "b"):
        new_identity(config_dir, stem, stem)
    clients = config_dir / "clients.toml"
    clients.write_text(clients.read_text().replace(POJAZD_CERT_LINE, f"cert = {value}"))
    with pytest.raises(ConfigProblems) as refused:
        load_config(config_dir)
    assert any(
        line.startswith("clients.toml: client[") and ": cert: " in line and problem in line
        for line in refused.value.problems
    ), refused.value.problems

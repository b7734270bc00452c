"""RFC 3161 time-stamps of the seals (issue 19), from a local TSA: `openssl ts -reply` behind
a small HTTP server on 127.0.0.1, with a certificate of its own (extendedKeyUsage
timeStamping). `hub audit seal` stamps the newest seal; `hub audit verify` checks every
token; a token of another TSA, or one moved to another seal, is named."""

from __future__ import annotations

import base64
import http.server
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, update

from hub.app import Hub
from hub.audit.seals import MessageLogSeal
from hub.config import load_config
from tests.support.ops import exchange
from tests.support.wsgi import SHUTDOWN_POLL_S

TS_CONFIG = """
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


class LocalTsa:
    """A TSA on 127.0.0.1: each POSTed TimeStampReq is answered by `openssl ts -reply`."""

    def __init__(self, folder: Path, name: str = "Test TSA") -> None:
        self.folder = folder
        folder.mkdir()
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(folder / "tsa.key"),
                "-out",
                str(folder / "tsa.crt"),
                "-subj",
                f"/CN={name}",
                "-days",
                "30",
                "-addext",
                "extendedKeyUsage=critical,timeStamping",
            ],
            check=True,
            capture_output=True,
        )
        (folder / "serial").write_text("01\n")
        (folder / "ts.cnf").write_text(TS_CONFIG.format(dir=folder))
        tsa = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                query = self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(200)
                reply = tsa.reply(query)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/tsa"
        self.cert = folder / "tsa.crt"

    def reply(self, query: bytes) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "q.tsq").write_bytes(query)
            subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.folder / "ts.cnf"),
                    "-queryfile",
                    f"{tmp}/q.tsq",
                    "-out",
                    f"{tmp}/r.tsr",
                ],
                check=True,
                capture_output=True,
            )
            return (Path(tmp) / "r.tsr").read_bytes()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tsa(tmp_path):
    server = LocalTsa(tmp_path / "tsa")
    yield server
    server.stop()


def with_tsa(config_dir: Path, url: str, cert: Path) -> None:
    hub_toml = config_dir / "hub.toml"
    hub_toml.write_text(hub_toml.read_text() + f'\n[audit]\ntsa_url = "{url}"\ntsa_certs = ["{cert}"]\n')


def stamps(db) -> dict[int, str | None]:
    with db.read() as s:
        return dict(s.execute(select(MessageLogSeal.seq, MessageLogSeal.timestamp)).all())


def test_hub_audit_seal_has_the_newest_seal_time_stamped_and_verify_checks_it(run, config_dir, tsa):
    with_tsa(config_dir, tsa.url, tsa.cert)
    hub = Hub(load_config(config_dir))
    for i in range(3):
        exchange(hub.message_log, i)
    out = run("audit", "seal").stdout
    assert out == f"message log: sealed at record 6\nmessage log: the seal of record 6 is time-stamped by {tsa.url}\n"
    assert [seq for seq, token in stamps(hub.db).items() if token] == [6]
    # the token is a real RFC 3161 one: openssl verifies it over the seal's digest
    with hub.db.read() as s:
        seal = s.get(MessageLogSeal, 6)
    token = tsa.folder / "token.der"
    token.write_bytes(base64.b64decode(seal.timestamp))
    checked = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-digest",
            seal.digest,
            "-in",
            str(token),
            "-token_in",
            "-CAfile",
            str(tsa.cert),
            "-untrusted",
            str(tsa.cert),
        ],
        capture_output=True,
        text=True,
    )
    assert "Verification: OK" in checked.stdout, checked.stdout + checked.stderr
    assert run("audit", "seal").stdout == "message log: nothing new since the last seal\n"  # and nothing to stamp again

    verified = run("audit", "verify").stdout
    assert "message log: 1 seals time-stamped by the TSA, the latest at" in verified

    # a token moved onto another seal (the first) does not time-stamp that seal's digest
    with hub.db.transaction() as s:
        s.execute(update(MessageLogSeal).where(MessageLogSeal.seq == 1).values(timestamp=seal.timestamp))
    result = run("audit", "verify", ok=False)
    assert (
        result.exit_code == 1
        and "seal of record 1" in result.stderr
        and "the time-stamp is of other data than this seal" in result.stderr
    )
    hub.close()


def test_a_time_stamp_of_a_tsa_not_in_tsa_certs_is_named(run, config_dir, tsa, tmp_path):
    other = LocalTsa(tmp_path / "other-tsa", name="Other TSA")
    try:
        with_tsa(config_dir, other.url, tsa.cert)  # tokens come from a TSA whose certificate is not pinned
        hub = Hub(load_config(config_dir))
        exchange(hub.message_log, 1)
        result = run("audit", "seal", ok=False)
        assert result.exit_code == 1 and "not signed by a TSA certificate in [audit] tsa_certs" in result.stderr
        assert stamps(hub.db) == {1: None, 2: None}  # sealed, not stamped: the next run tries again
        hub.close()
    finally:
        other.stop()


def test_an_unreachable_tsa_leaves_the_seal_unstamped_and_says_so(run, config_dir, tsa):
    tsa.stop()
    with_tsa(config_dir, tsa.url, tsa.cert)
    hub = Hub(load_config(config_dir))
    exchange(hub.message_log, 1)
    result = run("audit", "seal", ok=False)
    assert (
        result.exit_code == 1
        and "did not answer" in result.stderr
        and "stays unstamped until the next run" in result.stderr
    )
    assert "chain intact" in run("audit", "verify").stdout
    hub.close()


def test_a_tsa_url_needs_its_certificates(run, config_dir):
    hub_toml = config_dir / "hub.toml"
    hub_toml.write_text(hub_toml.read_text() + '\n[audit]\ntsa_url = "http://127.0.0.1:9/tsa"\n')
    result = run("config", "check", ok=False)
    assert result.exit_code == 1 and "tsa_certs" in result.stderr

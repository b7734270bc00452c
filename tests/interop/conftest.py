"""The hub over real HTTP against third-party stacks: Apache WSS4J 1.6 (Debian's
libwss4j-java, driven through the small Java program Wss4jPeer.java, compiled by the test run),
xmlsec1 and zeep. Missing tools skip on a workstation and fail in CI (CI=true)."""

from __future__ import annotations

import select
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from hub.signing import devcerts
from hub.signing.keys import SigningIdentity
from tests.support.factories import config_copy
from tests.support.signing import require_tool
from tests.support.wsgi import serving

HERE = Path(__file__).resolve().parent
JAVA_LIBS = Path("/usr/share/java")
# WSS4J and what it needs at run time (Debian: libwss4j-java, libxml-security-java, ...).
JARS = ("wss4j.jar", "xmlsec.jar", "commons-logging.jar", "slf4j-api.jar")
KEYSTORE_PASSWORD = "changeit"
ANSWER_SECONDS = 60


class Wss4j:
    """One JVM running Wss4jPeer for the whole session: a command line in, an answer line out."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        classpath = ":".join(str(JAVA_LIBS / jar) for jar in JARS)
        compiled = subprocess.run(
            ["javac", "-d", str(workdir), "-cp", classpath, str(HERE / "Wss4jPeer.java")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert compiled.returncode == 0, compiled.stderr
        self.log = (workdir / "java.log").open("wb")
        self.proc = subprocess.Popen(
            ["java", "-cp", f"{classpath}:{workdir}", "Wss4jPeer"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            encoding="utf-8",
        )
        self._keystores: dict[int, tuple[Path, str]] = {}
        self._count = 0

    def _ask(self, *words: str) -> str:
        assert all(" " not in w for w in words), words
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(" ".join(words) + "\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], ANSWER_SECONDS)
        line = stdout.readline() if ready else ""
        assert line, f"Wss4jPeer did not answer: {(self.workdir / 'java.log').read_text(errors='replace')[-2000:]}"
        return line.rstrip("\n")

    def _file(self, data: bytes, stem: str) -> Path:
        self._count += 1
        path = self.workdir / f"{stem}-{self._count}.xml"
        path.write_bytes(data)
        return path

    def keystore(self, identity: SigningIdentity) -> tuple[Path, str]:
        """A PKCS#12 file with the identity's key and certificate, and its alias."""
        if id(identity) not in self._keystores:
            alias = f"client{len(self._keystores)}"
            path = self.workdir / f"{alias}.p12"
            path.write_bytes(
                pkcs12.serialize_key_and_certificates(
                    alias.encode(),
                    identity.private_key,
                    identity.cert,
                    None,
                    serialization.BestAvailableEncryption(KEYSTORE_PASSWORD.encode()),
                )
            )
            self._keystores[id(identity)] = (path, alias)
        return self._keystores[id(identity)]

    def sign(
        self,
        identity: SigningIdentity,
        envelope: etree._Element,
        key_id: str = "default",
        signature: str = "default",
        digest: str = "default",
    ) -> bytes:
        """`envelope` signed by WSS4J: WSSecTimestamp, then WSSecSignature over Timestamp and Body
        with key identifier `key_id` (default, BST, IssuerSerial, SKI, Thumbprint)."""
        keystore, alias = self.keystore(identity)
        unsigned, signed = (
            self._file(etree.tostring(envelope), "unsigned"),
            self.workdir / f"signed-{self._count}.xml",
        )
        answer = self._ask(
            "sign", str(keystore), KEYSTORE_PASSWORD, alias, key_id, signature, digest, str(unsigned), str(signed)
        )
        assert answer == "ok", answer
        return signed.read_bytes()

    def verify(self, trusted_cert: Path, message: bytes | etree._Element) -> str:
        """WSSecurityEngine's verdict on `message` trusting only `trusted_cert`: "ok <signed
        element names> <signer's subject>" or "error <why>"."""
        data = message if isinstance(message, bytes) else etree.tostring(message)
        return self._ask("verify", str(trusted_cert), str(self._file(data, "received")))

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="session")
def wss4j(tmp_path_factory):
    missing = [jar for jar in JARS if not (JAVA_LIBS / jar).exists()]
    tools = shutil.which("java") and shutil.which("javac")
    require_tool(
        bool(tools) and not missing,
        f"Java and WSS4J (apt-get install default-jdk-headless libwss4j-java; missing {missing or 'java/javac'})",
    )
    peer = Wss4j(tmp_path_factory.mktemp("wss4j"))
    yield peer
    peer.close()


def add_client(config_dir: Path, client_id: str, toml: str) -> SigningIdentity:
    """A new self-signed client in the test's config (keys/<id>.key, .crt), entry `toml`."""
    key, cert = devcerts.self_signed(client_id)
    keys = config_dir / "keys"
    key_path, pem_path = devcerts.write_pem(keys, client_id, key, cert)
    pem_path.rename(keys / f"{client_id}.crt")
    with (config_dir / "clients.toml").open("a") as f:
        f.write(f'\n[[client]]\nid = "{client_id}"\ncert = "keys/{client_id}.crt"\n{toml}\n')
    return SigningIdentity(key, cert)


@pytest.fixture
def running_hub(tmp_path, db_url):
    """The shipped config plus `legacy-sha1`, an office system that may still sign with SHA-1."""
    config_dir = config_copy(tmp_path, db_url)
    add_client(config_dir, "legacy-sha1", 'kind = "POJAZD"\noffices = ["1465"]\nallow_sha1 = true')
    with serving(config_dir) as running:
        yield running

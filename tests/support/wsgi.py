"""A real hub on 127.0.0.1: the hub's own WSGI application served in a thread of the test
process, over the test's database; port 0, so the OS picks a free port and the server says
which. The one in-thread server of the suite: SOAP, the portal and ops all use it."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography import x509
from lxml import etree

from hub.app import create_app
from hub.config import load_config
from hub.signing.keys import SigningIdentity

# How often a server thread looks for shutdown(): socketserver's default, 0.5 s, is
# what every test that stops a server waited at its end.
SHUTDOWN_POLL_S = 0.02


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class RunningHub:
    app: object
    url: str
    config_dir: Path

    @property
    def hub(self):
        return self.app.hub

    @property
    def portal(self) -> str:
        return self.url + "/portal"

    def identity(self, client_id: str) -> SigningIdentity:
        keys = self.config_dir / "keys"
        return SigningIdentity.load(keys / f"{client_id}.key", keys / f"{client_id}.crt")

    @property
    def hub_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate((self.config_dir / "keys" / "hub.crt").read_bytes())

    def post(self, body: bytes, path: str = "/soap/office") -> tuple[int, etree._Element]:
        status, answer = self.post_raw(body, path)
        return status, etree.fromstring(answer)

    def post_raw(self, body: bytes, path: str = "/soap/office") -> tuple[int, bytes]:
        """`post`, the answer's bytes as they came."""
        request = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


@contextmanager
def serving(config_dir: Path) -> Iterator[RunningHub]:
    """A hub on `config_dir` (read now, as at a start), served over HTTP on a port of
    127.0.0.1 the OS picks, while in the block."""
    app = create_app(load_config(config_dir))
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL_S,), daemon=True)
    thread.start()
    try:
        yield RunningHub(app, f"http://127.0.0.1:{server.server_port}", config_dir)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.hub.close()

"""`hub serve` as a real process for the tests that need one (several processes on one
database, gunicorn workers killed, the database restarted under load, the soak)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lxml import etree

REPO = Path(__file__).resolve().parent.parent
HUB = [sys.executable, "-c", "from hub.app import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 30, log_path: Path | None = None) -> None:
    """Until the hub at `url` answers a WSDL request; fails with its output if it exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = log_path.read_text(errors="replace") if log_path else proc.stdout.read() if proc.stdout else ""
            output = output.decode(errors="replace") if isinstance(output, bytes) else output
            raise AssertionError(f"hub exited: {output[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/soap/office?wsdl", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"hub at {url} did not start in {seconds} s")


class ServedHub:
    """`hub serve --workers N` on a test's config, on a free port of 127.0.0.1. Its output
    goes to `log_path` (a pipe nobody reads would fill and stall the hub), quoted if it fails."""

    def __init__(self, config_dir: Path, log_path: Path, workers: int = 1, env: dict | None = None) -> None:
        self.config_dir, self.log_path, self.worker_count = config_dir, log_path, workers
        self.url = f"http://127.0.0.1:{free_port()}"
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                *HUB,
                "--config",
                str(config_dir),
                "serve",
                "--port",
                self.url.rsplit(":", 1)[1],
                "--workers",
                str(workers),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
        )
        self.ready()

    def ready(self) -> None:
        wait_for(self.url, self.proc, 60, self.log_path)

    def workers(self) -> list[int]:
        """The workers' pids, once gunicorn has started all of them."""
        deadline = time.monotonic() + 30
        while len(found := sorted(children(self.proc.pid))) != self.worker_count and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    def post(self, body: bytes, path: str, timeout: float = 120) -> tuple[int, etree._Element]:
        request = urllib.request.Request(
            self.url + path, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, etree.fromstring(response.read())
        except urllib.error.HTTPError as e:
            return e.code, etree.fromstring(e.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

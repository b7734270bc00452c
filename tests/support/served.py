"""`hub serve` as a real process for the tests that need one (several processes on one
database, gunicorn workers killed, the database restarted under load, the soak).

It binds port 0: gunicorn's master takes the port the OS gives it and logs it ("Listening
at: http://127.0.0.1:PORT"), and the test reads it from the log. No port is picked before
the server binds it, so two servers never race for one."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from lxml import etree

from hub.cli.serve import THREADS
from tests.support import REPO
from tests.support.waiting import wait_until

HUB = [sys.executable, "-c", "from hub.app import main; main()"]
LISTENING = re.compile(rb"Listening at: (http://[\d.]+:\d+)")
SERVING = re.compile(r"serving (http://[\d.]+:\d+)/")
START_S = 60


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def exited(proc: subprocess.Popen, log_path: Path | None) -> AssertionError:
    """The failure to raise when a server process ended while the test waited for it."""
    output = log_path.read_text(errors="replace") if log_path else proc.stdout.read() if proc.stdout else ""
    output = output.decode(errors="replace") if isinstance(output, bytes) else output
    return AssertionError(f"hub exited ({proc.returncode}): {output[-2000:]}")


def answers_wsdl(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/soap/office?wsdl", timeout=2):
            return True
    except OSError:
        return False


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 30, log_path: Path | None = None) -> None:
    """Until the hub at `url` answers a WSDL request; fails with its output if it exits."""

    def up() -> bool:
        if proc.poll() is not None:
            raise exited(proc, log_path)
        return answers_wsdl(url)

    wait_until(up, seconds, f"the hub at {url} to answer", poll_s=0.2)


def listening_url(proc: subprocess.Popen, log_path: Path, seconds: float = START_S) -> str:
    """The URL gunicorn's master logged once it had bound its socket."""

    def logged() -> str | None:
        found = LISTENING.search(log_path.read_bytes())
        if found is None and proc.poll() is not None:
            raise exited(proc, log_path)
        return found and found.group(1).decode()

    return wait_until(logged, seconds, f"gunicorn to log its port in {log_path}", poll_s=0.05)


def serving_url(lines: list[str]) -> str:
    """The address `hub demo` printed once it had bound its port ("serving http://...")."""
    found = next((m for line in lines if (m := SERVING.search(line))), None)
    assert found, f"no 'serving http://...' line in: {''.join(lines)}"
    return found.group(1)


class ServedHub:
    """`hub serve --workers N --threads T --port 0` (and `options`) on a test's config, on the
    port of 127.0.0.1 the OS gives it. Its output goes to `log_path` (a pipe nobody reads would
    fill and stall the hub), quoted if it fails."""

    def __init__(
        self,
        config_dir: Path,
        log_path: Path,
        workers: int = 1,
        env: dict | None = None,
        threads: int = THREADS,
        options: Sequence[str] = (),
    ) -> None:
        self.config_dir, self.log_path, self.worker_count = config_dir, log_path, workers
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [*HUB, "--config", str(config_dir), "serve", "--port", "0", "--workers", str(workers)]
            + ["--threads", str(threads), *options],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
        )
        try:
            self.url = listening_url(self.proc, log_path)
            self.ready()
        except BaseException:
            self.stop()
            raise

    def ready(self) -> None:
        wait_for(self.url, self.proc, START_S, self.log_path)

    def workers(self) -> list[int]:
        """The workers' pids, once gunicorn has started all of them (after 30 s, those
        there are, for the caller's assertion to show)."""

        def all_started() -> list[int] | None:
            found = sorted(children(self.proc.pid))
            return found if len(found) == self.worker_count else None

        try:
            return wait_until(all_started, 30, f"{self.worker_count} gunicorn workers", 0.05)
        except AssertionError:
            return sorted(children(self.proc.pid))

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

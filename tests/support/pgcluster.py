"""A private PostgreSQL cluster for the tests that restart, stop, destroy or restore one
(the shared server on 5432 is never touched that way): initdb'd into a temporary folder,
on 127.0.0.1, trust auth. PostgreSQL refuses to run as root, so under root it runs as
`postgres`.

PostgreSQL cannot listen on port 0, so the cluster takes a port below the range the OS
hands out for port 0 (/proc/sys/net/ipv4/ip_local_port_range): no server of the tests and
no outgoing connection is given it while the cluster is down for a restart. Another private
cluster that holds it already makes `start()` take another one (the bind is the check; no
port is probed first)."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import IN_CI

PORT_TRIES = 20
FAST = "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"  # nothing here must survive a power cut


def pg_bindir() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        candidates.append(
            Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        )
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((d for d in candidates if (d / "initdb").exists() and (d / "pg_ctl").exists()), None)


def cluster_port() -> int:
    """A port below the range the OS gives out for port 0 (see the module's docstring)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return random.randrange(max(1024, low - 12000), low)


def require_bindir() -> Path:
    """The server binaries, or the test skipped (failed under CI=true)."""
    bindir = pg_bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries (initdb, pg_ctl) for a private cluster"
        if IN_CI:
            pytest.fail(message + " and CI=true")
        pytest.skip(message)
    return bindir


class PrivateCluster:
    """`settings` are postgresql.conf lines written after the defaults (FAST unless given)."""

    def __init__(self, bindir: Path, settings: str = FAST) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="hub-pg-"))  # not pytest's tmp_path: `postgres` cannot enter root's
        self.data = self.root / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        try:
            self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\ninclude 'port.conf'\nunix_socket_directories = '{self.root}'\n"
                f"max_connections = 60\n{settings}"
            )
        self.set_port(cluster_port())

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def set_port(self, port: int) -> None:
        self.port = port
        port_conf = self.data / "port.conf"
        port_conf.write_text(f"port = {port}\n")
        if self.as_postgres:
            shutil.chown(port_conf, "postgres", "postgres")

    def start(self) -> None:
        """pg_ctl start; on another port when this one is held by another private cluster."""
        log = self.root / "server.log"
        for _ in range(PORT_TRIES):
            logged = log.stat().st_size if log.exists() else 0
            try:
                self.pg_ctl("start")
                return
            except AssertionError:
                with log.open("rb") as f:
                    f.seek(logged)
                    if b"already in use" not in f.read():
                        raise
            self.set_port(cluster_port())
        raise AssertionError(f"no free port for a private cluster in {PORT_TRIES} tries")

    def folder(self, name: str) -> Path:
        """A folder of the cluster's own (owned by the server's user)."""
        path = self.root / name
        path.mkdir(mode=0o700)
        if self.as_postgres:
            shutil.chown(path, "postgres", "postgres")
        return path

    def run(self, tool: str, *args: str) -> str:
        command = [str(self.bindir / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{tool} {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def client(self, tool: str, *args: str) -> str:
        """A client tool (pg_basebackup, pg_dump, pg_restore) connected to this server as postgres."""
        return self.run(tool, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", *args)

    def pg_ctl(self, action: str, *args: str) -> None:
        self.run("pg_ctl", action, "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "60", *args)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_cluster(
    settings: str = FAST, prepare: Callable[[PrivateCluster], None] | None = None
) -> Iterator[PrivateCluster]:
    """A started private cluster, removed afterwards; `prepare` runs before the first start."""
    private = PrivateCluster(require_bindir(), settings)
    try:
        if prepare is not None:
            prepare(private)
        private.start()
        yield private
    finally:
        private.remove()


def migrated_url(cluster: PrivateCluster) -> str:
    """The cluster's `postgres` database with the hub's schema, for `running_hub` and served processes."""
    from hub.db.database import Database
    from hub.db.migrate import upgrade

    database = Database(cluster.url)
    upgrade(database)
    database.dispose()
    return cluster.url

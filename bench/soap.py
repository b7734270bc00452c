"""Signed SOAP throughput and latency, in one run: VerifyCoupon and RedeemCoupon against
unsigned spyne (bench/baseline_app.py), the bare signed baseline (bench/signed_baseline_app.py:
the hub's strict verification and RSA-2048 signing around the same spyne service, no
database) and the hub on SQLite and/or PostgreSQL, all under gunicorn with the hub's worker
settings (gthread, `--workers`, 4 threads, as many connections a worker, no keep-alive), loaded
by wrk -t1 -c`--clients`.

    .venv/bin/python bench/soap.py                          # both databases
    .venv/bin/python bench/soap.py --backend sqlite --requests 1000 --rounds 2

Every server is up at once, and the requests are sent in `--rounds` interleaved rounds: each
round loads every server in turn (in reverse order every other round), so a hub and its
baselines are measured seconds apart. This host drifts by ±25% within minutes, more than
most differences; run one after another, a hub and its baseline were minutes apart (until
BENCHMARKS.md run 14). Rates and latencies are the medians of the rounds; each ratio is the
median of the rounds' ratios, a round's hub against the baseline's round beside it. The
median of the rounds' p99 is not the p99 of all the requests: `p99_ms_worst_round` says how
far the worst round went.

The load comes from wrk (`wrk -t1 -c<clients>`, bench/signed_bodies.lua): a separate process,
written in C, so it barely uses the two cores the servers share, and the ratios between targets
measure the servers, not the client. Needs wrk; without it the script says "bench/soap.py
needs wrk (apt-get install wrk)" and exits non-zero.

Requests are signed before the clock starts (each with its own Timestamp, so the replay
caches accept every one; each RedeemCoupon redeems its own coupon, issued before the run),
and wrk sends each exactly once: a body sent again would be refused as a replay. Every answer
is checked: HTTP 200 and no Fault, else it counts as an error. per_s is the bodies sent over
the time from the first sent to the last answered, as wrk's script measures it (neither wrk's
start nor the ~10 ms this script takes to notice the end and stop wrk counts); p50_ms and
p99_ms are the latencies as measured, without wrk's coordinated-omission correction (see
bench/signed_bodies.lua). Each round also says what it cost (`measured_load`): the CPU ms a
request of the target's own processes (`server_cpu_ms`: gunicorn's master and workers) and of
PostgreSQL's (`postgresql_cpu_ms`), and the share of the machine's CPU time left idle
(`idle`): where a target's rate goes, the CPU it spends a request or the cores it leaves
unused. `cpu_to_bare_signed` is the ratio by the CPU a request (`per_cpu_ms`): what
`to_bare_signed` would be with no core left idle. After the rounds `hub ledger verify` and
`hub audit verify` must pass on each hub (the ledger's balances and the message log's hash
chain), else the run fails.

The baselines are served as `hub serve` serves the hub they are compared with: on SQLite
`hub serve` keeps each worker on a CPU of its own (hub.ops.cpus; BENCHMARKS.md run 31), so
the SQLite hub is compared with baselines whose workers are pinned alike (`bare_signed_pinned`,
`unsigned_spyne_pinned`, with bench/pinned_workers.py), the PostgreSQL hub with baselines left
to the scheduler (`bare_signed`, `unsigned_spyne`). Each hub's `baselines` names its pair.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: E402
from lxml import etree  # noqa: E402

from bench.child import add_backend_option, chosen_backends, cpu_s, machine_times, postgres_processes, process_tree  # noqa: E402
from hub import ns  # noqa: E402
from hub.access import operator  # noqa: E402
from hub.cli.serve import THREADS  # noqa: E402
from hub.ops.cpus import worker_cpus  # noqa: E402
from hub.signing.keys import SigningIdentity  # noqa: E402
from hub.signing.sign import sign_envelope  # noqa: E402
from tests.support.soap import office_request  # noqa: E402

NIP = "7010254361"  # the shipped config's COMPANY client
PINNED = "_pinned"  # a baseline's name, when its workers are pinned to CPUs (`baselines_of`)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def machine() -> str:
    """The host as a result names it. A CPU's model name can cover several generations ("AMD
    EPYC"), and the hub's ratios to the bare service differ between them (BENCHMARKS.md runs 39
    and 40), so its family and model numbers are given too."""
    first: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        name, _, value = line.partition(":")
        first.setdefault(name.strip(), value.strip())
    cpu = first.get("model name", "?")
    if "cpu family" in first and "model" in first:
        cpu += f" (family {first['cpu family']}, model {first['model']})"
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def database(backend: str, workdir: Path, name_suffix: str = "") -> tuple[str, Callable[[], None]]:
    """A fresh database's URL (SQLite: a file in `workdir`), and how to drop it; PostgreSQL's
    is named by this process and `name_suffix` (bench/compare.py makes two at once)."""
    if backend == "sqlite":
        return f"sqlite:///{workdir}/hub.sqlite3", lambda: None
    from sqlalchemy import create_engine, text

    name = f"hub_bench_{os.getpid()}{'_' + name_suffix if name_suffix else ''}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def prepare(config_dir: Path, coupons_needed: int) -> list[str]:
    from hub.app import Hub
    from hub.config import load_config
    from hub.db.migrate import upgrade

    hub = Hub(load_config(config_dir))
    try:
        upgrade(hub.db)
        hub.companies.add(NIP, "Bench Leasing sp. z o.o.", actor=operator("bench"))
        hub.companies.credit(
            NIP, 161_50 * 1000 * (coupons_needed // 1000 + 1), "bench funding", actor=operator("bench")
        )
        ids: list[str] = []
        while len(ids) < coupons_needed:
            batch = hub.coupons.issue(
                request_id=str(uuid.uuid4()), company_nip=NIP, case_type="REJ_NEW", count=1000, actor=operator("bench")
            )
            ids += [c.coupon_id for c in batch.coupons]
        return ids[:coupons_needed]
    finally:
        hub.close()


def envelope(operation: str, fields: dict) -> etree._Element:
    """An unsigned office request, as the tests' clients send it."""
    return office_request(operation, **fields)


@contextmanager
def prepared_hub(
    backend: str, coupons_needed: int, prefix: str, name_suffix: str = "", tree: Path = REPO
) -> Iterator[tuple[Path, list[str]]]:
    """The shipped config on a fresh database (`backend`) with `coupons_needed` coupons issued:
    the config's folder and the coupon ids. The database and the files go when the block ends.
    The schema is `tree`'s, its migrations run by its own code (bench/compare.py's other tree)."""
    from hub.cli.demo import SHIPPED_CONFIG, copy_config

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    url, drop = database(backend, workdir, name_suffix)
    try:
        config_dir = copy_config(SHIPPED_CONFIG, workdir / "config", url)
        coupons = prepare(config_dir, coupons_needed) if tree == REPO else prepare_in(tree, config_dir, coupons_needed)
        yield config_dir, coupons
    finally:
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


_PREPARE = (
    "import json, sys; from pathlib import Path; from bench.soap import prepare; "
    "print(json.dumps(prepare(Path(sys.argv[1]), int(sys.argv[2]))))"
)


def prepare_in(tree: Path, config_dir: Path, coupons_needed: int) -> list[str]:
    """`prepare` run by `tree`'s own code: its migrations make the schema, as its `hub serve`
    would find it. Exits with one line if that fails."""
    done = subprocess.run(
        [sys.executable, "-c", _PREPARE, str(config_dir), str(coupons_needed)],
        cwd=tree, env=own_code(tree=tree), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{tree}: preparing its database failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def wait_up(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


WRK_SCRIPT = Path(__file__).resolve().parent / "signed_bodies.lua"


def need_wrk() -> str:
    """wrk's path, or exit with one line saying how to get it."""
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("bench/soap.py needs wrk (apt-get install wrk)")
    return wrk


def load(port: int, path: str, action: str, bodies: list[bytes], clients: int) -> dict:
    """Send every body exactly once with wrk -t1 -c`clients` (bench/signed_bodies.lua); the rate
    and latencies as wrk measured them, errors counted. Exits with one line if wrk fails or
    not every body is answered within the time limit."""
    wrk = need_wrk()
    if any(b"\0" in body for body in bodies):
        raise ValueError("a body contains a NUL byte, signed_bodies.lua's separator")
    limit_s = 600 + len(bodies) // 50
    with tempfile.TemporaryDirectory(prefix="hub-bench-wrk-") as tmp:
        bodies_file, done_file = Path(tmp) / "bodies", Path(tmp) / "done"
        bodies_file.write_bytes(b"\0".join(bodies))
        proc = subprocess.Popen(
            [
                wrk, "-t1", f"-c{clients}", f"-d{limit_s + 60}s", "--timeout", "60s", "-s", str(WRK_SCRIPT),
                f"http://127.0.0.1:{port}{path}", "--", str(bodies_file), path, action, str(done_file), str(clients),
            ],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + limit_s
        while not done_file.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # ends wrk's sleep for -d: it reports and runs done()
        out, err = proc.communicate(timeout=60)
    report = next((line for line in reversed(out.decode(errors="replace").splitlines()) if line.startswith("{")), None)
    if proc.returncode != 0 or report is None:
        detail = (err.decode(errors="replace").strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        sys.exit(f"wrk failed on port {port}: {detail}")
    r = json.loads(report)
    if r["answered"] != len(bodies) or r["sent"] != len(bodies):
        n, limit = len(bodies), f"limit {limit_s} s"
        sys.exit(f"wrk on port {port}: {r['sent']} of {n} bodies sent, {r['answered']} answered ({limit})")
    if r["latencies"] + r["socket_errors"]["timeout"] != r["answered"]:
        sys.exit(f"wrk on port {port}: {r['latencies']} latencies for {r['answered']} answers (signed_bodies.lua)")
    socket_errors = sum(r["socket_errors"][kind] for kind in ("connect", "read", "write", "timeout"))
    first_error = r["first_error"] or (f"wrk socket errors: {r['socket_errors']}" if socket_errors else None)
    elapsed = r["elapsed_us"] / 1e6
    return {
        "requests": len(bodies),
        "errors": r["errors"] + socket_errors,
        "first_error": first_error,
        "seconds": round(elapsed, 2),
        "per_s": round(len(bodies) / elapsed, 1),
        "p50_ms": round(r["p50_us"] / 1000, 1),
        "p99_ms": round(r["p99_us"] / 1000, 1),
    }


def measured_load(
    server: subprocess.Popen, port: int, path: str, action: str, bodies: list[bytes], clients: int
) -> dict:
    """`load`, and what it cost: the CPU ms a request of `server`'s processes (gunicorn's master
    and its workers) and of PostgreSQL's (its backends, its WAL writer: ~0 for a server with no
    database), and the share of the machine's CPU time left idle meanwhile (wrk's own is in
    neither: it is busy time of no server)."""
    server_pids, pg_pids = process_tree(server.pid), postgres_processes()
    server_before, pg_before, (total_before, idle_before) = cpu_s(server_pids), cpu_s(pg_pids), machine_times()
    result = load(port, path, action, bodies, clients)
    server_after, pg_after, (total, idle) = cpu_s(server_pids), cpu_s(pg_pids), machine_times()
    return {
        **result,
        "server_cpu_ms": round((server_after - server_before) * 1000 / len(bodies), 3),
        "postgresql_cpu_ms": round((pg_after - pg_before) * 1000 / len(bodies), 3),
        "idle": round((idle - idle_before) / (total - total_before), 3) if total > total_before else None,
    }


def crypto_floor(identity: SigningIdentity, rounds: int = 300) -> dict:
    """One RSA-2048 signature plus one verification, the floor of a signed exchange."""
    key, public = identity.private_key, identity.cert.public_key()
    data = b"x" * 32
    start = time.perf_counter()
    for _ in range(rounds):
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        public.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    each = (time.perf_counter() - start) / rounds
    return {"sign_plus_verify_ms": round(each * 1000, 3), "max_per_s_per_core": round(1 / each, 1)}


def own_code(env: dict | None = None, tree: Path = REPO) -> dict:
    """The environment for a process that runs `tree`'s code (this one's unless told):
    `.venv/bin/hub` imports the checkout the venv was installed from, which is another tree
    when a venv is shared (a `git archive` of an older commit, linked to this venv, to compare
    against)."""
    return {**os.environ, **(env or {}), "PYTHONPATH": str(tree)}


def start(cmd: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=own_code(env), start_new_session=True
    )


def gunicorn(app: str, port: int, workers: int, pinned: bool = False) -> subprocess.Popen:
    """A baseline under gunicorn with the settings `hub serve` gives its own (hub/cli/serve.py),
    `pinned`: each worker on a CPU of its own, as `hub serve` runs them on SQLite."""
    pinning = ["-c", str(REPO / "bench/pinned_workers.py")] if pinned else []
    return start(
        [
            sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(THREADS),
            "--worker-connections", str(THREADS), "--keep-alive", "0", *pinning,
            "-b", f"127.0.0.1:{port}", "--access-logfile", "-", app,
        ]
    )  # fmt: skip


def baselines_of(backend: str, workers: int) -> dict[str, str]:
    """The baselines a hub on `backend` is compared with: served with its workers pinned to
    CPUs where `hub serve` would pin the hub's (hub.ops.cpus.worker_cpus), else not."""
    suffix = PINNED if worker_cpus(None, backend == "sqlite", workers) is not None else ""
    return {"bare_signed": f"bare_signed{suffix}", "unsigned_spyne": f"unsigned_spyne{suffix}"}


class Requests:
    """Signed request bodies, each used once."""

    def __init__(self, identity: SigningIdentity, ttl_s: int = 900) -> None:
        self.identity = identity
        self.ttl_s = ttl_s  # long enough for the whole run: a request signed first is sent last

    def signed(self, op: str, fields: dict) -> bytes:
        return etree.tostring(sign_envelope(envelope(op, fields), self.identity, ttl_s=self.ttl_s))

    def verify(self, coupons: list[str], n: int) -> list[bytes]:
        return [
            self.signed("VerifyCoupon", {"CouponId": coupons[i % len(coupons)], "OfficeCode": "1465"}) for i in range(n)
        ]

    def redeem(self, coupons: list[str]) -> list[bytes]:
        return [
            self.signed(
                "RedeemCoupon",
                {
                    "RequestId": str(uuid.uuid4()),
                    "CouponId": c,
                    "OfficeCode": "1465",
                    "CaseNumber": f"WK.{i}",
                    "CaseType": "REJ_NEW",
                },
            )
            for i, c in enumerate(coupons)
        ]


def hub_checks(config_dir: Path, tree: Path = REPO) -> dict:
    """`hub ledger verify` and `hub audit verify` after the run, by `tree`'s code: both must pass."""
    checks = {}
    for name, command in (("ledger_verify", ["ledger", "verify"]), ("audit_verify", ["audit", "verify"])):
        done = subprocess.run(
            [str(tree / ".venv/bin/hub"), "--config", str(config_dir), *command],
            cwd=tree, env=own_code(tree=tree), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        checks[name] = "ok" if done.returncode == 0 else f"FAILED: {done.stdout[-500:]}{done.stderr[-500:]}"
    return checks


@dataclass
class Target:
    """One server under load: its port and path, its bodies by operation (each sent once), and
    its process (`server`, once started: what it spends is measured, `measured_load`)."""

    port: int
    path: str
    bodies: dict[str, list[bytes]]
    server: subprocess.Popen | None = None


OPERATIONS = ("VerifyCoupon", "RedeemCoupon")


def interleaved(targets: dict[str, Target], rounds: int, clients: int, warmup: int) -> dict[str, dict]:
    """Every target's operations in `rounds` rounds, the targets in turn within a round (in
    reverse order every other round), so that a target and its baseline are measured seconds
    apart: this host drifts by ±25% within minutes, more than most differences between them.
    Each target's bodies are split over the rounds after its `warmup` first (sent unmeasured)."""
    for target in targets.values():
        for op in OPERATIONS:
            if warmup:
                load(target.port, target.path, f"{ns.OFFICE}#{op}", target.bodies[op][:warmup], clients)
    runs: dict[str, dict[str, list[dict]]] = {name: {op: [] for op in OPERATIONS} for name in targets}
    order = list(targets)
    for r in range(rounds):
        for op in OPERATIONS:
            for name in order if r % 2 == 0 else reversed(order):
                target = targets[name]
                measured = target.bodies[op][warmup:]
                share = len(measured) // rounds
                assert target.server is not None, f"{name} was not started"
                chunk = measured[r * share : (r + 1) * share]
                runs[name][op].append(
                    measured_load(target.server, target.port, target.path, f"{ns.OFFICE}#{op}", chunk, clients)
                )
    return runs


def summary(runs: list[dict]) -> dict:
    """A target's rounds of one operation: the medians, the errors summed, and each round."""
    return {
        "requests": sum(run["requests"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "first_error": next((run["first_error"] for run in runs if run["first_error"]), None),
        "per_s": round(statistics.median(run["per_s"] for run in runs), 1),
        "p50_ms": round(statistics.median(run["p50_ms"] for run in runs), 1),
        "p99_ms": round(statistics.median(run["p99_ms"] for run in runs), 1),
        "p99_ms_worst_round": max(run["p99_ms"] for run in runs),
        "rounds_per_s": [run["per_s"] for run in runs],
        "rounds_p99_ms": [run["p99_ms"] for run in runs],
        "server_cpu_ms": round(statistics.median(run["server_cpu_ms"] for run in runs), 3),
        "postgresql_cpu_ms": round(statistics.median(run["postgresql_cpu_ms"] for run in runs), 3),
        "idle": round(statistics.median(run["idle"] for run in runs if run["idle"] is not None), 3),
    }


def ratios(
    runs: dict[str, list[dict]], base: dict[str, list[dict]], rate: Callable[[dict], float] | None = None
) -> dict:
    """The median of the rounds' ratios, each round's against the baseline's round beside it:
    of their rates, or of what `rate` makes of a round (`per_cpu_ms`). To three places: at two,
    0.797 would read as 0.80, a target met (BENCHMARKS.md run 31)."""
    rate = rate or (lambda run: run["per_s"])
    return {
        op: round(statistics.median(rate(h) / rate(b) for h, b in zip(runs[op], base[op], strict=True)), 3)
        for op in OPERATIONS
    }


def per_cpu_ms(run: dict) -> float:
    """Requests a CPU ms of the server's processes and PostgreSQL's: `ratios` by it is what the
    rate's ratio would be on a machine kept busy, leaving out the cores a target leaves idle,
    waiting for a lock or for the connections to come its way."""
    return 1 / (run["server_cpu_ms"] + run["postgresql_cpu_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_backend_option(parser)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000, help="measured, per operation and target")
    parser.add_argument("--rounds", type=int, default=4, help="the requests split into interleaved rounds")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    need_wrk()
    if args.rounds < 1 or args.requests < args.rounds:
        sys.exit("bench/soap.py: --rounds must be at least 1 and at most --requests")
    backends = chosen_backends(args.backend)

    identity = SigningIdentity.load(REPO / "config/keys/pojazd-1465.key", REPO / "config/keys/pojazd-1465.crt")
    requests = Requests(identity)
    n = args.requests + args.warmup
    fake = [f"BENCH{i:08d}" for i in range(n)]
    unsigned = {
        "VerifyCoupon": [
            etree.tostring(envelope("VerifyCoupon", {"CouponId": c, "OfficeCode": "1465"}))
            for c in fake
        ],
        "RedeemCoupon": [
            etree.tostring(
                envelope(
                    "RedeemCoupon",
                    {"RequestId": str(uuid.uuid4()), "CouponId": c, "OfficeCode": "1465",
                     "CaseNumber": "WK.1", "CaseType": "REJ_NEW"},
                )
            )
            for c in fake
        ],
    }  # fmt: skip
    t0 = time.perf_counter()
    signed = {"VerifyCoupon": requests.verify(fake, n), "RedeemCoupon": requests.redeem(fake)}
    signing_ms = (time.perf_counter() - t0) * 1000 / (2 * n)

    ports = {
        "unsigned_spyne": 8312, "bare_signed": 8313, "unsigned_spyne_pinned": 8315, "bare_signed_pinned": 8316,
        "hub_sqlite": 8311, "hub_postgresql": 8314,
    }  # fmt: skip
    compared = {f"hub_{backend}": baselines_of(backend, args.workers) for backend in backends}
    apps = {"unsigned_spyne": "bench.baseline_app:app", "bare_signed": "bench.signed_baseline_app:app"}
    bodies_of = {"unsigned_spyne": unsigned, "bare_signed": signed}
    baselines = {name: kind for pair in compared.values() for kind, name in pair.items()}  # served: their kind
    targets = {name: Target(ports[name], "/", bodies_of[kind]) for name, kind in baselines.items()}
    procs: list[subprocess.Popen] = []
    with ExitStack() as hubs:
        try:
            for name, kind in baselines.items():
                pinned = name.endswith(PINNED)
                targets[name].server = gunicorn(apps[kind], ports[name], args.workers, pinned=pinned)
                procs.append(targets[name].server)
            configs = {}
            for backend in backends:
                name = f"hub_{backend}"
                config_dir, coupons = hubs.enter_context(prepared_hub(backend, n, "hub-bench-"))
                configs[name] = config_dir
                bodies = {"VerifyCoupon": requests.verify(coupons, n), "RedeemCoupon": requests.redeem(coupons)}
                hub = start(
                    [
                        str(REPO / ".venv/bin/hub"), "--config", str(config_dir), "serve",
                        "--port", str(ports[name]), "--workers", str(args.workers),
                    ]
                )  # fmt: skip
                targets[name] = Target(ports[name], "/soap/office", bodies, hub)
                procs.append(hub)
            for target in targets.values():
                wait_up(f"http://127.0.0.1:{target.port}{target.path}?wsdl")
            crypto = crypto_floor(identity)
            runs = interleaved(targets, args.rounds, args.clients, args.warmup)
        finally:
            stop(procs)
        results: dict = {
            "machine": machine(),
            "clients": args.clients,
            "workers": args.workers,
            "requests_per_operation": args.requests,
            "rounds": args.rounds,
            "client_signing_ms_each": round(signing_ms, 3),
            "crypto_floor": crypto,
        }
        for name in targets:
            results[name] = {op: summary(runs[name][op]) for op in OPERATIONS}
        for name, config_dir in configs.items():
            results[name]["checks"] = hub_checks(config_dir)
            bare, unsigned_spyne = compared[name]["bare_signed"], compared[name]["unsigned_spyne"]
            results[name]["baselines"] = [bare, unsigned_spyne]
            results[name]["to_bare_signed"] = ratios(runs[name], runs[bare])
            results[name]["cpu_to_bare_signed"] = ratios(runs[name], runs[bare], per_cpu_ms)
            results[name]["to_unsigned_spyne"] = ratios(runs[name], runs[unsigned_spyne])
    print(json.dumps(results, indent=2))
    failed = [
        f"{target} {op}"
        for target, result in results.items()
        if isinstance(result, dict)
        for op, run in result.items()
        if isinstance(run, dict) and run.get("errors")
    ] + [f"{name} {check}" for name in configs for check, verdict in results[name]["checks"].items() if verdict != "ok"]
    if failed:
        sys.exit(f"errors or failed checks: {', '.join(failed)}")


def stop(procs: list[subprocess.Popen]) -> None:
    """Stop servers by their whole process groups."""
    for p in procs:
        try:
            os.killpg(p.pid, 15)
            p.wait(10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.wait(10)


def clean_up(procs: list[subprocess.Popen], drop: Callable[[], None], workdir: Path) -> None:
    """Stop the servers (their whole process groups), drop the database, remove the files
    (bench/workers.py)."""
    stop(procs)
    drop()
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

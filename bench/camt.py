"""camt.053 import: the hub's streaming parser and its full import against a bare
lxml iterparse of the same file (baseline), each in a fresh process, same run.

    .venv/bin/python bench/camt.py [--entries 100000] [--statements 10] [--backend both] [--rounds 3]

Each of `--rounds` rounds measures the baseline, the parse and each import once, in reverse
order every other round, and each ratio is the median of the rounds' ratios, a round's
measure against the baseline of the same round: this shared host drifts by ±25% within
minutes, and one baseline of 1.5 s measured once moved every ratio with it (the same code's
SQLite import 7.0x, 7.9x and 8.4x in three runs, BENCHMARKS.md run 28). Each measure's
seconds and CPU are the medians of its rounds, its peak memory the highest.

The file holds the entries spread over several statements of the escrow account (one a day,
as a bank's weekly file does), each with balances that add up; a tenth of the amounts are
written with trailing zeros past the grosz ("12.34000"), as some banks write them.

baseline: iterparse over Ntry end events, clearing each element (nothing checked).
parse:    hub.adapters.camt.read_statement: every field checked, amounts to the grosz.
import:   StatementService.import_file of the same file on SQLite and/or PostgreSQL (a fresh
          database each; $HUB_BENCH_PG_URL, default the tests' server): one pass in one
          transaction, each statement's balances checked, entries booked in chunks (one
          insert and one ledger apply a chunk), the document parsed meanwhile by a process of
          its own (hub.adapters.camt_process: this file is past its 4 MiB). Every entry names
          a NIP no company has: suspense. Ledger.verify() must hold after the import.
Peak memory is VmHWM of the measuring process (`peak_mb`) and of the import's parsing process
(`parser_peak_mb`, sampled every 50 ms): the memory target is for the two together.
cpu_seconds is the measuring process's own CPU (on a shared machine wall time also counts the
waits for a core); parser_cpu_seconds the parsing process's; server_cpu_seconds the CPU of
PostgreSQL's backends for the import's database, the import's two connections (its own and its
lookups') among them (read from /proc: the server must run on the same machine).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.child import add_backend_option, chosen_backends, run_child  # noqa: E402
from bench.soap import machine  # noqa: E402

BASELINE = """
import sys, time
from lxml import etree
from bench.child import report
start, cpu = time.perf_counter(), time.process_time()
n = 0
for _, el in etree.iterparse(sys.argv[1], events=("end",), tag="{*}Ntry", resolve_entities=False, no_network=True):
    n += 1
    el.clear()
    while el.getprevious() is not None:
        del el.getparent()[0]
report(time.perf_counter() - start, entries=n, cpu_seconds=time.process_time() - cpu)
"""

PARSE = """
import sys, time
from hub.adapters.camt import read_statement
from bench.child import report
start, cpu = time.perf_counter(), time.process_time()
n = 0
with open(sys.argv[1], "rb") as stream:
    for item in read_statement(stream):
        n += hasattr(item, "amount_grosze")
report(time.perf_counter() - start, entries=n, cpu_seconds=time.process_time() - cpu)
"""

IMPORT = """
import sys, time
from pathlib import Path
from bench.child import ChildrenPeak, children_cpu_s, cpu_s, report
from hub.access import operator
from hub.app import Hub
from hub.config import load_config
from hub.db.migrate import upgrade
hub = Hub(load_config(Path(sys.argv[2])))
upgrade(hub.db)


def server_cpu():  # CPU seconds of the PostgreSQL backends connected to the import's database
    if hub.db.is_sqlite:
        return 0.0
    with hub.db.engine.connect() as connection:
        backends = connection.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return cpu_s(set(backends.scalars()))


server = server_cpu()
start, cpu, parser_cpu = time.perf_counter(), time.process_time(), children_cpu_s()
with ChildrenPeak() as parser_peak:
    result = hub.statements.import_file(Path(sys.argv[1]), actor=operator("bench"))
seconds, cpu, parser_cpu = time.perf_counter() - start, time.process_time() - cpu, children_cpu_s() - parser_cpu
server = server_cpu() - server
assert len(result.statements) == int(sys.argv[3]), result
assert result.imported + result.unmatched == int(sys.argv[4]), result  # every entry booked: none a duplicate
from hub.ledger import Ledger
with hub.db.read() as session:
    Ledger(session).verify()
report(
    seconds,
    entries=result.imported + result.unmatched,
    cpu_seconds=cpu,
    parser_cpu_seconds=parser_cpu,
    server_cpu_seconds=server,
    parser_peak_mb=parser_peak.mb,
)
"""


def measure(code: str, *args: str) -> dict:
    return {k: round(v, 2) for k, v in run_child(code, *args).items()}


def database(backend: str, work: Path) -> str:
    """A fresh, empty database for one import run."""
    if backend == "sqlite":
        return f"sqlite:///{work}/hub-{uuid.uuid4().hex[:12]}.sqlite3"
    from sqlalchemy import create_engine, make_url, text

    server = make_url(os.environ.get("HUB_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    name = f"hub_bench_camt_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server.set(database=name).render_as_string(hide_password=False)


def drop(url: str, work: Path) -> None:
    """Drop a database `database` made: PostgreSQL's, or SQLite's file and its WAL."""
    from sqlalchemy import create_engine, make_url, text

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        for file in work.glob(f"{Path(parsed.database or '').name}*"):
            file.unlink()
        return
    engine = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
    engine.dispose()


def write(path: Path, account: str, n: int, statements: int) -> None:
    """`n` entries over `statements` statements, streamed (no statement's entries are held)."""
    from hub.money import format_pln
    from tests.support.camt import Entry, Statement, write_document

    def amount(i: int) -> int:
        return (i % 1000 + 1) * 100 + i % 100

    def entries(first: int, last: int):
        for i in range(first, last):
            written = format_pln(amount(i)) + ("000" if i % 10 == 0 else "")
            yield Entry(written, remittance=f"przelew {i} NIP 5260250274", ref=f"R{i}", end_to_end_id=f"E{i}")

    bounds = [n * k // statements for k in range(statements + 1)]
    days, opening = [], 0
    for k in range(statements):
        closing = opening + sum(amount(i) for i in range(bounds[k], bounds[k + 1]))
        days.append(
            Statement(
                account,
                entries(bounds[k], bounds[k + 1]),
                statement_id=f"BENCH-{k + 1}",
                sequence=str(k + 1),
                opening=format_pln(opening),
                closing=format_pln(closing),
            )
        )
        opening = closing
    write_document(path, days)


def _medians(runs: list[dict]) -> dict:
    """One measure's rounds: the median of each figure, the highest peak memory, and each
    round's seconds."""
    peaks = [k for k in runs[0] if k.endswith("peak_mb")]
    medians = {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0] if k not in (*peaks, "entries")}
    medians["entries"] = runs[0]["entries"]  # the same in every round (each import asserts it)
    highest = {k: max(r[k] for r in runs) for k in peaks}
    return {**medians, **highest, "rounds_seconds": [r["seconds"] for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--statements", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="each measure once a round, in reverse order every other")
    add_backend_option(parser)
    args = parser.parse_args()
    from hub.cli.demo import SHIPPED_CONFIG, copy_config
    from hub.config import load_config

    work = Path(tempfile.mkdtemp(prefix="hub-bench-camt-"))
    try:
        config = copy_config(SHIPPED_CONFIG, work / "config", "sqlite:///var/hub.sqlite3")
        escrow = load_config(config).bank.escrow_account
        big = work / "big.xml"
        write(big, escrow, args.entries, args.statements)
        backends = chosen_backends(args.backend)

        def import_into(backend: str, round_: int) -> dict:
            url = database(backend, work)
            try:
                config = copy_config(SHIPPED_CONFIG, work / f"config-{backend}-{round_}", url)
                return measure(IMPORT, str(big), str(config), str(args.statements), str(args.entries))
            finally:
                drop(url, work)  # a failed import's database goes too

        measures: dict[str, Callable[[int], dict]] = {
            "baseline_iterparse": lambda _round: measure(BASELINE, str(big)),
            "hub_parse": lambda _round: measure(PARSE, str(big)),
            **{f"hub_import_{b}": functools.partial(import_into, b) for b in backends},
        }
        rounds: list[dict[str, dict]] = []
        for round_ in range(args.rounds):
            names = list(measures) if round_ % 2 == 0 else list(reversed(measures))
            rounds.append({name: measures[name](round_) for name in names})
        results: dict[str, object] = {
            "machine": machine(),
            "file_mb": round(big.stat().st_size / 1e6, 1),
            "statements": args.statements,
            "rounds": args.rounds,
        }
        for name in measures:
            results[name] = _medians([r[name] for r in rounds])

        def ratio(name: str, digits: int) -> tuple[float, list[float]]:
            each = [round(r[name]["seconds"] / r["baseline_iterparse"]["seconds"], digits) for r in rounds]
            return round(statistics.median(each), digits), each

        results["parse_ratio"], results["parse_ratio_rounds"] = ratio("hub_parse", 2)
        for backend in backends:
            name = f"import_ratio_{backend}"
            results[name], results[f"{name}_rounds"] = ratio(f"hub_import_{backend}", 1)
        print(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

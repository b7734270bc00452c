"""Prometheus metrics: what the SOAP endpoints count, and what a scrape reads from the database.

Counted by the endpoints (hub.services.endpoint calls `observe_request`, `signature_refused`
and `message_log_failed`, nothing else of this module):

    hub_soap_requests_total{service, operation, fault}         fault "none" for an answer
    hub_soap_request_duration_seconds{service, operation}     histogram
    hub_signature_failures_total{reason}                       the wsse/wsu fault code
    hub_message_log_failures_total{direction}                  IN: refused; OUT: answered, not logged

Read at scrape time (one short read transaction, `StateCollector`):

    hub_outbox_pending{kind}, hub_outbox_failed{kind}, hub_outbox_oldest_pending_age_seconds{kind}
    hub_coupon_holds_open, hub_coupon_holds_open_grosze       ISSUED coupons and their held amount
    hub_bank_statement_gaps                                    escrow statements after a gap (ask the bank)
    hub_database_up                                            0 when that read failed
    hub_ledger_check_last_run_timestamp_seconds, hub_ledger_check_ok, hub_ledger_check_problems
                                                               the last `hub ledger verify` (its CLI run
                                                               keeps the result in the database)

Several gunicorn workers: `hub serve` calls `enable_multiprocess(dir)` before forking,
every worker writes its counts to files there, and `/metrics` (in whichever worker
answers) sums the files of all of them (prometheus_client's multiprocess mode). The
database gauges are read once per scrape, never summed. Label values are bounded:
`operation` is an operation of the service's contract or "unknown", never a name
taken from a request, so a caller cannot make up new series.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import func, select

from hub.clock import Clock, utcnow
from hub.db.database import Database
from hub.ledger.checks import LedgerChecks
from hub.outbox.models import OutboxStatus

log = logging.getLogger("hub.ops.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
NO_FAULT = "none"
UNKNOWN_OPERATION = "unknown"
# SOAP answers take milliseconds; a 1,000-coupon PDF takes seconds.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# The hub's own registry (not prometheus_client's global one): in one process it is
# what /metrics shows; with several workers their files are read instead.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "hub_soap_requests",
    "SOAP requests answered, by service, operation and fault code (none: an answer).",
    ["service", "operation", "fault"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "hub_soap_request_duration_seconds",
    "Time from the first byte read to the signed answer, by service and operation.",
    ["service", "operation"],
    buckets=LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
SIGNATURE_FAILURES = Counter(
    "hub_signature_failures",
    "Requests refused by WS-Security, by fault code (FailedCheck, MessageExpired...).",
    ["reason"],
    registry=REGISTRY,
)
MESSAGE_LOG_FAILURES = Counter(
    "hub_message_log_failures",
    "Message log writes that failed: IN refuses the request; OUT an answer went out unlogged.",
    ["direction"],
    registry=REGISTRY,
)


# Each (service, operation, fault)'s two series, as `labels()` gives them: found here in one
# lookup, where `labels()` builds and checks its key under a lock, twice a request.
_REQUEST_SERIES: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}


def observe_request(service: str, operation: str, fault: str, duration_s: float) -> None:
    key = (service, operation, fault)
    series = _REQUEST_SERIES.get(key)
    if series is None:
        series = _REQUEST_SERIES[key] = (REQUESTS.labels(service, operation, fault), LATENCY.labels(service, operation))
    requests, latency = series
    requests.inc()
    latency.observe(duration_s)


def signature_refused(reason: str) -> None:
    SIGNATURE_FAILURES.labels(reason).inc()


def message_log_failed(direction: str) -> None:
    MESSAGE_LOG_FAILURES.labels(direction).inc()


# -- several processes --------------------------------------------------------------------


def enable_multiprocess(directory: Path | None = None) -> Path:
    """Count in files under `directory` (a fresh one when None), shared by every process
    forked after this call. prometheus_client picks its value store when it is imported,
    so the choice is made again here: the metrics above have no values before a worker
    counts its first request."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="hub-metrics-"))
    else:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):  # counts of an earlier run would be summed in
            stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.get_value_class()
    return directory


def remove_at_exit(directory: Path) -> None:
    """Remove `directory` when this process (gunicorn's master) exits; not when a forked
    worker does, which inherits the hook."""
    owner = os.getpid()

    def remove() -> None:
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)

    atexit.register(remove)


def worker_exited(pid: int) -> None:
    """gunicorn's child_exit hook: a dead worker's live gauges stop counting (its counters stay)."""
    if os.environ.get(MULTIPROC_ENV):
        mark_process_dead(pid)


# -- the scrape ---------------------------------------------------------------------------


class StateCollector:
    """Gauges read from the database at scrape time: the outbox and the open coupon holds."""

    def __init__(self, db: Database, clock: Clock = utcnow, escrow_account: str | None = None) -> None:
        self.db = db
        self.clock = clock
        self.escrow_account = escrow_account

    def collect(self) -> Iterator[Metric]:
        pending = GaugeMetricFamily(
            "hub_outbox_pending", "Outbox records waiting to be delivered, by kind.", labels=["kind"]
        )
        failed = GaugeMetricFamily(
            "hub_outbox_failed",
            "Outbox records that failed every attempt (need `hub bank send --retry-failed` or similar).",
            labels=["kind"],
        )
        oldest = GaugeMetricFamily(
            "hub_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox record, by kind.",
            labels=["kind"],
        )
        holds = GaugeMetricFamily(
            "hub_coupon_holds_open", "Coupons issued and not yet redeemed, cancelled or expired (each holds money)."
        )
        held = GaugeMetricFamily("hub_coupon_holds_open_grosze", "Money held for issued coupons, in grosze.")
        up = GaugeMetricFamily("hub_database_up", "1 when the scrape could read the database.")
        gaps = GaugeMetricFamily(
            "hub_bank_statement_gaps",
            "Imported statements of the escrow account that follow "
            "a gap: a missing ElctrncSeqNb, or an opening balance "
            "that is not the previous closing one (`hub bank statements` "
            "names them; ask the bank for the missing statement).",
        )
        checked_at = GaugeMetricFamily(
            "hub_ledger_check_last_run_timestamp_seconds",
            "When `hub ledger verify` last ran (Unix time); absent before its first run.",
        )
        check_ok = GaugeMetricFamily(
            "hub_ledger_check_ok",
            "1 when the last `hub ledger verify` found the ledger sound, 0 when it found problems.",
        )
        check_problems = GaugeMetricFamily(
            "hub_ledger_check_problems",
            "Problems the last `hub ledger verify` found (see its output or the ledger_checks table).",
        )
        try:
            outbox, coupons, gap_count = self._read()
            last_check = LedgerChecks(self.db, self.clock).last()
        except Exception:  # noqa: BLE001 - a scrape reports a broken database, it does not fail
            log.warning("metrics: cannot read the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        now = self.clock()
        for kind, status, count, first_created in outbox:
            if status == OutboxStatus.PENDING:
                pending.add_metric([kind], count)
                oldest.add_metric([kind], max(0.0, (now - first_created).total_seconds()))
            else:
                failed.add_metric([kind], count)
        holds.add_metric([], coupons[0])
        held.add_metric([], coupons[1])
        gaps.add_metric([], gap_count)
        up.add_metric([], 1)
        yield from (pending, failed, oldest, holds, held, gaps, up)
        if last_check is not None:
            checked_at.add_metric([], last_check.checked_at.timestamp())
            check_ok.add_metric([], 1 if last_check.ok else 0)
            check_problems.add_metric([], len(last_check.problems))
            yield from (checked_at, check_ok, check_problems)

    def _read(self) -> tuple[list[tuple[str, str, int, datetime]], tuple[int, int], int]:
        from hub.bank.statements import statement_gap_count
        from hub.coupons.models import ISSUED, Coupon
        from hub.outbox.models import FAILED, PENDING, OutboxRecord

        with self.db.read() as session:
            outbox = session.execute(
                select(OutboxRecord.kind, OutboxRecord.status, func.count(), func.min(OutboxRecord.created_at))
                .where(OutboxRecord.status.in_((PENDING, FAILED)))
                .group_by(OutboxRecord.kind, OutboxRecord.status)
            ).all()
            count, grosze = session.execute(
                select(func.count(), func.coalesce(func.sum(Coupon.amount_grosze), 0)).where(Coupon.status == ISSUED)
            ).one()
            gap_count = statement_gap_count(session, self.escrow_account) if self.escrow_account else 0
        # min() over a UtcDateTime column comes back without the type's conversion on SQLite
        return [(k, s, n, _aware(t)) for k, s, n, t in outbox], (int(count), int(grosze)), gap_count


class _HubRegistry:
    """The in-process counts (one process, no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(db: Database, clock: Clock = utcnow, escrow_account: str | None = None) -> bytes:
    """The text a scrape gets: counts (of every worker) and the database gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)
    else:
        registry.register(_HubRegistry())
    registry.register(StateCollector(db, clock, escrow_account))
    return generate_latest(registry)


def _aware(value) -> datetime:

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

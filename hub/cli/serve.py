"""`hub serve`, `hub client`, `hub audit verify`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import click

from hub.cli.main import PORT, CliContext, HubFactory, IntParam, cli, emit_json, json_option, pass_ctx

WORKER_CLASSES = ("gthread", "sync")
THREADS = 4  # a gthread worker's threads, `hub serve --threads`' default (bench/soap.py serves its baselines alike)


def run_gunicorn(
    make_hub: HubFactory,
    config_dir: Path,
    host: str,
    port: int,
    workers: int,
    log_level: str = "INFO",
    threads: int = THREADS,
    worker_class: str = "gthread",
    listening: Callable[[int], None] | None = None,
    pin_workers: bool | None = None,
) -> None:
    """gunicorn with the app loaded in each worker after fork: every worker
    has its own database connections and loads the signing key once. Logs are
    JSON lines on stderr; metrics are counted in a fresh directory shared by the
    workers ($PROMETHEUS_MULTIPROC_DIR if set, else a new temporary one). `make_hub`:
    the composition root's Hub factory; each worker serves its Hub's `wsgi()`.

    Threaded workers (gthread): a client that sends its request slowly occupies one
    thread, not the worker, so /healthz and other callers are still served, and the body
    deadline (`[security] request_body_timeout_s`) frees that thread. With `sync`
    workers one slow client holds a whole worker until gunicorn kills it (`timeout`).
    `sync` stays selectable for comparison (BENCHMARKS.md). `listening` is told the port
    once the master has bound it (with port 0, the one the OS picked). `pin_workers`: each
    worker on a CPU of its own (True), left to the scheduler (False), or the default (None:
    pinned on SQLite, hub.ops.cpus.worker_cpus)."""
    import gc
    import os

    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    from hub.config import load_config
    from hub.db.database import is_sqlite_url
    from hub.ops import metrics
    from hub.ops.cpus import worker_cpus
    from hub.ops.logging import LOGGED_BY_HUB, configure_logging, gunicorn_logconfig

    config = load_config(config_dir)  # refuse to start on a broken config, before forking
    _refuse_a_database_not_made_for_this_version(config.database.url)  # (Alembic's INFO lines not yet shown)
    configure_logging(log_level)
    cpus = worker_cpus(pin_workers, is_sqlite_url(config.database.url), workers)
    given = os.environ.get(metrics.MULTIPROC_ENV)
    counts = metrics.enable_multiprocess(Path(given) if given else None)
    if not given:
        metrics.remove_at_exit(counts)  # a temporary directory of our own

    class AccessLogger(Logger):
        """gunicorn's logger, but no access line for a request the hub logged itself
        (a SOAP request's line has the HTTP status and the caller's address): one line a request."""

        def access(self, resp, req, environ, request_time):
            if not environ.get(LOGGED_BY_HUB):
                super().access(resp, req, environ, request_time)

    class HubServer(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", worker_class)
            worker_threads = threads if worker_class == "gthread" else 1
            self.cfg.set("threads", worker_threads)
            # A worker takes a connection only while one of its threads is free (gthread takes up
            # to 1,000 and queues them): under load a worker whose threads are all busy leaves new
            # connections to one that can serve them at once, where they waited behind its requests
            # while the other idled (BENCHMARKS.md, run 28: the bare service's and the hub's p99
            # 36 -> 28 ms). A connection that sends nothing holds a thread for gunicorn's 5 s at
            # most (26+), then is closed: it cannot stop the worker from taking others.
            self.cfg.set("worker_connections", worker_threads)
            self.cfg.set("timeout", 60)
            # No keep-alive: every answer closes its connection, as sync workers always did. A
            # kept-alive connection that gunicorn closes when idle races a client that is just
            # sending its next POST on it, and the client gets a broken pipe for a request that
            # may not be retried (seen in the soak: 54 of 8,000). nginx in front keeps its own.
            self.cfg.set("keepalive", 0)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", "-")
            self.cfg.set("logger_class", AccessLogger)
            self.cfg.set("logconfig_dict", gunicorn_logconfig(log_level))
            self.cfg.set("child_exit", lambda _arbiter, worker: metrics.worker_exited(worker.pid))
            if cpus is not None:
                self.cfg.set("pre_fork", cpus.pre_fork)
                self.cfg.set("post_fork", cpus.post_fork)
            if (
                "control_socket_disable" in self.cfg.settings
            ):  # gunicorn 24+: one ~/.gunicorn socket for every hub process otherwise
                self.cfg.set("control_socket_disable", True)
            if listening is not None:
                self.cfg.set("when_ready", lambda arbiter: listening(arbiter.LISTENERS[0].getsockname()[1]))

        def load(self):
            app = make_hub(load_config(config_dir)).wsgi()
            # The app's objects live as long as the worker: out of the collector's sight, a full
            # collection no longer walks them (tens of ms each, every few hundred requests).
            gc.freeze()
            return app

    HubServer().run()


def _refuse_a_database_not_made_for_this_version(url: str) -> None:
    """One line and exit status 1, before forking, where this hub's migrations did not make
    the database as it is (`hub.db.migrate.schema_problem`): served, its every request would
    fail. A database that cannot be reached yet is served: `/readyz` says so meanwhile."""
    from hub.db.database import Database
    from hub.db.migrate import schema_problem

    db = Database(url)
    try:
        problem = schema_problem(db)
    finally:
        db.dispose()
    if problem is not None:
        raise click.ClickException(problem)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=PORT)
@click.option("--workers", default=2, show_default=True, type=IntParam(1, 64))
@click.option(
    "--threads",
    default=THREADS,
    show_default=True,
    type=IntParam(1, 64),
    help="Threads per worker: requests a worker serves at once (a slow client holds one thread, not the worker).",
)
@click.option(
    "--worker-class",
    default="gthread",
    show_default=True,
    type=click.Choice(WORKER_CLASSES),
    help="gunicorn's worker model; sync only to compare (one slow client holds a whole worker).",
)
@click.option(
    "--pin-workers/--no-pin-workers",
    default=None,
    help="Each worker on a CPU of its own. Default: on SQLite with two workers or more (the workers hand "
    "its writers' lock to each other: BENCHMARKS.md run 31), not on PostgreSQL (its server needs the CPUs too).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    envvar="HUB_LOG_LEVEL",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="JSON log lines on stderr from this level.",
)
@pass_ctx
def serve(
    ctx: CliContext,
    host: str,
    port: int,
    workers: int,
    threads: int,
    worker_class: str,
    pin_workers: bool | None,
    log_level: str,
) -> None:
    """Serve every SOAP endpoint (gunicorn), /healthz, /readyz and /metrics."""
    run_gunicorn(
        ctx.make_hub,
        ctx.config_dir.resolve(),
        host,
        port,
        workers,
        log_level,
        threads,
        worker_class,
        pin_workers=pin_workers,
    )


def _pem_file_option(flag: str, dest: str, help_text: str):
    """A PEM file `hub client` must be given, read from disk (the caller's key and
    certificate, the hub's certificate)."""
    return click.option(
        flag, dest, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help_text
    )


OPERATIONS = {
    "verify-coupon": "VerifyCoupon",
    "redeem-coupon": "RedeemCoupon",
    "reverse-redemption": "ReverseRedemption",
    "verify-payment": "VerifyPayment",
}


@cli.command("client", context_settings={"ignore_unknown_options": False})
@click.argument("call", type=click.Choice(sorted(OPERATIONS)))
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The hub's base address.")
@_pem_file_option("--key", "key_path", "Your PEM private key.")
@_pem_file_option("--cert", "cert_path", "Your PEM certificate.")
@_pem_file_option(
    "--hub-cert",
    "hub_cert_path",
    "The hub's certificate, to check its answers (a PEM file with two during the hub's key rotation).",
)
@click.option("--coupon", "coupon_id")
@click.option("--office", "office_code")
@click.option("--case-type")
@click.option("--case-number")
@click.option("--system", type=click.Choice(["POJAZD", "KIEROWCA", "WORD"]), help="verify-payment: whose case it is.")
@click.option("--payer-nip")
@click.option("--amount", help="PLN, e.g. 100.00")
@click.option("--redemption", "redemption_id")
@click.option("--reason")
@click.option("--request-id", help="A UUID; one is made up if omitted.")
@json_option
def client(
    call,
    url,
    key_path,
    cert_path,
    hub_cert_path,
    coupon_id,
    office_code,
    case_type,
    case_number,
    system,
    payer_nip,
    amount,
    redemption_id,
    reason,
    request_id,
    as_json,
) -> None:
    """A signed SOAP client of OfficeService, as Pojazd, Kierowca or WORD would call it."""
    import requests
    import zeep
    from cryptography import x509

    from hub.errors import HubError
    from hub.money import AmountError, parse_grosze, to_decimal
    from hub.signing.keys import SigningIdentity
    from hub.signing.zeep_plugin import HubSignature

    try:
        amount_pln = to_decimal(parse_grosze(amount)) if amount else None
    except AmountError as e:
        raise click.BadParameter(str(e), param_hint="--amount") from None
    fields = {
        "RequestId": request_id or str(uuid.uuid4()),
        "CouponId": coupon_id,
        "OfficeCode": office_code,
        "CaseType": case_type,
        "CaseNumber": case_number,
        "PayerNip": payer_nip,
        "Amount": amount_pln,
        "RedemptionId": redemption_id,
        "Reason": reason,
        "System": system,
    }
    operation = OPERATIONS[call]
    try:
        hub_certs = x509.load_pem_x509_certificates(hub_cert_path.read_bytes())
    except ValueError:
        raise click.BadParameter(f"{hub_cert_path} holds no PEM certificate", param_hint="--hub-cert") from None
    wsse = HubSignature.pinned(SigningIdentity.load(key_path, cert_path), hub_certs, "hub")
    # zeep's parser allows DTDs unless told otherwise (the WSDL's own schema imports stay allowed)
    settings = zeep.Settings(forbid_dtd=True, forbid_entities=True)
    wsdl = f"{url.rstrip('/')}/soap/office?wsdl"
    try:
        soap = zeep.Client(wsdl, wsse=wsse, settings=settings)
    except (requests.RequestException, zeep.exceptions.Error) as e:
        raise click.ClickException(f"cannot read the hub's WSDL at {wsdl}: {type(e).__name__}") from None
    service = soap.service
    wanted = set(_request_fields(soap, operation))
    missing = sorted(n for n in wanted if fields.get(n) is None and n not in ("CaseType", "PayerNip", "Amount"))
    if missing and not (operation == "VerifyCoupon" and set(missing) <= {"CaseNumber"}):
        raise click.UsageError(f"{operation} needs: " + ", ".join(missing))
    try:
        answer = getattr(service, operation)(**{k: v for k, v in fields.items() if k in wanted and v is not None})
    except zeep.exceptions.Fault as fault:
        error = HubError(fault.message)
        error.code = (fault.code or "Server").split(":")[-1].removeprefix("Client.")
        raise error from None
    except (requests.RequestException, zeep.exceptions.Error) as e:
        raise click.ClickException(f"{operation} at {url}: {type(e).__name__}: {e}") from None
    result = {k: _plain(v) for k, v in zeep.helpers.serialize_object(answer, dict).items()}
    if as_json:
        emit_json(result)
    else:
        for k, v in result.items():
            values = v if isinstance(v, list) else [v]  # VerifyPayment: one line a payment
            for value in values:
                if value is not None:
                    click.echo(f"{k:15} {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}")


def _request_fields(soap, operation: str) -> list[str]:
    """The element names of an operation's request, from the WSDL's binding (zeep's
    public Binding.get; the WSDL has one service with one port)."""
    port = next(iter(next(iter(soap.wsdl.services.values())).ports.values()))
    return [name for name, _ in port.binding.get(operation).input.body.type.elements]


def _plain(value):
    """An answer's value as JSON-ready text, lists and dicts kept (VerifyPayment's payments and items)."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return _text(value)


def _text(value) -> str | bool | int | None:
    from datetime import datetime

    from hub.clock import wire_time

    if value is None or isinstance(value, (bool, int)):  # JSON true/false and numbers, not "True"
        return value
    return wire_time(value) if isinstance(value, datetime) else str(value)


@cli.group("audit")
def audit() -> None:
    """The message log."""


@audit.command("verify")
@json_option
@pass_ctx
def audit_verify(ctx: CliContext, as_json: bool) -> None:
    """Check the message log's hash chain, its archives (`hub audit archive`) and the live
    log together, and every seal; name every altered, inserted or deleted record; list the
    requests with no answer record."""
    hub = ctx.hub
    restored = hub.restore_guard.check()
    archives = hub.message_archive
    report = archives.verify(hub.config.audit.seal_every_records)
    count = len(archives.manifests())
    unanswered = [
        {"seq": u.seq, "at": u.at, "service": u.service, "client": u.client_id, "log_id": u.log_id}
        for u in report.unanswered
    ]
    if as_json:
        emit_json(
            {
                "records": report.records,
                "archives": count,
                "ok": report.ok,
                "problems": list(report.problems),
                "seals": report.seals,
                "last_sealed_seq": report.last_sealed_seq,
                "unsealed": report.unsealed,
                "unanswered": unanswered,
                "recovery_pending": restored is not None,
                "time_stamped": report.stamped,
                "last_time_stamp": report.last_stamp_at,
            }
        )
    else:
        for problem in report.problems:
            click.echo(f"hub: message log: {problem}", err=True)
        if report.ok:
            click.echo(
                f"message log: {report.records} "
                f"records{f' ({count} archives and the live log)' if count else ''}, chain intact; "
                f"{report.seals} seals, the last of record {report.last_sealed_seq}; "
                f"{report.unsealed} records after it not yet sealed"
            )
            if report.stamped:
                click.echo(
                    f"message log: {report.stamped} seals time-stamped by the "
                    f"TSA, the latest at {report.last_stamp_at.isoformat()}"
                )
        for u in report.unanswered:
            click.echo(
                f"request {u.log_id} (record {u.seq}, {u.service}, {u.client_id}, {u.at.isoformat()}): no answer record"
            )
        if restored is not None:
            click.echo(
                f"hub: the database was restored to record {restored.db_seq}, "
                f"behind its archives (record {restored.archive_seq}): "
                "state changes are refused until `hub audit recover --apply`",
                err=True,
            )
    if not report.ok:
        raise SystemExit(1)


@audit.command("seal")
@json_option
@pass_ctx
def audit_seal(ctx: CliContext, as_json: bool) -> None:
    """Seal the message log's head now (sign it with the hub's key), and have the newest seal
    time-stamped by the TSA of `[audit] tsa_url` if set; run it from a timer."""
    from hub.audit.seals import stamp_newest

    hub = ctx.hub
    seal = hub.message_log.seal()
    stamped = stamp_newest(hub.db, hub.time_stamper) if hub.time_stamper else None
    if as_json:
        emit_json(
            {
                "sealed": seal is not None,
                "seq": seal.seq if seal else None,
                "sealed_at": seal.sealed_at if seal else None,
                "time_stamped_seq": stamped.seq if stamped else None,
            }
        )
        return
    click.echo(
        "message log: nothing new since the last seal" if seal is None else f"message log: sealed at record {seal.seq}"
    )
    if stamped:
        click.echo(f"message log: the seal of record {stamped.seq} is time-stamped by {hub.config.audit.tsa_url}")


@audit.command("recover")
@click.option(
    "--apply", "apply_", is_flag=True, help="Re-apply the missing requests in order, then take changes again."
)
@click.option(
    "--force",
    is_flag=True,
    help="With --apply: take changes again even if a request did not re-apply as it did the first time.",
)
@json_option
@pass_ctx
def audit_recover(ctx: CliContext, apply_: bool, force: bool, as_json: bool) -> None:
    """After a restore to an earlier point: the state-changing requests the archives hold and
    the database lacks; with --apply, re-apply them with their original RequestIds."""
    from hub.cli.main import cli_actor
    from hub.services.recovery import MISSING, Recovery

    recovery = Recovery(ctx.hub)
    restored = recovery.pending()
    if restored is None:
        if as_json:
            emit_json({"pending": False, "requests": []})
        else:
            click.echo("the database is not behind its archives: nothing to recover")
        return
    rows = recovery.apply(restored, cli_actor(), force) if apply_ else recovery.listing(restored)
    still = recovery.pending() if apply_ else restored
    if as_json:
        emit_json(
            {
                "pending": still is not None,
                "db_seq": restored.db_seq,
                "archive_seq": restored.archive_seq,
                "requests": rows,
            }
        )
    else:
        click.echo(
            f"the database was restored to record {restored.db_seq}; the archives reach record {restored.archive_seq}"
        )
        for r in rows:
            click.echo(
                f"record {r.seq}  {r.at.isoformat()}  {r.operation:17} "
                f"{r.request_id or '-':36}  {r.client_id}  {r.status}" + (f": {r.outcome}" if r.outcome else "")
            )
        missing = sum(r.status == MISSING for r in rows)
        if not apply_:
            click.echo(
                f"{missing} to re-apply: run `hub audit recover --apply`"
                if missing
                else "nothing to re-apply: run `hub audit recover --apply` to take changes again"
            )
        elif still is None:
            click.echo(f"re-applied {missing}; the hub takes changes again")
    if apply_ and still is not None:
        click.echo(
            "hub: some requests did not re-apply as they did the first time (above); the hub still refuses changes. "
            "Fix the cause and run it again, or accept with --force",
            err=True,
        )
        raise SystemExit(1)

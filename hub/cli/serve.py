"""`hub serve`, `hub client`, `hub audit verify`."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import click

from hub.cli.main import CliContext, cli, emit_json, json_option, pass_ctx


def run_gunicorn(config_dir: Path, host: str, port: int, workers: int) -> None:
    """gunicorn with the app loaded in each worker after fork: every worker
    has its own database connections and loads the signing key once."""
    from gunicorn.app.base import BaseApplication

    from hub.config import load_config
    from hub.services.wsgi import create_app

    load_config(config_dir)  # refuse to start on a broken config, before forking

    class HubServer(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("accesslog", "-")

        def load(self):
            return create_app(load_config(config_dir))

    HubServer().run()


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@pass_ctx
def serve(ctx: CliContext, host: str, port: int, workers: int) -> None:
    """Serve every SOAP endpoint (gunicorn)."""
    run_gunicorn(ctx.config_dir.resolve(), host, port, workers)


OPERATIONS = {
    "verify-coupon": "VerifyCoupon",
    "redeem-coupon": "RedeemCoupon",
    "reverse-redemption": "ReverseRedemption",
}


@cli.command("client", context_settings={"ignore_unknown_options": False})
@click.argument("call", type=click.Choice(sorted(OPERATIONS)))
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The hub's base address.")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Your PEM private key.")
@click.option("--cert", "cert_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Your PEM certificate.")
@click.option("--hub-cert", "hub_cert_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The hub's certificate, to check its answers.")
@click.option("--coupon", "coupon_id")
@click.option("--office", "office_code")
@click.option("--case-type")
@click.option("--case-number")
@click.option("--payer-nip")
@click.option("--amount", help="PLN, e.g. 100.00")
@click.option("--redemption", "redemption_id")
@click.option("--reason")
@click.option("--request-id", help="A UUID; one is made up if omitted.")
@json_option
def client(call, url, key_path, cert_path, hub_cert_path, coupon_id, office_code, case_type, case_number, payer_nip, amount,
           redemption_id, reason, request_id, as_json) -> None:
    """A signed SOAP client of OfficeService, as Pojazd, Kierowca or WORD would call it."""
    import zeep
    from cryptography import x509

    from hub.errors import HubError
    from hub.signing.keys import SigningIdentity
    from hub.signing.zeep_plugin import HubSignature

    fields = {
        "RequestId": request_id or str(uuid.uuid4()), "CouponId": coupon_id, "OfficeCode": office_code, "CaseType": case_type,
        "CaseNumber": case_number, "PayerNip": payer_nip, "Amount": Decimal(amount) if amount else None,
        "RedemptionId": redemption_id, "Reason": reason,
    }
    operation = OPERATIONS[call]
    hub_cert = x509.load_pem_x509_certificate(hub_cert_path.read_bytes())
    wsse = HubSignature.pinned(SigningIdentity.load(key_path, cert_path), hub_cert, "hub")
    # zeep's parser allows DTDs unless told otherwise (the WSDL's own schema imports stay allowed)
    settings = zeep.Settings(forbid_dtd=True, forbid_entities=True)
    service = zeep.Client(f"{url.rstrip('/')}/soap/office?wsdl", wsse=wsse, settings=settings).service
    wanted = {e[0] for e in service._binding._operations[operation].input.body.type.elements}
    missing = sorted(n for n in wanted if fields.get(n) is None and n not in ("CaseType", "PayerNip", "Amount"))
    if missing and not (operation == "VerifyCoupon" and set(missing) <= {"CaseNumber"}):
        raise click.UsageError(f"{operation} needs: " + ", ".join(missing))
    try:
        answer = getattr(service, operation)(**{k: v for k, v in fields.items() if k in wanted and v is not None})
    except zeep.exceptions.Fault as fault:
        error = HubError(fault.message)
        error.code = (fault.code or "Server").split(":")[-1].removeprefix("Client.")
        raise error from None
    result = {k: _text(v) for k, v in zeep.helpers.serialize_object(answer, dict).items()}
    if as_json:
        emit_json(result)
    else:
        for k, v in result.items():
            if v is not None:
                click.echo(f"{k:15} {v}")


def _text(value) -> str | None:
    from datetime import datetime

    from hub.clock import wire_time

    if value is None:
        return None
    return wire_time(value) if isinstance(value, datetime) else str(value)


@cli.group("audit")
def audit() -> None:
    """The message log."""


@audit.command("verify")
@json_option
@pass_ctx
def audit_verify(ctx: CliContext, as_json: bool) -> None:
    """Check the message log's hash chain; name every altered, inserted or deleted record."""
    from hub.audit.messagelog import MessageLog

    report = MessageLog(ctx.hub.db).verify()
    if as_json:
        emit_json({"records": report.records, "ok": report.ok, "problems": list(report.problems)})
    else:
        for problem in report.problems:
            click.echo(f"hub: message log: {problem}", err=True)
        if report.ok:
            click.echo(f"message log: {report.records} records, chain intact")
    if not report.ok:
        raise SystemExit(1)

"""`hub demo`: a fresh demo hub on SQLite with the fake bank beside it, a company
funded by the bank's statement and a batch of coupons, served on 127.0.0.1, with
the `hub client` commands to try."""

from __future__ import annotations

import re
import shlex
import shutil
import uuid
from pathlib import Path

import click

from hub.access import operator
from hub.cli.main import PORT, CliContext, HubFactory, IntParam, OutputFolder, cli, pass_ctx
from hub.cli.portal import DEMO_USERS, add_demo_users, enable_portal
from hub.cli.serve import run_gunicorn

SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config"
DEMO_NIP = "7010254361"  # the COMPANY client of the shipped clients.toml


def copy_config(source: Path, target: Path, database_url: str) -> Path:
    """The example config copied to `target` on another database; the bank WSDL
    path keeps pointing at the published contract file."""
    shutil.copytree(source, target)
    hub_toml = target / "hub.toml"
    text, n = re.subn(r'(?m)^url = ".*"$', f'url = "{database_url}"', hub_toml.read_text())
    if n != 1:
        raise ValueError(f"{hub_toml}: expected one [database] url line")
    hub_toml.write_text(text.replace('"../hub/wsdl/', f'"{source.parent}/hub/wsdl/'))
    return target


def start_fake_bank(config_dir: Path, data_dir: Path, port: int = 0):
    """The fake bank of the demo's config, served in a thread; the demo's hub.toml
    gets its address as `[bank] endpoint`."""
    from hub.config import load_config
    from hub.fakebank.server import FakeServer, partners_from_config

    server = FakeServer(partners_from_config(load_config(config_dir), data_dir), port=port).start()
    hub_toml = config_dir / "hub.toml"
    text, n = re.subn(r'(?m)^# endpoint = ".*"$', f'endpoint = "{server.url}/soap/bank"', hub_toml.read_text())
    if n != 1:
        server.stop()
        raise ValueError(f"{hub_toml}: expected one commented [bank] endpoint line")
    hub_toml.write_text(text)
    return server


def fund_by_statement(hub, bank, nip: str, amount_grosze: int) -> None:
    """A transfer to the company's virtual account, as the bank's statement shows it, imported."""
    from hub.clock import business_day

    company = hub.companies.account(nip, actor=operator("demo"))
    bank.add_credit(
        company.virtual_account,
        amount_grosze,
        f"Zasilenie konta {nip}",
        business_day(hub.clock()),
        payer_name=company.name,
    )
    hub.statements.import_document(bank.statement(business_day(hub.clock())), actor=operator("demo"))


def prepare_demo(target: Path, source: Path = SHIPPED_CONFIG, bank_port: int = 0, *, make_hub: HubFactory):
    """A fresh demo folder: the example config, an empty SQLite database, the fake
    bank running, a company funded by the bank's statement and a batch of 5 coupons.
    Returns the config folder, the coupon ids and the fake bank's server. `make_hub`:
    the composition root's Hub factory (hub.app.Hub)."""
    from hub.config import load_config
    from hub.db.migrate import upgrade

    if target.exists():
        shutil.rmtree(target)
    config_dir = copy_config(source, target / "config", "sqlite:///var/hub.sqlite3")
    enable_portal(config_dir)
    bank = start_fake_bank(config_dir, target / "fake-bank", bank_port)
    hub = make_hub(load_config(config_dir))
    try:
        upgrade(hub.db)
        hub.companies.add(DEMO_NIP, "Demo Leasing Polska sp. z o.o.", actor=operator("demo"))
        fund_by_statement(hub, bank.app.bank, DEMO_NIP, 5000_00)
        batch = hub.coupons.issue(
            request_id=str(uuid.uuid4()), company_nip=DEMO_NIP, case_type="REJ_NEW", count=5, actor=operator("demo")
        )
        add_demo_users(hub, DEMO_NIP)
    except BaseException:
        bank.stop()
        raise
    finally:
        hub.close()
    return config_dir, [c.coupon_id for c in batch.coupons], bank


def try_commands(config_dir: Path, coupon_id: str, port: int) -> list[str]:
    keys = config_dir / "keys"
    common = (
        f"--url http://127.0.0.1:{port} --key {shlex.quote(str(keys / 'pojazd-1465.key'))} "
        f"--cert {shlex.quote(str(keys / 'pojazd-1465.crt'))} --hub-cert {shlex.quote(str(keys / 'hub.crt'))}"
    )
    hub = ".venv/bin/hub" if Path(".venv/bin/hub").exists() else "hub"
    return [
        f"{hub} client verify-coupon {common} --coupon {coupon_id} --office 1465",
        f"{hub} client redeem-coupon {common} --coupon {coupon_id} "
        "--office 1465 --case-type REJ_NEW --case-number WK.5410.1.2026",
        f"{hub} --config {shlex.quote(str(config_dir))} company list",
        f"{hub} --config {shlex.quote(str(config_dir))} audit verify",
    ]


@cli.command("demo")
@click.option("--dir", "target", default="demo", show_default=True, type=OutputFolder(), help="Made anew on every run.")
@click.option("--port", default=8000, show_default=True, type=PORT)
@click.option("--workers", default=2, show_default=True, type=IntParam(1, 64))
@click.option("--bank-port", default=0, show_default="any free port", type=PORT, help="The fake bank's port.")
@pass_ctx
def demo(ctx: CliContext, target: Path, port: int, workers: int, bank_port: int) -> None:
    """A fresh demo: dev keys, SQLite, example config, the fake bank, a company funded by a statement; serves."""
    config_dir, coupons, bank = prepare_demo(target.resolve(), bank_port=bank_port, make_hub=ctx.make_hub)
    click.echo(
        f"demo hub: config {config_dir}, company NIP {DEMO_NIP} funded "
        "with 5000.00 PLN by a bank statement, 5 coupons issued:"
    )
    for c in coupons:
        click.echo(f"  {c}")
    click.echo(
        f"\nfake bank: {bank.url}/soap/bank?wsdl  statements: {bank.url}/statement  transfers: {bank.url}/transfers"
    )
    click.echo("the next day, pay the offices: bank settle (yesterday by default), then bank send")

    def listening(bound_port: int) -> None:  # once bound: `--port 0` prints the port it got
        click.echo(
            f"\nserving http://127.0.0.1:{bound_port}/soap/office?wsdl  (Ctrl-C stops)\n\n"
            "Try from another terminal, as Pojazd of office 1465:\n"
        )
        for command in try_commands(config_dir, coupons[0], bound_port):
            click.echo(f"  {command}")
        click.echo(f"\nportal (in Polish): http://127.0.0.1:{bound_port}/portal/  logins:")
        for login, _, password, who in DEMO_USERS:
            click.echo(f"  {login:<26} {password:<22} {who}")
        click.echo(
            "  (the administrator and the supervisor turn on a second factor, "
            "an authenticator app's code, at the first login)"
        )
        click.echo("")

    run_gunicorn(ctx.make_hub, config_dir, "127.0.0.1", port, workers, listening=listening)

"""`hub demo`: a fresh demo hub on SQLite with a funded company and a batch of
coupons, served on 127.0.0.1, with the `hub client` commands to try."""

from __future__ import annotations

import re
import shlex
import shutil
import uuid
from pathlib import Path

import click

from hub.access import operator
from hub.cli.main import cli
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


def prepare_demo(target: Path, source: Path = SHIPPED_CONFIG) -> tuple[Path, list[str]]:
    """A fresh demo folder: the example config, an empty SQLite database, a
    funded company and a batch of 5 coupons. Returns the config folder and the coupon ids."""
    from hub.app import Hub
    from hub.config import load_config
    from hub.db.migrate import upgrade

    if target.exists():
        shutil.rmtree(target)
    config_dir = copy_config(source, target / "config", "sqlite:///var/hub.sqlite3")
    hub = Hub(load_config(config_dir))
    try:
        upgrade(hub.db)
        hub.companies.add(DEMO_NIP, "Demo Leasing Polska sp. z o.o.", actor="demo")
        hub.companies.credit(DEMO_NIP, 5000_00, "demo funding", actor="demo")
        batch = hub.coupons.issue(request_id=str(uuid.uuid4()), company_nip=DEMO_NIP, case_type="REJ_NEW", count=5, actor=operator("demo"))
    finally:
        hub.close()
    return config_dir, [c.coupon_id for c in batch.coupons]


def try_commands(config_dir: Path, coupon_id: str, port: int) -> list[str]:
    keys = config_dir / "keys"
    common = (f"--url http://127.0.0.1:{port} --key {shlex.quote(str(keys / 'pojazd-1465.key'))} "
              f"--cert {shlex.quote(str(keys / 'pojazd-1465.crt'))} --hub-cert {shlex.quote(str(keys / 'hub.crt'))}")
    hub = ".venv/bin/hub" if Path(".venv/bin/hub").exists() else "hub"
    return [
        f"{hub} client verify-coupon {common} --coupon {coupon_id} --office 1465",
        f"{hub} client redeem-coupon {common} --coupon {coupon_id} --office 1465 --case-type REJ_NEW --case-number WK.5410.1.2026",
        f"{hub} --config {shlex.quote(str(config_dir))} company list",
        f"{hub} --config {shlex.quote(str(config_dir))} audit verify",
    ]


@cli.command("demo")
@click.option("--dir", "target", default="demo", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Made anew on every run.")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def demo(target: Path, port: int, workers: int) -> None:
    """A fresh demo: dev keys, SQLite, example config, a funded company; serves."""
    config_dir, coupons = prepare_demo(target.resolve())
    click.echo(f"demo hub: config {config_dir}, company NIP {DEMO_NIP} funded with 5000.00 PLN, 5 coupons issued:")
    for c in coupons:
        click.echo(f"  {c}")
    click.echo(f"\nserving http://127.0.0.1:{port}/soap/office?wsdl  (Ctrl-C stops)\n\nTry from another terminal, as Pojazd of office 1465:\n")
    for command in try_commands(config_dir, coupons[0], port):
        click.echo(f"  {command}")
    click.echo("")
    run_gunicorn(config_dir, "127.0.0.1", port, workers)

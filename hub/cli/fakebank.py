"""`hub fake-bank`: the bank (and optionally an FK system) as a fake, for tests and the demo."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from hub.cli.main import PORT, CliContext, OutputFolder, cli, pass_ctx


@cli.command("fake-bank")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=PORT)
@click.option(
    "--credit",
    "credits",
    multiple=True,
    metavar="ACCOUNT:AMOUNT:TEXT[:DATE]",
    help="A credit to the escrow account, e.g. to a company's virtual account; repeatable.",
)
@click.option("--fk-client", help="Also serve /soap/fk, signing as this clients.toml entry (its key beside its cert).")
@click.option("--data", "data_dir", type=OutputFolder(), help="Folder for its message log (default: a temporary one).")
@pass_ctx
def fake_bank(
    ctx: CliContext, host: str, port: int, credits: tuple[str, ...], fk_client: str | None, data_dir: Path | None
) -> None:
    """Serve a fake bank of bank.wsdl for the escrow account of this config: it signs as
    the BANK client, trusts the hub's certificate, books transfers once per EndToEndId and
    writes camt.053.001.08 statements. Control it at /control (mode=ok|down|slow|reject|twice)."""
    from hub.fakebank.server import FakeServer, add_credit, partners_from_config

    partners = partners_from_config(ctx.config, data_dir or Path(tempfile.mkdtemp(prefix="hub-fake-bank-")), fk_client)
    for spec in credits:
        try:
            add_credit(partners.bank, spec)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--credit") from None
    server = FakeServer(partners, host, port)

    def listening(url: str) -> None:  # the bound port: `--port 0` says which one it got
        click.echo(f"fake bank for escrow {ctx.config.bank.escrow_account}: {url}/soap/bank?wsdl  (Ctrl-C stops)")
        if fk_client:
            click.echo(f"fake FK system signing as {fk_client}: {url}/soap/fk?wsdl")
        click.echo(
            f"statement: {url}/statement?date=YYYY-MM-DD   transfers: {url}/transfers   mode: {url}/control?mode=down"
        )

    try:
        server.serve_forever(listening)
    except KeyboardInterrupt:
        pass
    finally:
        partners.close()

"""The `hub` command run in-process, as a test calls it."""

from __future__ import annotations

from pathlib import Path


def hub_command(config: Path, *args: str, ok: bool = True, input: str | None = None):
    """The `hub` command in-process on the config folder `config`; asserts exit status 0 unless `ok=False`."""
    from click.testing import CliRunner

    from hub.app import cli

    result = CliRunner().invoke(cli, ["--config", str(config), *args], input=input, catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.stderr
    return result


def client_options(served, client_id: str = "pojazd-1465") -> list[str]:
    """`hub client`'s options to call the served hub signed as `client_id`, trusting the hub's certificate."""
    keys = served.config_dir / "keys"
    key, cert = keys / f"{client_id}.key", keys / f"{client_id}.crt"
    return ["--url", served.url, "--key", str(key), "--cert", str(cert), "--hub-cert", str(keys / "hub.crt")]

"""`hub portal keygen`: the secret key that signs the portal's session cookies;
and what `hub demo` needs to turn the portal on with a user of every kind."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hub.access import operator
from hub.cli.main import OutputFile, cli

SECRET_KEY_BYTES = 64  # hub.config asks for at least PORTAL_SECRET_BYTES_MIN (32)

# The demo's portal users: login, role, password, who they are. Demo only: the
# passwords are printed by `hub demo` and the demo serves on 127.0.0.1 alone.
DEMO_USERS = (
    ("admin@demo-leasing.pl", "admin", "demo-admin-2026", "administrator firmy"),
    ("wystawca@demo-leasing.pl", "issuer", "demo-wystawca-2026", "wystawca kuponów"),
    ("podglad@demo-leasing.pl", "viewer", "demo-podglad-2026", "podgląd"),
    ("kasjer@1465", "cashier", "demo-kasjer-2026", "kasjer urzędu 1465"),
    ("kierownik@1465", "supervisor", "demo-kierownik-2026", "kierownik kasy urzędu 1465"),
)
DEMO_OFFICE = "1465"


def write_secret_key(path: Path) -> None:
    """Random bytes from the OS, readable by the owner alone; an existing file is kept."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(SECRET_KEY_BYTES))


def enable_portal(config_dir: Path) -> None:
    """A demo config with the portal on: a fresh key and a [portal] section for plain
    http on 127.0.0.1 (`cookie_secure = false`; keep the default `true` behind https)."""
    write_secret_key(config_dir / "keys" / "portal.key")
    with open(config_dir / "hub.toml", "a", encoding="utf-8") as f:
        f.write(
            '\n[portal]\nsecret_key_file = "keys/portal.key"\ncookie_secure '
            "= false  # the demo serves plain http on 127.0.0.1\n"
        )


def add_demo_users(hub, company_nip: str) -> None:
    actor = operator("demo")
    for login, role, password, _ in DEMO_USERS:
        scope = {"office_code": DEMO_OFFICE} if role in ("cashier", "supervisor") else {"company_nip": company_nip}
        hub.users.add_user(actor, login, role=role, password=password, **scope)


@cli.group("portal")
def portal() -> None:
    """The web portal (served by `hub serve` under /portal)."""


@portal.command("keygen")
@click.option(
    "--out",
    "out",
    required=True,
    type=OutputFile(),
    help="The file to write; hub.toml [portal] secret_key_file names it. An existing file is never overwritten.",
)
def keygen(out: Path) -> None:
    """Write a new secret key for the portal's session cookies (mode 0600)."""
    from hub.errors import InvalidRequest

    try:
        write_secret_key(out)
    except FileExistsError:
        raise InvalidRequest(
            f"{out} exists; a new key would sign everyone out, so remove it first if that is what you want"
        ) from None
    click.echo(f"wrote {SECRET_KEY_BYTES} random bytes to {out}")

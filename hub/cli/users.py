"""`hub user add|list|grant|revoke|password|second-factor-reset|activate|deactivate` and `hub role add|list`."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from hub.cli.main import CliContext, as_option, cli, emit_json, json_option, list_options, paged, pass_ctx, to_jsonable
from hub.errors import InvalidRequest
from hub.users.service import RoleView, UserView

company_option = click.option("--company", "company_nip", metavar="NIP", help="A registered company's NIP.")
office_option = click.option("--office", "office_code", metavar="CODE", help="An office code from offices.toml.")
login_option = click.option("--login", required=True)
role_option = click.option("--role", required=True)
password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin; otherwise one is generated and printed once.",
)


def user_line(u: UserView) -> str:
    scope = f"company {u.company_nip}" if u.company_nip else f"office {u.office_code}"
    state = "" if u.active else "  DEACTIVATED"
    return f"{u.login}  {scope}  roles: {', '.join(u.roles)}{state}"


def print_users(users: list[UserView], as_json: bool) -> None:
    if as_json:
        emit_json(users)  # a UserView is its JSON: every field, by its name
        return
    for u in users:
        click.echo(user_line(u))


def read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidRequest("--password-stdin: stdin held no password")
    return line


def print_password(login: str, password: str | None, as_json: bool, payload: dict) -> None:
    if as_json:
        emit_json({**payload, "password": password})
    elif password is not None:
        click.echo(f"password for {login} (shown once, hand it over safely): {password}")


@cli.group("user")
def user() -> None:
    """Users of a company or an office and their roles."""


def one_user_command(name: str, *options):
    """`hub user NAME --login LOGIN [options] [--as LOGIN] [--json]`: a command about one
    user, acting as the operator or `--as` a user, printing JSON on request."""

    def decorate(command):
        for option in (pass_ctx, json_option, as_option, *reversed(options), login_option):
            command = option(command)
        return user.command(name)(command)

    return decorate


@user.command("add")
@login_option
@company_option
@office_option
@click.option(
    "--role",
    help="A built-in role (admin, issuer, viewer; cashier, supervisor) or a custom one of that scope; "
    "default: the least privileged (viewer, cashier).",
)
@password_stdin_option
@as_option
@json_option
@pass_ctx
def user_add(
    ctx: CliContext,
    login: str,
    company_nip: str | None,
    office_code: str | None,
    role: str | None,
    password_stdin: bool,
    as_login: str | None,
    as_json: bool,
) -> None:
    """Add a user of a company or an office with one role."""
    password = read_password(password_stdin)
    new = ctx.hub.users.add_user(
        ctx.actor(as_login), login, company_nip=company_nip, office_code=office_code, role=role, password=password
    )
    if not as_json:
        click.echo(f"added {user_line(new.user)}")
    print_password(new.user.login, new.password, as_json, to_jsonable(new.user))


def scope_list_command(group: click.Group, lister: Callable, printer: Callable, doc: str) -> click.Command:
    """`hub user list` and `hub role list`: what `lister(users service)` finds for a company
    or an office (default: the actor's own; the operator: all), a page of it printed."""

    @group.command("list", help=doc)
    @company_option
    @office_option
    @list_options
    @as_option
    @json_option
    @pass_ctx
    def scope_list(
        ctx: CliContext,
        company_nip: str | None,
        office_code: str | None,
        limit: int,
        offset: int,
        as_login: str | None,
        as_json: bool,
    ) -> None:
        found = lister(ctx.hub.users)(ctx.actor(as_login), company_nip=company_nip, office_code=office_code)
        printer(paged(found, offset, limit), as_json)

    return scope_list


user_list = scope_list_command(
    user,
    lambda users: users.list_users,
    print_users,
    "Users of a company or an office (default: your own; the operator: all).",
)


@one_user_command("grant", role_option)
def user_grant(ctx: CliContext, login: str, role: str, as_login: str | None, as_json: bool) -> None:
    """Give a user a role of its own company or office."""
    print_users([ctx.hub.users.grant(ctx.actor(as_login), login, role)], as_json)


@one_user_command("revoke", role_option)
def user_revoke(ctx: CliContext, login: str, role: str, as_login: str | None, as_json: bool) -> None:
    """Take a role away from a user (not its last one)."""
    print_users([ctx.hub.users.revoke(ctx.actor(as_login), login, role)], as_json)


@one_user_command("password", password_stdin_option)
def user_password(ctx: CliContext, login: str, password_stdin: bool, as_login: str | None, as_json: bool) -> None:
    """Set a user's password (generated and printed once unless --password-stdin)."""
    password = ctx.hub.users.reset_password(ctx.actor(as_login), login, read_password(password_stdin))
    if not as_json and password is None:
        click.echo(f"password of {login} changed")
    print_password(login, password, as_json, {"login": login})


@one_user_command("second-factor-reset")
def user_second_factor_reset(ctx: CliContext, login: str, as_login: str | None, as_json: bool) -> None:
    """Turn a user's second factor (TOTP) off, e.g. after a lost phone; the user enrols again at the next login."""
    ctx.hub.accounts.reset_second_factor(ctx.actor(as_login), login)
    if as_json:
        emit_json({"login": login, "second_factor": False})
    else:
        click.echo(f"second factor of {login} reset: it enrols again at the next portal login")


@one_user_command("deactivate")
def user_deactivate(ctx: CliContext, login: str, as_login: str | None, as_json: bool) -> None:
    """Lock a user: no login, no `--as`, until an admin activates them again. (Wrong
    passwords never lock an account; they only slow further attempts down.)"""
    print_users([ctx.hub.users.set_active(ctx.actor(as_login), login, False)], as_json)


@one_user_command("activate")
def user_activate(ctx: CliContext, login: str, as_login: str | None, as_json: bool) -> None:
    """Let a deactivated (locked) user in again."""
    print_users([ctx.hub.users.set_active(ctx.actor(as_login), login, True)], as_json)


@cli.group("role")
def role() -> None:
    """Roles: built-in ones and a company's or office's own."""


@role.command("add")
@company_option
@office_option
@click.option("--name", required=True)
@click.option(
    "--permission", "permissions", multiple=True, required=True, help="Repeat for each permission, e.g. coupons:issue."
)
@as_option
@json_option
@pass_ctx
def role_add(
    ctx: CliContext,
    company_nip: str | None,
    office_code: str | None,
    name: str,
    permissions: tuple[str, ...],
    as_login: str | None,
    as_json: bool,
) -> None:
    """Add a custom role to a company or an office."""
    r = ctx.hub.users.add_role(
        ctx.actor(as_login), company_nip=company_nip, office_code=office_code, name=name, permissions=permissions
    )
    print_roles([r], as_json)


def print_roles(roles: list[RoleView], as_json: bool) -> None:
    if as_json:
        emit_json(roles)  # a RoleView is its JSON: every field, by its name
        return
    for r in roles:
        code = r.company_nip or r.office_code
        where = f"{r.kind} {code}" if code else f"every {r.kind}"
        kind = "built-in" if r.built_in else "custom"
        click.echo(f"{r.name}  ({kind}, {where}): {', '.join(r.permissions)}")


role_list = scope_list_command(
    role, lambda users: users.list_roles, print_roles, "Roles of a company or an office with their permissions."
)

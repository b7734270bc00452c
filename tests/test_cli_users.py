"""`hub user ...` and `hub role ...`, and `--as LOGIN` acting with exactly that
user's permissions: refused with one line on stderr, changing nothing."""

from __future__ import annotations

import json

import pytest

from tests.support.factories import NIP, OTHER_NIP

PASSWORD = "correct horse battery"


@pytest.fixture
def company(run):
    run("init")
    run("company", "add", "--nip", NIP, "--name", "Leasing Polska S.A.")
    run("company", "credit", "--nip", NIP, "--amount", "1000.00", "--reason", "funding")
    return NIP


def refused(run, *args: str, expected: str) -> str:
    """The command fails with exactly one line on stderr that says `expected`."""
    result = run(*args, ok=False)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.stderr
    assert expected in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def add(run, login: str, role: str, *scope: str) -> None:
    run(
        "user",
        "add",
        "--login",
        login,
        *(scope or ("--company", NIP)),
        "--role",
        role,
        "--password-stdin",
        input=PASSWORD + "\n",
    )


def snapshot(run) -> tuple:
    return tuple(run(*args, "--json").stdout for args in (("company", "list"), ("user", "list"), ("role", "list")))


def test_a_generated_password_is_printed_once(run, company):
    text = run("user", "add", "--login", "ada", "--company", NIP, "--role", "admin").stdout
    added, password_line = text.strip().splitlines()
    assert added == f"added ada  company {NIP}  roles: admin"
    password = password_line.rsplit(": ", 1)[1]
    assert len(password) >= 20
    as_json = json.loads(run("user", "add", "--login", "bob", "--company", NIP, "--role", "viewer", "--json").stdout)
    assert as_json["login"] == "bob" and as_json["roles"] == ["viewer"] and len(as_json["password"]) >= 20
    listed = run("user", "list").stdout
    assert password not in listed and as_json["password"] not in listed


def test_a_password_from_stdin_is_not_printed_and_logs_in(run, company, config_dir):
    text = run(
        *f"user add --login ada --company {NIP} --role admin --password-stdin".split(), input=PASSWORD + "\n"
    ).stdout
    assert PASSWORD not in text and "password" not in text
    from hub.app import Hub
    from hub.config import load_config

    hub = Hub(load_config(config_dir))
    try:
        assert hub.users.authenticate("ada", PASSWORD).company_nip == NIP
    finally:
        hub.close()


def test_an_admin_manages_its_company_with_as(run, company):
    add(run, "ada", "admin")
    role = json.loads(
        run(*f"role add --company {NIP} --name issue-only --permission coupons:issue --as ada --json".split()).stdout
    )
    assert role == [
        {
            "name": "issue-only",
            "kind": "company",
            "company_nip": NIP,
            "office_code": None,
            "permissions": ["coupons:issue"],
            "built_in": False,
        }
    ]
    run("user", "add", "--login", "vic", "--company", NIP, "--role", "viewer", "--as", "ada")
    granted = json.loads(run("user", "grant", "--login", "vic", "--role", "issue-only", "--as", "ada", "--json").stdout)
    assert granted[0]["roles"] == ["issue-only", "viewer"] and "coupons:issue" in granted[0]["permissions"]
    run("coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "1", "--as", "vic")
    revoked = json.loads(
        run("user", "revoke", "--login", "vic", "--role", "issue-only", "--as", "ada", "--json").stdout
    )
    assert revoked[0]["roles"] == ["viewer"]
    refused(
        run,
        *f"coupons issue --nip {NIP} --case-type REJ_NEW --count 1 --as vic".split(),
        expected="NotAuthorized: user:vic does not have the permission coupons:issue",
    )

    users = json.loads(run("user", "list", "--as", "ada", "--json").stdout)
    assert [(u["login"], u["roles"]) for u in users] == [("ada", ["admin"]), ("vic", ["viewer"])]
    roles = [r["name"] for r in json.loads(run("role", "list", "--as", "ada", "--json").stdout)]
    assert roles == ["admin", "issuer", "viewer", "issue-only"]
    assert "issue-only  (custom, company 5260250274): coupons:issue" in run("role", "list", "--company", NIP).stdout


@pytest.mark.parametrize(
    "permission,command,lacking,holder",
    [
        ("coupons:issue", ("coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "1"), "vic", "ivo"),
        ("users:manage", ("user", "add", "--login", "eve", "--company", NIP, "--role", "viewer"), "vic", "ada"),
        (
            "users:manage",
            ("role", "add", "--company", NIP, "--name", "readers", "--permission", "coupons:read"),
            "vic",
            "ada",
        ),
        ("users:manage", ("user", "grant", "--login", "vic", "--role", "issuer"), "vic", "ada"),
        ("users:manage", ("user", "revoke", "--login", "iza", "--role", "viewer"), "vic", "ada"),
        ("users:manage", ("user", "list"), "vic", "ada"),
        ("users:manage", ("role", "list"), "vic", "ada"),
        ("reports:read", ("report", "coupons", "--json"), "ivo", "vic"),
        (
            "statement:read",
            ("report", "statement", "--from", "2026-03-01", "--to", "2026-03-31", "--json"),
            "hr",
            "vic",
        ),
    ],
)
def test_without_the_permission_a_command_is_one_line_and_changes_nothing(
    run, company, permission, command, lacking, holder
):
    add(run, "vic", "viewer")
    add(run, "ivo", "issuer")
    add(run, "iza", "issuer")
    run("user", "grant", "--login", "iza", "--role", "viewer")
    add(run, "ada", "admin")
    run(*f"role add --company {NIP} --name hr --permission users:manage --permission reports:read".split())
    add(run, "hr", "hr")
    before = snapshot(run)
    refused(
        run,
        *command,
        "--as",
        lacking,
        expected=f"NotAuthorized: user:{lacking} does not have the permission {permission}",
    )
    assert snapshot(run) == before
    run(*command, "--as", holder)


def test_a_company_admin_cannot_touch_another_company(run, company):
    run("company", "add", "--nip", OTHER_NIP, "--name", "Inny Leasing")
    add(run, "ada", "admin")
    add(run, "bob", "admin", "--company", OTHER_NIP)
    before = snapshot(run)
    for command in (
        ("user", "add", "--login", "eve", "--company", OTHER_NIP, "--role", "viewer"),
        ("user", "grant", "--login", "bob", "--role", "viewer"),
        ("user", "deactivate", "--login", "bob"),
        ("user", "password", "--login", "bob"),
        ("role", "add", "--company", OTHER_NIP, "--name", "spies", "--permission", "coupons:read"),
        ("user", "list", "--company", OTHER_NIP),
    ):
        refused(run, *command, "--as", "ada", expected=f"NotAuthorized: user:ada does not act for company {OTHER_NIP}")
    assert snapshot(run) == before


def test_office_users(run, company):
    add(run, "kierownik", "supervisor", "--office", "1465")
    run(*"user add --login kasjer --office 1465 --role cashier --as kierownik".split())
    users = json.loads(run("user", "list", "--office", "1465", "--json").stdout)
    assert [(u["login"], u["office_code"], u["company_nip"], u["roles"]) for u in users] == [
        ("kasjer", "1465", None, ["cashier"]),
        ("kierownik", "1465", None, ["supervisor"]),
    ]
    refused(
        run,
        *"user add --login obcy --office 1261 --role cashier --as kierownik".split(),
        expected="NotAuthorized: user:kierownik does not act for office 1261",
    )
    refused(
        run,
        *"user add --login obcy --office 1465 --role cashier --as kasjer".split(),
        expected="NotAuthorized: user:kasjer does not have the permission users:manage",
    )
    refused(
        run,
        *f"coupons issue --nip {NIP} --case-type REJ_NEW --count 1 --as kierownik".split(),
        expected="NotAuthorized: user:kierownik does not have the permission coupons:issue",
    )


@pytest.mark.parametrize(
    "command,expected",
    [
        (
            ("user", "add", "--login", "ada", "--office", "9999", "--role", "cashier"),
            "InvalidRequest: Unknown office code '9999'",
        ),
        (
            ("user", "add", "--login", "ada", "--company", OTHER_NIP, "--role", "admin"),
            f"NotFound: no company with NIP {OTHER_NIP}",
        ),
        (
            ("user", "add", "--login", "ada", "--company", NIP, "--office", "1465", "--role", "admin"),
            "InvalidRequest: name either a company",
        ),
        (
            ("user", "add", "--login", "ada", "--company", NIP, "--role", "cashier"),
            "InvalidRequest: company 5260250274 has no role 'cashier'",
        ),
        (
            ("user", "add", "--login", "vic", "--company", NIP, "--role", "admin"),
            "InvalidRequest: the login 'vic' is already taken",
        ),
        (
            ("role", "add", "--company", NIP, "--name", "odd", "--permission", "coupons:print"),
            "InvalidRequest: unknown permission 'coupons:print'",
        ),
        (
            ("role", "add", "--office", "1465", "--name", "odd", "--permission", "coupons:issue"),
            "InvalidRequest: 'coupons:issue' is only for company roles",
        ),
        (("user", "revoke", "--login", "vic", "--role", "viewer"), "InvalidRequest: viewer is the last role of vic"),
        (("user", "grant", "--login", "nobody", "--role", "viewer"), "NotFound: no user 'nobody'"),
        (("user", "list", "--as", "nobody"), "NotFound: no user 'nobody'"),
    ],
)
def test_bad_input_is_one_specific_line_and_changes_nothing(run, company, command, expected):
    add(run, "vic", "viewer")
    before = snapshot(run)
    refused(run, *command, expected=expected)
    assert snapshot(run) == before


def test_password_stdin_must_hold_a_password(run, company):
    before = snapshot(run)
    refused(
        run,
        *f"user add --login ada --company {NIP} --role admin --password-stdin".split(),
        expected="stdin held no password",
    )
    assert snapshot(run) == before


def test_deactivate_stops_acting_as_the_user(run, company):
    add(run, "iza", "issuer")
    run("user", "deactivate", "--login", "iza")
    assert "DEACTIVATED" in run("user", "list").stdout
    refused(
        run,
        *f"coupons issue --nip {NIP} --case-type REJ_NEW --count 1 --as iza".split(),
        expected="NotAuthorized: user iza is deactivated",
    )
    run("user", "activate", "--login", "iza")
    run("coupons", "issue", "--nip", NIP, "--case-type", "REJ_NEW", "--count", "1", "--as", "iza")


def test_a_password_reset_prints_the_new_password_once(run, company):
    add(run, "iza", "issuer")
    new = json.loads(run("user", "password", "--login", "iza", "--json").stdout)
    assert new["login"] == "iza" and len(new["password"]) >= 20
    text = run("user", "password", "--login", "iza", "--password-stdin", input="another good password\n").stdout
    assert text.strip() == "password of iza changed"


def test_a_user_added_without_a_role_gets_the_least_privileged_one(run, company):
    assert json.loads(run("user", "add", "--login", "nowy", "--company", NIP, "--json").stdout)["roles"] == ["viewer"]
    assert json.loads(run("user", "add", "--login", "kasjer", "--office", "1465", "--json").stdout)["roles"] == [
        "cashier"
    ]

"""SQLite backups taken while the hub serves, and a restore to an earlier point than the
message log's archives (issue 19): the hub refuses changes until `hub audit recover
--apply` has re-applied what the backup lacks, after which no coupon redeems twice."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime

import pytest

from hub import ns
from hub.audit.recovery import RETRY_S
from tests.support.cli import hub_command
from tests.support.factories import OPERATOR, config_copy, funded_company, issue
from tests.support.soap import fault_of, redeem_fields, signed_request
from tests.support.waiting import wait_until
from tests.support.wsgi import RunningHub

SOAP = f"{{{ns.SOAP_ENV_11}}}"
O = f"{{{ns.OFFICE}}}"  # noqa: E741 - the office namespace
CLIENT = "pojazd-1465"

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def redeem(server, identity, coupon: str, request_id: str | None = None):
    fields = redeem_fields(coupon)
    if request_id:
        fields["RequestId"] = request_id
    status, answer = server.post(signed_request(identity, "RedeemCoupon", **fields))
    return status, answer, fields["RequestId"]


def redemption_id(answer) -> str:
    return answer.find(f"{SOAP}Body/{O}RedeemCouponResponse/{O}RedemptionId").text


def coupon_status(server, identity, coupon: str) -> str:
    status, answer = server.post(
        signed_request(identity, "VerifyCoupon", CouponId=coupon, OfficeCode="1465", CaseType="REJ_NEW")
    )
    assert status == 200
    return answer.find(f"{SOAP}Body/{O}VerifyCouponResponse/{O}Status").text


class Poster(RunningHub):
    """Another hub served on the same config (tests/ops/conftest.py `serve`), posted to as RunningHub does."""

    def __init__(self, url: str) -> None:
        super().__init__(None, url, None)


@sqlite_only
def test_a_backup_of_a_serving_sqlite_hub_restores_to_a_log_that_verifies(running_hub, tmp_path):
    hub, identity = running_hub.hub, running_hub.identity(CLIENT)
    funded_company(hub, 40 * 161_50)
    coupons = [c.coupon_id for c in issue(hub, 40).coupons]
    answers: list[int] = []

    def traffic() -> None:  # redeems and verifies while the backup runs
        for coupon in coupons:
            answers.append(redeem(running_hub, identity, coupon)[0])
            answers.append(coupon_status(running_hub, identity, coupon) and 200)

    sender = threading.Thread(target=traffic)
    sender.start()
    wait_until(lambda: len(answers) >= 10 or not sender.is_alive(), 120, "ten answers before the backup")
    out = tmp_path / "backup.sqlite3"
    answered = len(answers)  # redeem, verify, redeem, ...
    hub_command(running_hub.config_dir, "backup", "--out", str(out))
    sender.join(timeout=120)
    assert answers == [200] * 80
    assert [p.name for p in out.parent.iterdir() if p.name.startswith((".backup", "backup"))] == [out.name]
    with sqlite3.connect(out) as backup:
        backed_up = backup.execute("SELECT count(*) FROM message_log").fetchone()[0]
    # Taken in the middle of the traffic, with what was committed: every answered request's
    # record and every answered redeem's answer record (a verify's answer record may still
    # be in the group commit's 0.3 s, docs/architecture.md).
    assert answered + (answered + 1) // 2 <= backed_up < 4 * 40 + 2, (answered, backed_up)

    other = config_copy(tmp_path / "other", f"sqlite:///{tmp_path / 'restored.sqlite3'}")
    assert "restored" in hub_command(other, "restore", str(out)).stdout
    verified = hub_command(other, "audit", "verify").stdout
    assert f"message log: {backed_up} records, chain intact" in verified
    # an existing file is never overwritten; PostgreSQL is backed up with its own tools
    again = hub_command(running_hub.config_dir, "backup", "--out", str(out), ok=False)
    assert again.exit_code == 1 and "already exists" in again.stderr


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_hub_backup_of_postgresql_says_what_to_use_instead(run):
    result = run("backup", "--out", "x.sqlite3", ok=False)
    assert result.exit_code == 1 and "pg_basebackup and WAL archiving" in result.stderr


@sqlite_only
def test_restore_to_an_earlier_point_refuses_changes_until_recover_applies_every_redemption(
    running_hub, serve, tmp_path
):
    hub, identity, config_dir = (running_hub.hub, running_hub.identity(CLIENT), running_hub.config_dir)
    funded_company(hub, 6 * 161_50)
    c = [x.coupon_id for x in issue(hub, 6).coupons]
    assert redeem(running_hub, identity, c[0])[0] == 200
    backup = tmp_path / "nightly.sqlite3"
    hub_command(config_dir, "backup", "--out", str(backup))

    # after the backup: two redemptions, one refused, one reversed; then the nightly archive run
    later = {}
    for coupon in c[1:4]:
        status, answer, request_id = redeem(running_hub, identity, coupon)
        assert status == 200
        later[coupon] = (request_id, redemption_id(answer))
    refused_status, refused, _ = redeem(running_hub, identity, c[1])
    assert refused_status == 500 and fault_of(refused)[0].endswith("Client.CouponNotRedeemable")
    reversal_id = str(uuid.uuid4())
    status, _ = running_hub.post(
        signed_request(
            identity,
            "ReverseRedemption",
            RequestId=reversal_id,
            RedemptionId=later[c[3]][1],
            OfficeCode="1465",
            Reason="pomyłka",
        )
    )
    assert status == 200
    hub_command(config_dir, "audit", "archive", "--before", datetime.now(UTC).isoformat())

    # the database is lost and restored from the backup: the later redemptions are not in it
    restored = hub_command(config_dir, "restore", str(backup)).stdout
    assert "refuses changes until `hub audit recover --apply`" in restored
    server = Poster(serve(config_dir))
    assert coupon_status(server, identity, c[1]) == "ISSUED"  # reads are served
    status, answer, _ = redeem(server, identity, c[1])
    code, text = fault_of(answer)
    assert (
        status == 500
        and code == f"{SOAP}Server"
        and "restored from a backup" in text
        and "try again later" in text.lower()
    )

    # the nightly jobs go on: the log continues after the archives (issue 19: they failed for good)
    hub_command(config_dir, "audit", "archive", "--before", datetime.now(UTC).isoformat())
    verified = hub_command(config_dir, "audit", "verify")
    assert (
        "chain intact" in verified.stdout
        and "state changes are refused until `hub audit recover --apply`" in verified.stderr
    )

    listing = hub_command(config_dir, "audit", "recover").stdout
    rows = [line for line in listing.splitlines() if line.startswith("record ")]
    assert [(r.split()[3], r.rsplit("  ", 1)[1]) for r in rows] == [
        ("RedeemCoupon", "in the database"),  # the one before the backup, looked at in case it was in flight
        ("RedeemCoupon", "missing"),
        ("RedeemCoupon", "missing"),
        ("RedeemCoupon", "missing"),
        ("RedeemCoupon", "answered with a fault (no effect)"),
        ("ReverseRedemption", "missing"),
    ], listing
    assert "4 to re-apply" in listing
    applied = hub_command(config_dir, "audit", "recover", "--apply").stdout
    assert "re-applied 4; the hub takes changes again" in applied and applied.count(": re-applied") == 4, applied

    server = Poster(serve(config_dir))  # a hub started now (a running one sees it within 15 s)
    for coupon in c[1:3]:
        status, answer, _ = redeem(server, identity, coupon)
        assert status == 500 and fault_of(answer)[0].endswith("Client.CouponNotRedeemable"), coupon
        request_id, first_redemption = later[coupon]
        status, answer, _ = redeem(server, identity, coupon, request_id)  # the office's retry: the first answer
        assert status == 200 and redemption_id(answer) == first_redemption
    assert coupon_status(server, identity, c[3]) == "ISSUED"  # reversed, as before the loss
    assert coupon_status(server, identity, c[4]) == "ISSUED"
    assert redeem(server, identity, c[4])[0] == 200
    assert "chain intact" in hub_command(config_dir, "audit", "verify").stdout
    assert (
        hub_command(config_dir, "audit", "recover").stdout
        == "the database is not behind its archives: nothing to recover\n"
    )
    assert held_grosze(config_dir) == 2 * 161_50  # c[3] (reversed) and c[5]; c0, c1, c2 and c4 captured once each


def held_grosze(config_dir) -> int:
    from hub.app import Hub
    from hub.config import load_config

    hub = Hub(load_config(config_dir))
    try:
        return hub.companies.account("5260250274", actor=OPERATOR).held_grosze
    finally:
        hub.close()


def test_a_hub_that_cannot_check_its_archives_refuses_changes_and_serves_reads(running_hub):
    hub, identity = running_hub.hub, running_hub.identity(CLIENT)
    funded_company(hub, 161_50)
    coupon = issue(hub, 1).coupons[0].coupon_id
    archive_dir = hub.config.audit.archive_dir
    archive_dir.mkdir(parents=True)
    (archive_dir / "message-log-000000000001-000000000009.manifest.json").write_text(
        "{}"
    )  # unsigned: not to be trusted
    status, answer, _ = redeem(running_hub, identity, coupon)
    code, text = fault_of(answer)
    assert (
        status == 500
        and code == f"{SOAP}Server"
        and "could not compare its database with its message log archives" in text
    )
    assert "try again" in text
    assert coupon_status(running_hub, identity, coupon) == "ISSUED"


@sqlite_only
def test_a_request_that_cannot_be_reapplied_keeps_changes_refused_until_forced(running_hub, tmp_path):
    hub, identity, config_dir = (running_hub.hub, running_hub.identity(CLIENT), running_hub.config_dir)
    funded_company(hub, 161_50)
    coupon = issue(hub, 1).coupons[0].coupon_id
    backup = tmp_path / "nightly.sqlite3"
    hub_command(config_dir, "backup", "--out", str(backup))
    assert redeem(running_hub, identity, coupon)[0] == 200
    hub_command(config_dir, "audit", "archive", "--before", datetime.now(UTC).isoformat())
    hub_command(config_dir, "restore", str(backup))
    clients = config_dir / "clients.toml"  # the office's client was renamed meanwhile
    clients.write_text(clients.read_text().replace(f'id = "{CLIENT}"', f'id = "{CLIENT}-2027"'))

    failed = hub_command(config_dir, "audit", "recover", "--apply", ok=False)
    assert failed.exit_code == 1 and "the hub still refuses changes" in failed.stderr
    assert (
        "RedeemCoupon" in failed.stdout and f"not re-applied: client {CLIENT} is no longer configured" in failed.stdout
    )
    assert "1 to re-apply" in hub_command(config_dir, "audit", "recover").stdout  # still pending, nothing applied

    forced = hub_command(config_dir, "audit", "recover", "--apply", "--force").stdout
    assert "the hub takes changes again" in forced
    assert (
        hub_command(config_dir, "audit", "recover").stdout
        == "the database is not behind its archives: nothing to recover\n"
    )


@pytest.mark.parametrize(
    "content, message", [(b"not a database at all" * 100, "not an SQLite database"), (None, "not a hub database")]
)
@sqlite_only
def test_hub_restore_refuses_a_file_that_is_not_a_hub_backup_and_changes_nothing(
    run, config_dir, tmp_path, content, message
):
    bad = tmp_path / "bad.sqlite3"
    if content is None:
        sqlite3.connect(bad).execute("CREATE TABLE t (x)").connection.close()
    else:
        bad.write_bytes(content)
    result = run("restore", str(bad), ok=False)
    assert result.exit_code == 1 and message in result.stderr and str(bad) in result.stderr
    assert "chain intact" in run("audit", "verify").stdout


def test_the_portal_takes_no_changes_while_the_database_is_held_but_signs_in_and_shows(tmp_path, db_url):
    from werkzeug.test import Client

    from hub.app import create_app
    from hub.cli.portal import enable_portal
    from hub.config import load_config
    from tests.support.factories import NIP, OPERATOR
    from tests.support.portal import PASSWORD, csrf_of, log_in

    config_dir = config_copy(tmp_path, db_url)
    enable_portal(config_dir)
    app = create_app(load_config(config_dir))
    try:
        funded_company(app.hub, 161_50)
        coupon = issue(app.hub, 1).coupons[0].coupon_id
        app.hub.users.add_user(OPERATOR, "anna@leasing.pl", company_nip=NIP, role="issuer", password=PASSWORD)
        archive_dir = app.hub.config.audit.archive_dir
        archive_dir.mkdir(parents=True)
        (archive_dir / "message-log-000000000001-000000000009.manifest.json").write_text(
            "{}"
        )  # held: the archives cannot be trusted
        client = Client(app)
        assert log_in(client, "anna@leasing.pl").status_code == 302
        page = client.get(f"/portal/firma/kupony/{coupon}/anuluj")
        assert page.status_code == 200
        refused = client.post(
            f"/portal/firma/kupony/{coupon}/anuluj",
            data={"csrf_token": csrf_of(page.get_data(as_text=True)), "request_id": str(uuid.uuid4())},
        )
        assert refused.status_code == 503 and "nic nie zostało zmienione" in refused.get_data(as_text=True)
        assert app.hub.coupons.verify(coupon, "1465", "REJ_NEW", None, actor=OPERATOR).status == "ISSUED"

        (
            archive_dir / "message-log-000000000001-000000000009.manifest.json"
        ).unlink()  # the same form goes through once not held
        wait_until(
            lambda: app.hub.restore_guard.held() is None,
            RETRY_S + 10,
            "the restore guard to check again and let changes through",
        )
        page = client.get(f"/portal/firma/kupony/{coupon}/anuluj")
        done = client.post(
            f"/portal/firma/kupony/{coupon}/anuluj",
            data={"csrf_token": csrf_of(page.get_data(as_text=True)), "request_id": str(uuid.uuid4())},
        )
        assert done.status_code == 302
        assert app.hub.coupons.verify(coupon, "1465", "REJ_NEW", None, actor=OPERATOR).status == "CANCELLED"
    finally:
        app.hub.close()

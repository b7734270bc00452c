"""Restore drills (issue 19), as an operator following docs/deployment.md section 8 would.

Point-in-time recovery: a private PostgreSQL cluster archiving its WAL; a base backup
(pg_basebackup); traffic over signed SOAP (coupons issued, redeemed, a cash desk payment,
a bank statement imported); the cluster destroyed; its data folder rebuilt from the base
backup and the archived WAL. The same hub process serves again, nothing is lost, and
`hub audit verify` passes.

A nightly pg_dump restored after later traffic was archived: the hub sees its database
is behind its archives and refuses changes; `hub audit recover --apply` brings back
every redemption (and the rest), after which no coupon redeems twice."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select, text

from hub import ns
from hub.bank.models import BankEntry
from hub.cashdesk.models import DeskDay, Payment
from hub.clock import business_day
from hub.coupons.models import Coupon, Redemption
from hub.db.database import Database
from hub.ledger.service import Ledger
from tests.support import REPO
from tests.support.bank import post_signed
from tests.support.camt import Entry, camt053
from tests.support.cashdesk import Client, add_user, close_day_request, payment, void_request
from tests.support.cli import hub_command
from tests.support.factories import OPERATOR
from tests.support.pgcluster import PrivateCluster, migrated_url, running_cluster
from tests.support.soap import fault_of, redeem_fields, signed_request
from tests.support.waiting import wait_until
from tests.support.wsgi import serving

SOAP = f"{{{ns.SOAP_ENV_11}}}"
O = f"{{{ns.OFFICE}}}"  # noqa: E741 - the office namespace
COMPANY_NIP = "7010254361"  # the shipped config's COMPANY client leasing-7010254361
SUPERVISOR = "ewa.wisniewska"
# deploy/postgresql/hub-wal-archiving.conf, with the test's own folders
ARCHIVING = (
    "wal_level = replica\narchive_mode = on\narchive_command = '{script} %p %f {archive}'\n"
    "max_wal_senders = 4\nfsync = on\nfull_page_writes = on\nsynchronous_commit = on\n"
)
WAL_ARCHIVE_SCRIPT = REPO / "deploy" / "postgresql" / "hub-wal-archive"

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]


def traffic(running_hub, redeem_count: int, everything: bool = False) -> dict:
    """Over signed SOAP: a batch issued by the company's system, `redeem_count` of its coupons
    redeemed by Pojazd, a card payment at the cash desk, and a statement crediting the company;
    with `everything` also a coupon cancelled, the payment voided and the desk's day closed.
    What the office, the desk and the company were told."""
    hub = running_hub.hub
    company = Client(running_hub, f"leasing-{COMPANY_NIP}", "company")
    batch = company.IssueCoupons(
        RequestId=str(uuid.uuid4()), CompanyNip=COMPANY_NIP, CaseType="REJ_NEW", Count=redeem_count + 2
    )
    coupons = [c.CouponId for c in batch.Coupon]
    redeemed = {}
    for coupon in coupons[:redeem_count]:
        status, answer = running_hub.post(
            signed_request(running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
        )
        assert status == 200
        redeemed[coupon] = answer.find(f"{SOAP}Body/{O}RedeemCouponResponse/{O}RedemptionId").text
    kasa = Client(running_hub, "kasa-1465-01", "cashdesk")
    paid = kasa.RegisterPayment(**payment())
    virtual = hub.companies.account(COMPANY_NIP, actor=OPERATOR).virtual_account
    statement = camt053(
        hub.config.bank.escrow_account,
        [Entry("250.00", creditor_account=virtual, ref=f"R-{uuid.uuid4().hex[:8]}")],
        statement_id=f"S-{uuid.uuid4().hex[:10]}",
    )
    status, _ = post_signed(running_hub, base64.b64encode(statement).decode())
    assert status == 200
    if everything:
        company.CancelCoupon(RequestId=str(uuid.uuid4()), CouponId=coupons[redeem_count])
        kasa.VoidPayment(**void_request(paid.PaymentId, "Pomyłka kasjera.", SUPERVISOR))
        kasa.CloseDay(**close_day_request(business_day(datetime.now(UTC))))
    return {"batch": batch.BatchId, "coupons": coupons, "redeemed": redeemed, "payment": paid.PaymentId}


def state(db: Database) -> dict:
    """What a restore must bring back, read from the database."""
    with db.read() as s:
        Ledger(s).verify()
        return {
            "coupons": dict(s.execute(select(Coupon.id, Coupon.status)).all()),
            "redemptions": dict(s.execute(select(Redemption.coupon_id, Redemption.id)).all()),
            "payments": {p.id: (p.receipt_number, p.voided_by) for p in s.scalars(select(Payment))},
            "closed_days": {
                (d.office_code, d.desk_id, d.day, d.report_id) for d in s.scalars(select(DeskDay)) if d.closed_at
            },
            "bank_entries": s.scalar(select(func.count()).select_from(BankEntry)),
        }


def setup_company(hub) -> None:
    hub.companies.add(COMPANY_NIP, "Leasing Test Sp. z o.o.", actor=OPERATOR)
    hub.companies.credit(COMPANY_NIP, 5000_00, "test funding", actor=OPERATOR)
    add_user(hub, SUPERVISOR)


# -- point-in-time recovery ------------------------------------------------------------


def archiving(private: PrivateCluster) -> None:
    private.wal_archive = private.folder("wal-archive")
    script = shutil.copy(WAL_ARCHIVE_SCRIPT, private.folder("bin"))  # where the server's user may run it
    with (private.data / "postgresql.conf").open("a") as conf:
        conf.write(ARCHIVING.format(script=script, archive=private.wal_archive))


@pytest.fixture
def cluster():
    with running_cluster(settings="", prepare=archiving) as private:
        yield private


@pytest.fixture
def db_url(cluster) -> str:
    return migrated_url(cluster)


def archive_current_wal(cluster: PrivateCluster) -> None:
    """Close the current WAL segment and wait until the archiver has copied it (what
    `archive_timeout` does in production, at most that many seconds later)."""
    engine = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        segment = c.execute(text("SELECT pg_walfile_name(pg_switch_wal())")).scalar()
        archived = text("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        wait_until(
            lambda: c.execute(archived).scalar() >= segment, 60, "the archiver to copy the last WAL segment", 0.2
        )
    engine.dispose()


def test_point_in_time_recovery_after_the_cluster_is_destroyed_loses_nothing(running_hub, cluster):
    hub, config_dir = running_hub.hub, running_hub.config_dir
    setup_company(hub)
    base = cluster.folder("base")
    cluster.client("pg_basebackup", "-D", str(base), "-X", "stream", "-c", "fast")

    told = traffic(running_hub, redeem_count=5, everything=True)
    hub_command(config_dir, "audit", "seal")
    before = state(hub.db)
    assert set(before["redemptions"].values()) == set(told["redeemed"].values())
    assert before["payments"][told["payment"]][1] == SUPERVISOR and before["closed_days"]  # voided; the day closed
    archive_current_wal(cluster)

    # the server's disk is lost
    cluster.pg_ctl("stop", "-m", "immediate")
    shutil.rmtree(cluster.data)
    # point-in-time recovery: the base backup, then every archived WAL segment replayed
    shutil.copytree(base, cluster.data, symlinks=True)
    with (cluster.data / "postgresql.conf").open("a") as conf:
        conf.write(f"restore_command = 'cp {cluster.wal_archive}/%f %p'\nrecovery_target_timeline = 'latest'\n")
    (cluster.data / "recovery.signal").touch()
    if cluster.as_postgres:
        subprocess.run(["chown", "-R", "postgres:postgres", str(cluster.data)], check=True)
    cluster.data.chmod(0o700)
    cluster.pg_ctl("start")
    engine = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        wait_until(lambda: not c.execute(text("SELECT pg_is_in_recovery()")).scalar(), 60, "recovery to finish", 0.2)
    engine.dispose()

    # the same hub process serves again, with everything
    assert state(hub.db) == before
    fresh = told["coupons"][-1]
    status, answer = running_hub.post(
        signed_request(running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(fresh))
    )
    assert status == 200, fault_of(answer)
    for coupon in list(told["redeemed"])[:2]:
        status, answer = running_hub.post(
            signed_request(running_hub.identity("pojazd-1465"), "RedeemCoupon", **redeem_fields(coupon))
        )
        assert status == 500 and fault_of(answer)[0].endswith("Client.CouponNotRedeemable")
    verified = hub_command(config_dir, "audit", "verify").stdout
    assert "chain intact" in verified and "not yet sealed" in verified
    assert (
        hub_command(config_dir, "audit", "recover").stdout
        == "the database is not behind its archives: nothing to recover\n"
    )


# -- a nightly pg_dump restored behind the archives ---------------------------------------


def redeem(served, coupon: str, request_id: str | None = None):
    fields = redeem_fields(coupon, **({"RequestId": request_id} if request_id else {}))
    return served.post(signed_request(served.identity("pojazd-1465"), "RedeemCoupon", **fields))


def test_an_older_pg_dump_is_refused_changes_until_recover_brings_back_every_redemption(running_hub, cluster):
    hub, config_dir = running_hub.hub, running_hub.config_dir
    setup_company(hub)
    traffic(running_hub, redeem_count=2)
    dump = cluster.folder("backup") / "hub.dump"
    cluster.client("pg_dump", "--format=custom", f"--file={dump}", "postgres")

    later = traffic(running_hub, redeem_count=4, everything=True)  # after the nightly dump
    before = state(hub.db)
    assert before["payments"][later["payment"]][1] == SUPERVISOR and before["closed_days"]
    hub_command(config_dir, "audit", "archive", "--before", datetime.now(UTC).isoformat())  # the nightly archive run

    # the database is lost; the operator restores the dump (docs/deployment.md, section 8) and starts the hub
    cluster.client("pg_restore", "--clean", "--if-exists", "--dbname=postgres", str(dump))
    lost = state(hub.db)
    assert not set(later["redeemed"]) & set(lost["redemptions"]), "the dump was taken before the later redemptions"
    coupon = next(iter(later["redeemed"]))
    with serving(config_dir) as served:  # the hub started again on its config, as after a restore
        status, answer = redeem(served, coupon)
        code, message = fault_of(answer)
        assert status == 500 and code == f"{SOAP}Server" and "restored from a backup" in message
    listing = hub_command(config_dir, "audit", "recover").stdout
    assert sum("RedeemCoupon" in line and line.endswith("missing") for line in listing.splitlines()) == len(
        later["redeemed"]
    ), listing
    for operation in ("IssueCoupons", "CancelCoupon", "RegisterPayment", "VoidPayment", "CloseDay", "SubmitStatement"):
        assert any(operation in line and line.endswith("missing") for line in listing.splitlines()), (
            operation,
            listing,
        )
    applied = hub_command(config_dir, "audit", "recover", "--apply").stdout
    assert "the hub takes changes again" in applied, applied

    # every redemption, the batch, the cancellation, the payment and its void, the closed day,
    # the import, with their first ids
    assert state(hub.db) == before
    with serving(config_dir) as served:  # the hub started again on its config, as after a restore
        for coupon in later["redeemed"]:
            status, answer = redeem(served, coupon)
            assert status == 500 and fault_of(answer)[0].endswith("Client.CouponNotRedeemable"), coupon
        unused = later["coupons"][-1]
        status, answer = redeem(served, unused)
        assert status == 200, fault_of(answer)
    assert "chain intact" in hub_command(config_dir, "audit", "verify").stdout

"""Soak: mixed signed requests through two `hub serve` processes on
PostgreSQL while the company issues batches of 20. Every answer is checked as it
comes (a redeem retried with its RequestId gets the first RedemptionId, a second
redeem of a coupon is refused, two redeems of one coupon raced at both processes
capture once); afterwards the ledger verifies and its trial balance is zero, no
coupon is captured twice, the company's account matches its coupons, and
`hub audit verify` passes over the whole message log.

HUB_SOAK_REQUESTS sets the number of requests. The default, 3,000, is sized for CI's
20 minutes: 20-40 s at 75-150 requests/s on a 2-core host, whose speed has varied
two-fold from one day to the next. The long form, 50,000, is `bench/soak.sh`. The
request rate is in the run's summary ("measured")."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import func, select

from hub import ns
from hub.app import Hub
from hub.cashdesk.models import Payment
from hub.config import load_config
from hub.coupons.models import Coupon, Redemption
from hub.ledger.models import LedgerTransfer
from hub.ledger.service import Ledger
from hub.signing.sign import sign_envelope
from tests.support.databases import empty_pg
from tests.support.factories import OPERATOR, config_copy, funded_company, issue
from tests.support.served import HUB, REPO, ServedHub
from tests.support.soap import CLIENT_ID, MY_NIP

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

REQUESTS = int(os.environ.get("HUB_SOAK_REQUESTS", "3000"))
CLIENTS = 12
STARTING_COUPONS = 2000
BATCH = 20
FEE = 161_50
FUNDING = 2_000_000_00
SOAP = f"{{{ns.SOAP_ENV_11}}}"
SERVICES = {"office": ns.OFFICE, "company": ns.COMPANY, "cashdesk": ns.CASHDESK}
# operation -> share of the requests
MIX = {
    "verify": 46,
    "redeem": 15,
    "redeem_retry": 5,
    "redeem_again": 4,
    "redeem_race": 2,
    "cancel": 4,
    "account": 8,
    "issue": 1,
    "pay": 8,
    "verify_payment": 7,
}


def envelope(service: str, operation: str, fields: dict) -> etree._Element:
    """An unsigned request; a list value repeats the element, a dict value nests."""
    tns = SERVICES[service]
    env = etree.Element(SOAP + "Envelope", nsmap={"soap": ns.SOAP_ENV_11, "t": tns})
    etree.SubElement(env, SOAP + "Header")

    def fill(parent, values: dict):
        for name, value in values.items():
            for one in value if isinstance(value, list) else [value]:
                child = etree.SubElement(parent, f"{{{tns}}}{name}")
                if isinstance(one, dict):
                    fill(child, one)
                else:
                    child.text = str(one)

    fill(etree.SubElement(etree.SubElement(env, SOAP + "Body"), f"{{{tns}}}{operation}Request"), fields)
    return env


@dataclass
class Answer:
    status: int
    payload: etree._Element  # the Body's first child: the response or the Fault

    @property
    def fault(self) -> str | None:
        if self.payload.tag != SOAP + "Fault":
            return None
        return self.payload.findtext("faultcode").rpartition(":")[2].removeprefix("Client.")

    def text(self, name: str) -> str | None:
        return self.payload.findtext(f"{{*}}{name}")


@dataclass
class Ledgerbook:
    """What the clients were told, shared by the client threads under one lock."""

    fresh: deque = field(default_factory=deque)  # issued, not yet touched by a redeem or cancel
    redeemed: dict = field(default_factory=dict)  # coupon -> (redeem fields, RedemptionId)
    cancelled: list = field(default_factory=list)
    payments: list = field(default_factory=list)  # (System, CaseNumber, Total)
    issued_by_soap: int = 0
    counts: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_fresh(self) -> str | None:
        with self.lock:
            return self.fresh.popleft() if self.fresh else None

    def newest_fresh(self) -> str | None:
        with self.lock:
            return self.fresh[-1] if self.fresh else None

    def some(self, rng: random.Random, kind: str):
        with self.lock:
            pool = {"redeemed": self.redeemed, "cancelled": self.cancelled, "payments": self.payments}[kind]
            if not pool:
                return None
            return rng.choice(list(pool.items()) if isinstance(pool, dict) else pool)


class SoakClient:
    def __init__(self, config_dir, servers: list[ServedHub], book: Ledgerbook, seed: int) -> None:
        from hub.signing.keys import SigningIdentity

        keys = config_dir / "keys"
        self.identities = {
            who: SigningIdentity.load(keys / f"{who}.key", keys / f"{who}.crt")
            for who in ("pojazd-1465", CLIENT_ID, "kasa-1465-01")
        }
        self.signer = {"office": "pojazd-1465", "company": CLIENT_ID, "cashdesk": "kasa-1465-01"}
        self.servers, self.book, self.rng = servers, book, random.Random(seed)
        self.connections = {}

    def call(self, service: str, operation: str, fields: dict, server: int | None = None) -> Answer:
        import http.client

        server = self.rng.randrange(2) if server is None else server
        body = etree.tostring(
            sign_envelope(envelope(service, operation, fields), self.identities[self.signer[service]])
        )
        conn = self.connections.get(server) or http.client.HTTPConnection(
            self.servers[server].url.removeprefix("http://"), timeout=60
        )
        try:
            conn.request("POST", f"/soap/{service}", body, {"Content-Type": "text/xml; charset=utf-8"})
            response = conn.getresponse()
            data = response.read()
            self.connections[server] = conn
        except (OSError, http.client.HTTPException):
            conn.close()
            self.connections.pop(server, None)
            raise
        root = etree.fromstring(data)
        return Answer(response.status, root.find(f"{SOAP}Body")[0])

    def expect(self, ok: bool, what: str, answer: Answer | None = None) -> None:
        if not ok:
            detail = etree.tostring(answer.payload)[:400].decode() if answer is not None else ""
            with self.book.lock:
                self.book.errors.append(f"{what}: {detail}")

    # -- the operations ---------------------------------------------------

    def verify(self) -> None:
        kind = self.rng.choice(("fresh", "redeemed", "cancelled", "unknown"))
        if kind == "redeemed" and (picked := self.book.some(self.rng, "redeemed")):
            coupon, expected = picked[0], {"REDEEMED"}
        elif kind == "cancelled" and (picked := self.book.some(self.rng, "cancelled")):
            coupon, expected = picked, {"CANCELLED"}
        elif kind == "fresh" and (picked := self.book.newest_fresh()):
            coupon, expected = (picked, {"ISSUED", "REDEEMED", "CANCELLED"})  # another thread may take it meanwhile
        else:
            coupon, expected = ("".join(self.rng.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in range(16)), None)
        answer = self.call("office", "VerifyCoupon", {"CouponId": coupon, "OfficeCode": "1465"})
        if expected is None:
            self.expect(
                answer.fault is None
                and answer.text("Reason") in ("NOT_FOUND", "MALFORMED")
                and answer.text("Valid") == "false",
                "verify unknown",
                answer,
            )
        else:
            status = answer.text("Status")
            self.expect(
                answer.fault is None
                and status in expected
                and (answer.text("Valid") == "true") == (status == "ISSUED"),
                f"verify {coupon}",
                answer,
            )

    def redeem_fields(self, coupon: str) -> dict:
        return {
            "RequestId": str(uuid.uuid4()),
            "CouponId": coupon,
            "OfficeCode": "1465",
            "CaseNumber": f"WK.5410.{self.rng.randrange(10**6)}.2026",
            "CaseType": "REJ_NEW",
        }

    def redeem(self) -> None:
        coupon = self.book.take_fresh()
        if coupon is None:
            return self.verify()
        fields = self.redeem_fields(coupon)
        answer = self.call("office", "RedeemCoupon", fields)
        self.expect(answer.fault is None and answer.text("CapturedAmount") == "161.50", f"redeem {coupon}", answer)
        if answer.fault is None:
            with self.book.lock:
                self.book.redeemed[coupon] = (fields, answer.text("RedemptionId"))

    def redeem_retry(self) -> None:
        picked = self.book.some(self.rng, "redeemed")
        if picked is None:
            return self.verify()
        coupon, (fields, redemption_id) = picked
        answer = self.call("office", "RedeemCoupon", fields)
        self.expect(
            answer.fault is None and answer.text("RedemptionId") == redemption_id, f"redeem retried {coupon}", answer
        )

    def redeem_again(self) -> None:
        picked = self.book.some(self.rng, "redeemed")
        if picked is None:
            return self.verify()
        answer = self.call("office", "RedeemCoupon", self.redeem_fields(picked[0]))
        self.expect(
            answer.fault == "CouponNotRedeemable" and answer.payload.findtext(".//{*}Reason") == "REDEEMED",
            f"second redeem {picked[0]}",
            answer,
        )

    def redeem_race(self) -> None:
        """The same coupon redeemed under two RequestIds at both processes at once."""
        coupon = self.book.take_fresh()
        if coupon is None:
            return self.verify()
        other = SoakClient.__new__(SoakClient)
        other.__dict__.update(self.__dict__, rng=random.Random(self.rng.random()), connections={})
        answers: list = [None, None]
        fields = [self.redeem_fields(coupon), self.redeem_fields(coupon)]
        racer = threading.Thread(
            target=lambda: answers.__setitem__(1, other.call("office", "RedeemCoupon", fields[1], server=1))
        )
        racer.start()
        answers[0] = self.call("office", "RedeemCoupon", fields[0], server=0)
        racer.join()
        for conn in other.connections.values():
            conn.close()
        won = [i for i, a in enumerate(answers) if a is not None and a.fault is None]
        lost = [a for a in answers if a is not None and a.fault == "CouponNotRedeemable"]
        self.expect(
            len(won) == 1 and len(lost) == 1,
            f"race on {coupon}: {[a.fault if a else None for a in answers]}",
            answers[0],
        )
        if len(won) == 1:
            with self.book.lock:
                self.book.redeemed[coupon] = (fields[won[0]], answers[won[0]].text("RedemptionId"))

    def cancel(self) -> None:
        coupon = self.book.take_fresh()
        if coupon is None:
            return self.verify()
        answer = self.call("company", "CancelCoupon", {"RequestId": str(uuid.uuid4()), "CouponId": coupon})
        self.expect(answer.fault is None and answer.text("ReleasedAmount") == "161.50", f"cancel {coupon}", answer)
        if answer.fault is None:
            with self.book.lock:
                self.book.cancelled.append(coupon)

    def account(self) -> None:
        answer = self.call("company", "GetAccount", {"CompanyNip": MY_NIP})
        ok = answer.fault is None and Decimal(answer.text("Available")) >= 0 and Decimal(answer.text("Held")) >= 0
        self.expect(ok, "account", answer)

    def issue(self) -> None:
        answer = self.call(
            "company",
            "IssueCoupons",
            {"RequestId": str(uuid.uuid4()), "CompanyNip": MY_NIP, "CaseType": "REJ_NEW", "Count": BATCH},
        )
        coupons = [c.findtext("{*}CouponId") for c in answer.payload.findall("{*}Coupon")]
        self.expect(
            answer.fault is None
            and len(coupons) == BATCH
            and answer.text("TotalHeld") == f"{BATCH * FEE // 100}.{BATCH * FEE % 100:02d}",
            "issue",
            answer,
        )
        with self.book.lock:
            self.book.fresh.extend(coupons)
            self.book.issued_by_soap += len(coupons)

    def pay(self) -> None:
        case = f"KM.5410.{self.rng.randrange(10**9)}.2026"
        answer = self.call(
            "cashdesk",
            "RegisterPayment",
            {
                "RequestId": str(uuid.uuid4()),
                "OfficeCode": "1465",
                "DeskId": "01",
                "Cashier": "anna.nowak",
                "System": "POJAZD",
                "CaseNumber": case,
                "Method": "CASH",
                "Item": [{"FeeCode": "DR"}],
            },
        )
        self.expect(answer.fault is None and answer.text("PaymentId"), "pay", answer)
        if answer.fault is None:
            with self.book.lock:
                self.book.payments.append(("POJAZD", case, answer.text("Total")))

    def verify_payment(self) -> None:
        picked = self.book.some(self.rng, "payments")
        if picked is None:
            return self.verify()
        system, case, total = picked
        answer = self.call("office", "VerifyPayment", {"System": system, "OfficeCode": "1465", "CaseNumber": case})
        self.expect(
            answer.fault is None and answer.text("Paid") == "true" and answer.text("TotalPaid") == total,
            f"verify payment {case}",
            answer,
        )

    def run(self, operations: list[str]) -> None:
        try:
            for operation in operations:
                try:
                    getattr(self, operation)()
                except Exception as e:  # noqa: BLE001 - a broken exchange is an error of the soak, kept and reported
                    self.expect(False, f"{operation} raised {type(e).__name__}: {e}")
                with self.book.lock:
                    self.book.counts[operation] += 1
        finally:
            for conn in self.connections.values():
                conn.close()


@pytest.fixture
def soak_hub(tmp_path, request):
    url = request.getfixturevalue("pg_database_url")
    empty_pg(url)
    config_dir = config_copy(tmp_path, url)
    hub = Hub(load_config(config_dir))
    yield config_dir, hub
    hub.close()


def test_soak_mixed_signed_requests_through_two_processes(soak_hub, record_property):
    config_dir, hub = soak_hub
    funded_company(hub, FUNDING, nip=MY_NIP, name="Łódź Leasing Spółka z o.o.")
    book = Ledgerbook()
    for _ in range(STARTING_COUPONS // 1000):
        book.fresh.extend(c.coupon_id for c in issue(hub, 1000, nip=MY_NIP).coupons)

    started = time.monotonic()
    rng = random.Random(7)
    plan = rng.choices(list(MIX), weights=list(MIX.values()), k=REQUESTS)
    servers = []
    try:
        for i in range(2):
            servers.append(ServedHub(config_dir, config_dir.parent / f"serve-{i}.log", workers=2))
        clients = [SoakClient(config_dir, servers, book, seed) for seed in range(CLIENTS)]
        threads = [threading.Thread(target=c.run, args=(plan[i::CLIENTS],)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for served in servers:
            served.stop()
    loaded = time.monotonic()
    record_property(
        "measured",
        f"soak: {REQUESTS} requests in {loaded - started:.0f} s "
        f"({REQUESTS / (loaded - started):.0f}/s): {dict(book.counts)}",
    )

    assert not book.errors, f"{len(book.errors)} wrong answers of {REQUESTS}, first: {book.errors[:5]}"
    assert sum(book.counts.values()) == REQUESTS

    with hub.db.read() as s:
        ledger = Ledger(s)
        ledger.verify()
        trial = [balance for _, _, balance in ledger.trial_balance()]
        assert sum(b.debits_posted for b in trial) == sum(b.credits_posted for b in trial)
        assert sum(b.debits_pending for b in trial) == sum(b.credits_pending for b in trial)

        twice = s.execute(select(Redemption.coupon_id).group_by(Redemption.coupon_id).having(func.count() > 1)).all()
        assert not twice, f"captured twice: {twice[:5]}"
        redemptions = s.scalar(select(func.count()).select_from(Redemption))
        captures = s.scalar(select(func.count()).select_from(LedgerTransfer).where(LedgerTransfer.kind == "POST"))
        by_status = dict(s.execute(select(Coupon.status, func.count()).group_by(Coupon.status)).all())
        payments = s.scalar(select(func.count()).select_from(Payment))
    assert redemptions == captures == len(book.redeemed) == by_status.get("REDEEMED", 0)
    assert by_status.get("CANCELLED", 0) == len(book.cancelled)
    assert payments == len(book.payments)
    issued = STARTING_COUPONS + book.issued_by_soap
    assert sum(by_status.values()) == issued

    account = hub.companies.account(MY_NIP, actor=OPERATOR)
    assert account.held_grosze == (issued - redemptions - len(book.cancelled)) * FEE
    assert account.posted_grosze == FUNDING - redemptions * FEE

    audit = subprocess.run(
        [*HUB, "--config", str(config_dir), "audit", "verify"], capture_output=True, text=True, cwd=REPO, timeout=600
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr

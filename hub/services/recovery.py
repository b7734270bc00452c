"""`hub audit recover`: the state-changing requests the archives hold and a restored
database lacks, re-applied through the same SOAP services that served them.

A request is re-applied exactly as it was served: its archived envelope's payload,
validated against the XSD again, handed to the service (spyne) as the same client, with
the hub's clock at the moment it was first received, and its original RequestId, so the
domain's idempotency makes a second re-application a no-op. The ids the first answer
gave out (a batch's coupons, a RedemptionId, a PaymentId) are handed out again
(hub.ids.given_ids): the coupons a company printed and the ids an office keeps stay valid.

Only requests that were answered normally are re-applied: one answered with a fault had
no effect then, and its caller was told so. Each re-applied answer goes into the message
log (the chain continues after the archives), with the request's log id.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import select

from hub import ns
from hub.audit.messagelog import RESPONSE, Entry
from hub.audit.recovery import STATE_CHANGING, ArchivedExchange, Restored
from hub.db.idempotency import IdempotencyKey, canonical_request_id
from hub.errors import HubError, XmlRefused
from hub.ids import given_ids
from hub.xmlsafe import parse_xml

if TYPE_CHECKING:  # the composition root hands the Hub in; a transport never imports it
    from hub.app import Hub

SOAP = f"{{{ns.SOAP_ENV_11}}}"
ARCHIVED_BYTES_MAX = 64 * 1024 * 1024  # these passed the request limit once; our own answers can be larger
# what an answer gave out that a re-application must give out again, in the order the domain makes them
GENERATED = {
    "IssueCoupons": ("BatchId", "Coupon/CouponId"),
    "RedeemCoupon": ("RedemptionId",),
    "RegisterPayment": ("PaymentId",),
}

MISSING, IN_DATABASE, FAULTED, UNANSWERED = (
    "missing",
    "in the database",
    "answered with a fault (no effect)",
    "no answer logged",
)


@dataclass(frozen=True)
class ArchivedRequest:
    operation: str
    request_id: str | None  # SubmitStatement has none: a statement is imported once by its own references
    raw: bytes


@dataclass(frozen=True)
class Lacking:
    """One state-changing request of the archives after the restored point, and what recovery makes of it."""

    seq: int
    at: datetime
    service: str
    client_id: str
    log_id: str
    operation: str
    request_id: str | None
    status: str  # MISSING, IN_DATABASE, FAULTED, UNANSWERED
    outcome: str | None = None  # after --apply: "applied", or what went wrong
    ok: bool = True


class _ReplayClock:
    """The hub's clock during a re-application: the moment the request was first received."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def parse_request(raw: bytes) -> ArchivedRequest | None:
    """An archived request envelope as a state-changing request, or None for anything else."""
    payload = _payload(raw)
    if payload is None:
        return None
    name = etree.QName(payload)
    operation = name.localname.removesuffix("Request")
    if operation not in STATE_CHANGING or not name.localname.endswith("Request"):
        return None
    return ArchivedRequest(operation, payload.findtext(f"{{{name.namespace}}}RequestId"), raw)


def _payload(raw: bytes) -> etree._Element | None:
    try:
        envelope = parse_xml(raw, bytes_max=ARCHIVED_BYTES_MAX, depth_max=200)
    except XmlRefused:
        return None
    body = envelope.find(f"{SOAP}Body")
    return next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None


def _fault(envelope: etree._Element) -> str | None:
    fault = envelope.find(f"{SOAP}Body/{SOAP}Fault")
    return None if fault is None else f"{fault.findtext('faultcode')}: {fault.findtext('faultstring')}"


def _generated(operation: str, answer: etree._Element) -> list[str]:
    payload = next((c for c in answer.find(f"{SOAP}Body") if isinstance(c.tag, str)), None)
    if payload is None:
        return []
    namespace = etree.QName(payload).namespace
    found = []
    for path in GENERATED.get(operation, ()):
        found += [e.text for e in payload.findall("/".join(f"{{{namespace}}}{part}" for part in path.split("/")))]
    return found


class Recovery:
    """Lists and re-applies what a restored database lacks (hub.audit.recovery.RestoreGuard)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.guard = hub.restore_guard
        self.clock = _ReplayClock(hub.clock())
        self.replayed = hub.at_clock(self.clock)
        security = hub.security
        self.clients = {c.id: c for c in security.trust.clients}
        self.endpoints = {e.service: e for e in self.replayed.soap_endpoints(security, guard=None).values()}

    def pending(self) -> Restored | None:
        return self.guard.check()

    def listing(self, restored: Restored) -> list[Lacking]:
        rows = []
        exchanges = list(self.guard.exchanges(restored, parse_request))
        with self.hub.db.read() as session:
            keys = [canonical_request_id(e.request.request_id) for e in exchanges if e.request.request_id]
            known = (
                set(session.scalars(select(IdempotencyKey.request_id).where(IdempotencyKey.request_id.in_(keys))))
                if keys
                else set()
            )
        for e in exchanges:
            rows.append(self._row(e, known))
        return rows

    def _row(self, e: ArchivedExchange[ArchivedRequest], known: set[str]) -> Lacking:
        request = e.request
        if e.answer is None:
            status = UNANSWERED
        elif (answer := _answer_envelope(e.answer)) is None or _fault(answer):
            status = FAULTED
        elif request.request_id and canonical_request_id(request.request_id) in known:
            status = IN_DATABASE
        else:
            status = MISSING
        return Lacking(e.seq, e.at, e.service, e.client_id, e.log_id, request.operation, request.request_id, status)

    def apply(self, restored: Restored, by: str, force: bool = False) -> list[Lacking]:
        """Re-apply every MISSING request in order; close the recovery when all went as the first
        time (or `force`). The rows with their outcomes."""
        exchanges = {e.log_id: e for e in self.guard.exchanges(restored, parse_request)}
        done = []
        for row in self.listing(restored):
            if row.status != MISSING:
                done.append(row)
                continue
            done.append(self._reapply(row, exchanges[row.log_id]))
        if force or all(row.ok for row in done):
            self.guard.resolve(restored, by)
            self.hub.message_log.seal()
        return done

    def _reapply(self, row: Lacking, exchange: ArchivedExchange[ArchivedRequest]) -> Lacking:
        endpoint, client = self.endpoints.get(row.service), self.clients.get(row.client_id)
        if endpoint is None or client is None:
            return replace(
                row,
                outcome=f"not re-applied: {'client ' + row.client_id if client is None else 'service ' + row.service} "
                "is no longer configured",
                ok=False,
            )
        original = _answer_envelope(exchange.answer)
        try:
            body = parse_xml(exchange.request.raw, bytes_max=ARCHIVED_BYTES_MAX, depth_max=200).find(f"{SOAP}Body")
            payload = endpoint.validated_payload(body)
            self.clock.at = row.at
            with given_ids(_generated(row.operation, original)):
                answer = endpoint.call_service(_environ(row.service), payload, client, row.log_id)
        except HubError as error:
            return replace(row, outcome=f"not re-applied: {error.message}", ok=False)
        data = etree.tostring(answer, xml_declaration=True, encoding="UTF-8")
        self.hub.message_log.append(Entry(self.hub.clock(), RESPONSE, row.service, row.client_id, row.log_id, data))
        if fault := _fault(answer):
            return replace(row, outcome=f"re-applied, answered {fault}", ok=False)
        then, now = _generated(row.operation, original), _generated(row.operation, answer)
        if then != now:
            return replace(row, outcome=f"re-applied, but it gave {now} where the first answer gave {then}", ok=False)
        return replace(row, outcome="re-applied")


def _answer_envelope(data: bytes | None) -> etree._Element | None:
    if data is None:
        return None
    try:
        return parse_xml(data, bytes_max=ARCHIVED_BYTES_MAX, depth_max=200)
    except XmlRefused:
        return None


def _environ(service: str) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "SERVER_NAME": "hub-recover",
        "SERVER_PORT": "0",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": f"/soap/{service}",
        "SCRIPT_NAME": "",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": True,
    }

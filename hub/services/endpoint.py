"""One SOAP endpoint as a WSGI application, security first.

    raw bytes (size and time limits; a worker's exchanges then take turns)
    -> a restored database behind its archives? (hub.audit.recovery: checked every few seconds)
    -> hardened parse -> SOAP 1.1 rules (version, mustUnderstand)
    -> strict WS-Security verification
    -> request into the message log, with its replay-cache record (or refused)
    -> caller's kind allowed here? -> a state change while the database is being recovered?
    -> XSD validation of the signed payload
    -> spyne service (sees only the verified payload) -> response or fault
    -> signed by the hub but for its SignatureValue -> answer into the message log
       (a read's on SQLite once its turn is over, after its request's record: see below)
    -> the SignatureValue (the key's work, with nothing held in the database; a read's on
       SQLite before its request's record is asked for) -> metrics, one log line

The database sees at most two transactions on one connection (hub.db.database.Exchange);
on SQLite a request's record is written in a batch with other exchanges' (see below).
An operation that changes state: the request's record with its replay-cache row, committed
before any business code runs; then the business work, held open, with the answer's
record added to it: the effect and the record of what the caller was told commit together
or not at all. A read: the request's record with its replay-cache row, then the read (on
SQLite in a deferred transaction, which takes no write lock; on PostgreSQL in autocommit,
no BEGIN or COMMIT to send: READ COMMITTED gives each statement its own snapshot anyway). On
PostgreSQL a read does not wait for its record: the record's statement is sent, the read's
statements join it (one round trip for both, BENCHMARKS.md run 25), and the server runs them
once the record has committed; the service's answer goes out only if the record was made
(`_logged`), else the replay's or the log's fault. On SQLite a read asks for its record once
its turn is over (`_once_logged`): the record is written with those of the process's exchanges
that had their turns meanwhile, in one transaction; a state change asks in its turn, and lets
the exchanges waiting for it add theirs first (MessageLog.send_claimed; BENCHMARKS.md run
27). The answer is built and signed with no transaction open, and its record is committed
with other answers' records within 0.3 s (hub.services.group_commit).

spyne's own validator would run before any hook of ours, so spyne gets a
fresh envelope holding only the verified, validated payload, as a tree, and leaves
its answer as a tree to be signed (`TreeSoap11`): no bytes in between. `GET ?wsdl` and
`GET ?xsd=NAME` serve the published contract files with real addresses.
"""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import IO, NoReturn

from lxml import etree
from spyne import BODY_STYLE_WRAPPED, Application
from spyne import const as spyne_const
from spyne.const.xml import DEFAULT_NS
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from hub import ns
from hub.audit.messagelog import REQUEST, RESPONSE, Entry, MessageLog, SentRecord
from hub.audit.recovery import STATE_CHANGING, UNCHECKED, Restored, RestoreGuard
from hub.clock import Clock
from hub.config import SecuritySettings
from hub.db.database import Exchange
from hub.db.replay import DatabaseReplayCache
from hub.errors import HubError, InvalidRequest, NotAuthorized, SchemaViolation
from hub.ops import metrics
from hub.ops.logging import LOGGED_BY_HUB, request_fields
from hub.services.answer_plans import AnswerPlans
from hub.services.deadline import ReadDeadlines
from hub.services.faults import ServerFault, fault_envelope, server_fault
from hub.services.group_commit import GroupCommit
from hub.services.request_plans import RequestPlans
from hub.services.soap11 import check_envelope
from hub.signing.faults import SecurityFault
from hub.signing.keys import SigningIdentity
from hub.signing.policy import SignaturePolicy
from hub.signing.sign import Unsealed, prepare_signature
from hub.signing.trust import TrustStore
from hub.signing.verify import DeferredReplay, replayed, verify_envelope
from hub.xmlsafe import parse_xml

log = logging.getLogger("hub.soap")
logging.getLogger("spyne.application").setLevel(logging.CRITICAL)  # faults are ours to log
logging.getLogger("spyne.application.server").setLevel(logging.CRITICAL)
# spyne runs a full gc.collect() after a request once a second, to close its file uploads
# (none here): on a hub worker's heap that is ~100 ms of CPU and a ~100 ms stall every second.
spyne_const.MIN_GC_INTERVAL = float("inf")

CONTRACT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Security:
    trust: TrustStore
    policy: SignaturePolicy
    replay: DatabaseReplayCache  # checked with the request's message log record, in one transaction
    identity: SigningIdentity
    request_bytes_max: int
    xml_depth_max: int
    request_body_timeout_s: float = SecuritySettings.request_body_timeout_s
    body_deadlines: ReadDeadlines = field(default_factory=ReadDeadlines)  # one watcher thread per process


def contract_schema(service: str) -> etree.XMLSchema:
    """The published XSD (trusted local files; imports resolve beside it)."""
    return etree.XMLSchema(etree.parse(str(CONTRACT / "xsd" / f"{service}.xsd")))


def contract_operations(service: str) -> frozenset[str]:
    """The request element names the service's XSD declares (`RedeemCouponRequest`...)."""
    tree = etree.parse(str(CONTRACT / "xsd" / f"{service}.xsd"))
    return frozenset(
        e.get("name")
        for e in tree.getroot().iterchildren(f"{{{ns.XSD}}}element")
        if e.get("name", "").endswith("Request")
    )


class MessageLogUnavailable(ServerFault):
    """soap:Server: the request could not be written to the message log, so it was not served."""

    def __init__(self, log_id: str) -> None:
        super().__init__(
            "The hub cannot write its message log, so it did not process the request and changed nothing; "
            f"try again later, quoting {log_id} to support."
        )


class RestorePending(ServerFault):
    """soap:Server: the database was restored to an earlier point and is not yet brought up to
    date from the message log's archives (`hub audit recover`); state changes wait until then."""

    def __init__(self, log_id: str, held: Restored) -> None:
        if held is UNCHECKED:
            super().__init__(
                "The hub could not compare its database with its message log archives, "
                "so it did not process the request and changed nothing; "
                f"try again shortly, with the same RequestId; quote {log_id} to support if it persists."
            )
        else:
            super().__init__(
                "The hub's database was restored from a backup and is being brought up to date; "
                "until then it takes no changes and changed nothing; "
                f"try again later, with the same RequestId; quote {log_id} to support if it persists."
            )


@dataclass(frozen=True)
class _Answer:
    """An answer or fault signed but for its SignatureValue (hub.signing.sign.prepare_signature),
    and its bytes so: what the message log records. The record commits with the work the
    answer reports, and the key's work (RSA: 0.3 ms, two thirds of signing) waits until then:
    on SQLite it held every process's writers (BENCHMARKS.md, run 19). A read's on SQLite,
    whose work is a read, comes before its request's record is asked for (`_serve`). The SignedInfo
    recorded names everything the signature covers, so the SignatureValue adds nothing the
    record lacks. `sealed()`: the answer's bytes as sent, the record's with its SignatureValue."""

    envelope: etree._Element
    signature: Unsealed
    recorded: bytes

    def sealed(self) -> bytes:
        return self.signature.sealed_bytes(self.recorded)


@dataclass
class _Exchange:
    """What the endpoint learns about one request as it goes."""

    log_id: str
    received_at: datetime
    started: float
    raw: bytes = b""
    client_id: str = "-"
    operation: str = metrics.UNKNOWN_OPERATION
    coupon: str | None = None
    request_logged: bool = False  # the request's record and its replay-cache row are committed
    database: Exchange | None = None  # the exchange's connection and held transaction
    request_record: SentRecord | None = None  # whether it was made, until asked (`_logged`)

    @property
    def record_after_turn(self) -> bool:
        """The request's record is batched (SQLite) and not yet asked for: a read's, asked once
        the exchange's turn is over, so that the exchanges that run meanwhile add theirs."""
        return self.request_record is not None and self.request_record.batched


VERIFIED_ENVELOPE = "hub.verified_envelope"  # the WSGI environ key call_service hands spyne
ANSWER_ENVELOPE = "hub.answer_envelope"  # where spyne leaves its answer's tree for call_service


class TreeSoap11(Soap11):
    """spyne's SOAP 1.1, trees in and out: handed the envelope `call_service` built around the
    verified, validated payload, it reads that tree instead of bytes serialised from it and
    parsed again (its payload from a plan: hub.services.request_plans); and it leaves its
    answer's tree for `call_service` to sign, instead of bytes to be parsed again. Without
    those WSGI environ keys, spyne's own way both ways."""

    def create_in_document(self, ctx, charset=None):
        envelope = ctx.transport.req_env.get(VERIFIED_ENVELOPE)
        if envelope is None:
            super().create_in_document(ctx, charset)
        else:
            ctx.in_document = (envelope, {})  # no xml:id references in a validated payload

    def decompose_incoming_envelope(self, ctx, message=Soap11.REQUEST):
        """The envelope `call_service` built, Envelope/Body/payload and no Header, taken apart as
        spyne's own way does it, without its two XPath queries (compiled on each call)."""
        envelope, _ = ctx.in_document
        if envelope is not ctx.transport.req_env.get(VERIFIED_ENVELOPE):
            super().decompose_incoming_envelope(ctx, message)
            return
        ctx.in_document = envelope
        ctx.in_header_doc = None
        ctx.in_body_doc = envelope[0][0]
        ctx.method_request_string = ctx.in_body_doc.tag
        self.validate_body(ctx, message)

    def deserialize(self, ctx, message):
        """The payload of the envelope `call_service` built read from its request class's plan
        (hub.services.request_plans), with the deserialize events fired around it (the hub
        listens to none); anything else, and a payload the plan leaves to spyne, spyne's own way."""
        if message is self.REQUEST and ctx.in_document is ctx.transport.req_env.get(VERIFIED_ENVELOPE):
            inst = self.request_plans.read(ctx, ctx.descriptor.in_message, ctx.in_body_doc)
            if inst is not None:
                self.event_manager.fire_event("before_deserialize", ctx)
                ctx.in_object = inst
                self.event_manager.fire_event("after_deserialize", ctx)
                return
        super().deserialize(ctx, message)

    @cached_property
    def request_plans(self) -> RequestPlans:
        return RequestPlans(self)

    def serialize(self, ctx, message):
        """A plain answer (no fault, no SOAP header) written from its class's plan
        (hub.services.answer_plans); anything else, and an answer the plan leaves to spyne,
        spyne's own way. The serialize events fire around the written answer (the hub
        listens to none)."""
        if message is self.RESPONSE and ctx.out_error is None and ctx.out_header is None:
            out_message = ctx.descriptor.out_message
            if ctx.descriptor.body_style is not BODY_STYLE_WRAPPED:
                body = etree.Element(f"{{{self.ns_soap_env}}}Body")
                namespace = out_message.Attributes.sub_ns  # as spyne's serialize names it
                if namespace is None:
                    namespace = out_message.get_namespace()
                if namespace is DEFAULT_NS:
                    namespace = self.app.interface.get_tns()
                name = out_message.Attributes.sub_name or out_message.get_type_name()
                if self.answer_plans.write(out_message, ctx.out_object[0], body, namespace, name):
                    self.event_manager.fire_event("before_serialize", ctx)
                    ctx.out_document = etree.Element(f"{{{self.ns_soap_env}}}Envelope", nsmap=self.app.interface.nsmap)
                    ctx.out_document.append(body)
                    ctx.out_body_doc = body
                    if self.cleanup_namespaces:
                        etree.cleanup_namespaces(ctx.out_document)
                    self.event_manager.fire_event("after_serialize", ctx)
                    return
        super().serialize(ctx, message)

    @cached_property
    def answer_plans(self) -> AnswerPlans:
        return AnswerPlans(self)

    def create_out_string(self, ctx, charset=None):
        answers = ctx.transport.req_env.get(ANSWER_ENVELOPE)
        if answers is None:
            super().create_out_string(ctx, charset)
        else:
            answers.append(ctx.out_document)
            ctx.out_string = [b""]


def _fault_label(response: etree._Element) -> str:
    """`none`, or the faultcode as the contract writes it: `Client.CouponNotRedeemable`,
    `Server`, `wsse:FailedCheck`, `wsu:MessageExpired`."""
    fault = response.find(f"{{{ns.SOAP_ENV_11}}}Body/{{{ns.SOAP_ENV_11}}}Fault")
    if fault is None:
        return metrics.NO_FAULT
    prefix, _, local = (fault.findtext("faultcode") or "").rpartition(":")
    namespace = fault.nsmap.get(prefix) if prefix else None
    labels: dict[str | None, str] = {ns.WSSE: f"wsse:{local}", ns.WSU: f"wsu:{local}"}
    return labels.get(namespace, local or "Server")


class SoapEndpoint:
    def __init__(
        self,
        service: str,
        namespace: str,
        spyne_services: Iterable[type],
        kinds: frozenset[str],
        security: Security,
        message_log: MessageLog,
        clock: Clock,
        context: dict | None = None,
        guard: RestoreGuard | None = None,
        answer_records: GroupCommit | None = None,
    ) -> None:
        self.service = service
        self.namespace = namespace
        self.kinds = kinds
        self.security = security
        self.message_log = message_log
        self.clock = clock
        self.context = context or {}
        self.guard = guard
        self.answer_records = answer_records  # a read's answer record, committed with others'; else at once
        self.schema = contract_schema(service)
        self.operations = contract_operations(service)
        app = Application(
            list(spyne_services), tns=namespace, in_protocol=TreeSoap11(validator=None), out_protocol=TreeSoap11()
        )
        self.spyne = WsgiApplication(app)
        for descriptors in app.interface.service_method_map.values():  # made before the first request, once
            for descriptor in descriptors:
                app.out_protocol.answer_plans.plan(descriptor.out_message)

    # -- WSGI -------------------------------------------------------------

    def __call__(self, environ: dict, start_response: Callable):
        if environ["REQUEST_METHOD"] == "GET":
            return self._describe(environ, start_response)
        if environ["REQUEST_METHOD"] != "POST":
            start_response("405 Method Not Allowed", [("Allow", "GET, POST")])
            return [b""]
        return self._serve(environ, start_response)

    def _serve(self, environ: dict, start_response: Callable):
        exchange = _Exchange(str(uuid.uuid4()), self.clock(), time.perf_counter())
        with request_fields(request_id=exchange.log_id, service=self.service) as fields:
            unread = self._receive(environ, exchange)  # before the exchange: it may take its turn (Database.exchange)
            with self.message_log.db.exchange() as exchange.database:
                answer = self._prepared(self._answer(environ, exchange, unread))
                if not exchange.record_after_turn:
                    answer = self._log_answer(exchange, answer)
                self._forget_expired_signatures()
            # After the exchange, whose turn the process's next exchange takes meanwhile: the
            # key's work (it lets go of the GIL, so that exchange runs beside it), once the
            # request's record is made and a state change's work is committed with its answer's
            # record; then the metrics and the log line. A read's on SQLite comes before its
            # record is asked for: meanwhile the exchange after it may write the record with its
            # own (MessageLog.send_claimed), so that it need not wait for the turn again
            # (BENCHMARKS.md, run 39). Nothing goes out before the record is made: refused (a
            # replay, a log that cannot be written), the answer is dropped for the fault.
            if exchange.record_after_turn:
                unlogged, body = answer, answer.sealed()
                answer = self._log_answer(exchange, self._once_logged(exchange, answer))
                if answer is not unlogged:
                    body = answer.sealed()
            else:
                body = answer.sealed()
            fault = _fault_label(answer.envelope)
            status = "500 Internal Server Error" if fault != metrics.NO_FAULT else "200 OK"
            self._account(exchange, fault, status, environ, fields)
        start_response(
            status,
            [
                ("Content-Type", "text/xml; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("X-Hub-Request-Id", exchange.log_id),
            ],
        )
        return [body]

    def _prepared(self, response: etree._Element) -> _Answer:
        signature = prepare_signature(response, self.security.identity, now=self.clock())
        return _Answer(response, signature, etree.tostring(response, xml_declaration=True, encoding="UTF-8"))

    def _receive(self, environ: dict, exchange: _Exchange) -> Exception | None:
        """Reads the request's body into `exchange.raw`; what went wrong, if anything, is for
        `_answer` to answer."""
        try:
            exchange.raw = self._read_body(environ)
        except Exception as error:  # noqa: BLE001 - answered as a fault by _answer
            return error
        return None

    def _answer(self, environ: dict, exchange: _Exchange, unread: Exception | None) -> etree._Element:
        """The answer or the fault, unsigned. The request is in the message log before any
        business code that changes state runs (`_log_request`, `_logged`); a read's service
        may run while its record is on its way, and its answer goes out only once the record
        is made (asked here, or after the exchange's turn where records are batched:
        `_once_logged`). When the request cannot be logged, it is refused and nothing changes."""
        try:
            # before anything is logged: after a restore the log continues after its archives
            held = self.guard.held() if self.guard is not None else None
            if unread is not None:
                raise unread
            envelope = parse_xml(
                exchange.raw, bytes_max=self.security.request_bytes_max, depth_max=self.security.xml_depth_max
            )
            exchange.operation = self._operation_of(envelope)
            check_envelope(envelope)
            replay = DeferredReplay()
            verified = verify_envelope(
                envelope, self.security.trust, self.security.policy, replay, exchange.received_at
            )
            exchange.client_id = verified.client.id
            self._log_request(exchange, replay)
            try:
                if self._changes_state(exchange):
                    self._logged(exchange)
                if verified.client.kind not in self.kinds:
                    raise NotAuthorized(f"a {verified.client.kind} client may not call the {self.service} service")
                if held is not None and exchange.operation in STATE_CHANGING:
                    raise RestorePending(exchange.log_id, held)
                payload = self.validated_payload(verified.body)
                exchange.coupon = payload.findtext(f"{{{self.namespace}}}CouponId")
                answer = self.call_service(environ, payload, verified.client, exchange.log_id)
            finally:  # a read's: its answer, or fault, goes out only once the request is logged
                if not exchange.record_after_turn:
                    self._logged(exchange)
            return answer
        except HubError as error:
            return self._refusal(exchange, error)
        except Exception as error:  # noqa: BLE001 - never a stack trace to the caller
            log.exception("request %s to %s failed", exchange.log_id, self.service)
            return fault_envelope(server_fault(exchange.log_id, error), exchange.log_id)

    @staticmethod
    def _refusal(exchange: _Exchange, error: HubError) -> etree._Element:
        if isinstance(error, SecurityFault):
            metrics.signature_refused(error.code)
        return fault_envelope(error, exchange.log_id)

    def _once_logged(self, exchange: _Exchange, answer: _Answer) -> _Answer:
        """`answer` once the request's record is made (`_logged`); else the fault saying why,
        in its place: a replay, a message log that cannot be written."""
        try:
            self._logged(exchange)
        except HubError as error:
            return self._prepared(self._refusal(exchange, error))
        return answer

    def _read_body(self, environ: dict) -> bytes:
        """The body, within `request_body_timeout_s`: a client that sends it slower gets a
        fault, and the worker is free again (hub/services/deadline.py). The connection's
        reading side is shut by then, so gunicorn closes it after the fault."""
        timeout_s = self.security.request_body_timeout_s
        with self.security.body_deadlines.watch(environ.get("gunicorn.socket"), timeout_s) as watch:
            data = _read_body(environ, self.security.request_bytes_max)
        if watch.expired:
            raise InvalidRequest(f"the request body did not arrive within {timeout_s:g} s; send it at once")
        return data

    # -- message log, metrics and the log line: one place ---------------------------------

    def _log_request(self, exchange: _Exchange, replay: DeferredReplay) -> None:
        """The request and its signature's replay-cache record, both or neither, sent
        (MessageLog.send_claimed; on PostgreSQL one statement, not waited for; on SQLite
        batched): whether they were made is asked by `_logged`, at once for a state change;
        for a read after the service, whose reads on PostgreSQL go to the server with the
        record (one round trip) and run once it has committed, and on SQLite once the
        exchange's turn is over (`_once_logged`), so that other exchanges' records join it."""
        assert replay.key is not None and replay.expires_at is not None  # verify_envelope took note of both
        entry = Entry(exchange.received_at, REQUEST, self.service, exchange.client_id, exchange.log_id, exchange.raw)
        claim = self.security.replay.claim(replay.key, replay.expires_at)
        try:
            exchange.request_record = self.message_log.send_claimed(entry, claim)
        except Exception:  # noqa: BLE001 - whatever broke the log, the request is not served
            self._log_refused(exchange)

    def _logged(self, exchange: _Exchange) -> None:
        """The request's record made, or the request refused: a replay; a log that cannot be
        written refuses the request (soap:Server) rather than serve it unlogged. Once."""
        record, exchange.request_record = exchange.request_record, None
        if record is None:
            return
        try:
            claimed = record.made()
        except Exception:  # noqa: BLE001 - whatever broke the log, the request is not served
            self._log_refused(exchange)
        if not claimed:
            raise replayed()
        exchange.request_logged = True
        if exchange.database is not None and self._changes_state(exchange):
            exchange.database.hold_next()  # the business work waits for the answer's record

    @staticmethod
    def _log_refused(exchange: _Exchange) -> NoReturn:
        log.exception("request %s: the message log cannot be written; the request is refused", exchange.log_id)
        metrics.message_log_failed(REQUEST)
        raise MessageLogUnavailable(exchange.log_id) from None

    def _log_answer(self, exchange: _Exchange, answer: _Answer) -> _Answer:
        """The answer as it goes out but for its SignatureValue (`_Answer`): in the transaction
        of the business work it reports (held open until now) when the operation changes
        state; a read's, its request in the log, with other answers' records (`answer_records`,
        a group commit: within 0.3 s); else on its own, with its request when that was refused
        before being logged. If the held work cannot be committed, it is undone and the caller
        gets a fault instead, logged on its own; an answer or fault that cannot be logged goes
        out unlogged, reported. Returns what goes out."""
        held = exchange.database if exchange.database is not None and exchange.database.holding else None
        entries = self._entries(exchange, answer.recorded)
        try:
            if held is not None:
                held.finish(lambda connection: self.message_log.send_with_work(connection, *entries))
            elif self.answer_records is not None and exchange.request_logged and not self._changes_state(exchange):
                self.answer_records.add(*entries)
            else:
                if exchange.database is not None:  # refused before its work began: nothing to hold the record for
                    exchange.database.hold_next(False)
                self.message_log.append(*entries)
            return answer
        except Exception as error:  # noqa: BLE001
            if held is None:
                self._unlogged(exchange, "the answer went out unlogged")
                return answer
            log.exception(
                "request %s: the answer and its work could not be committed; a fault goes out", exchange.log_id
            )
            answer = self._prepared(fault_envelope(server_fault(exchange.log_id, error), exchange.log_id))
        try:
            self.message_log.append(*self._entries(exchange, answer.recorded))
        except Exception:  # noqa: BLE001
            self._unlogged(exchange, "the fault went out unlogged")
        return answer

    @staticmethod
    def _changes_state(exchange: _Exchange) -> bool:
        """Whether the operation may change state: its answer, a fault too, is recorded at once,
        so that `hub audit recover` finds what it was told (hub.audit.recovery)."""
        return exchange.operation in STATE_CHANGING

    def _entries(self, exchange: _Exchange, body: bytes) -> list[Entry]:
        entries = [Entry(self.clock(), RESPONSE, self.service, exchange.client_id, exchange.log_id, body)]
        if not exchange.request_logged:
            entries.insert(
                0, Entry(exchange.received_at, REQUEST, self.service, exchange.client_id, exchange.log_id, exchange.raw)
            )
        return entries

    @staticmethod
    def _unlogged(exchange: _Exchange, what: str) -> None:
        log.exception("request %s: the message log cannot be written; %s", exchange.log_id, what)
        metrics.message_log_failed(RESPONSE)

    def _forget_expired_signatures(self) -> None:
        """Keeps the replay cache bounded (at most once a minute per process); a failure
        is logged and retried with a later request, the answer is not affected."""
        try:
            self.security.replay.purge_if_due()
        except Exception:  # noqa: BLE001
            log.exception("the replay cache could not forget expired signatures; trying again later")

    def _account(self, exchange: _Exchange, fault: str, status: str, environ: dict, fields: dict) -> None:
        """Metrics, and the request's one log line: gunicorn adds no access line for it
        (`LOGGED_BY_HUB`), so this one carries the HTTP status and the caller's address too.
        Its fields join the request's (`fields`, `request_fields`), which every line logged
        from here on carries."""
        duration_s = time.perf_counter() - exchange.started
        metrics.observe_request(self.service, exchange.operation, fault, duration_s)
        outcome = "ok" if fault == metrics.NO_FAULT else fault
        fields.update(
            operation=exchange.operation,
            client=exchange.client_id,
            outcome=outcome,
            duration_ms=round(duration_s * 1000, 1),
            coupon=exchange.coupon,
            path=environ.get("PATH_INFO"),
            status=int(status[:3]),
            remote=environ.get("REMOTE_ADDR"),
        )
        log.info("%s %s from %s: %s", self.service, exchange.operation, exchange.client_id, outcome)
        environ[LOGGED_BY_HUB] = True
        if exchange.coupon:
            log.debug("request %s named coupon %s", exchange.log_id, exchange.coupon)

    def _operation_of(self, envelope: etree._Element) -> str:
        """The operation the Body names, if the contract has it; else "unknown" (metrics
        labels stay bounded whatever a caller sends)."""
        body = envelope.find(f"{{{ns.SOAP_ENV_11}}}Body")
        first = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
        if first is not None:
            name = etree.QName(first)
            if name.namespace == self.namespace and name.localname in self.operations:
                return name.localname.removesuffix("Request")
        return metrics.UNKNOWN_OPERATION

    def validated_payload(self, body: etree._Element) -> etree._Element:
        """The soap:Body's one request element, valid against the service's XSD (else SchemaViolation)."""
        children = [c for c in body if isinstance(c.tag, str)]
        if len(children) != 1:
            raise SchemaViolation(f"the soap:Body must hold exactly one request element, it holds {len(children)}")
        payload = children[0]
        if not self.schema.validate(payload):
            error = self.schema.error_log.last_error
            raise SchemaViolation(
                f"{etree.QName(payload).localname}: {error.message} (line {error.line})",
                Element=etree.QName(payload).localname,
            )
        return payload

    def call_service(self, environ: dict, payload: etree._Element, client, log_id: str) -> etree._Element:
        """The spyne service's answer (or fault) to a verified, validated payload from `client`; also
        how `hub audit recover` re-applies an archived request (hub.services.recovery)."""
        envelope = etree.Element(f"{{{ns.SOAP_ENV_11}}}Envelope", nsmap={"soap": ns.SOAP_ENV_11})
        etree.SubElement(envelope, f"{{{ns.SOAP_ENV_11}}}Body").append(payload)
        answers: list[etree._Element] = []
        inner = {
            **environ,
            VERIFIED_ENVELOPE: envelope,  # parsed already: not serialised for spyne to parse again
            ANSWER_ENVELOPE: answers,  # nor its answer: spyne's tree, signed as it is
            "wsgi.input": io.BytesIO(b""),
            "CONTENT_LENGTH": "0",
            "CONTENT_TYPE": "text/xml; charset=utf-8",
            "QUERY_STRING": "",
            "hub.client": client,
            "hub.log_id": log_id,
            "hub.context": self.context,
        }
        for _ in self.spyne(inner, lambda status, headers, exc_info=None: None):
            pass  # spyne's body is empty: its answer is in `answers`
        if len(answers) != 1:
            raise RuntimeError(f"spyne gave {len(answers)} answer envelopes, not one")
        return answers[0]

    # -- the published contract ---------------------------------------------

    def _describe(self, environ: dict, start_response: Callable):
        query = environ.get("QUERY_STRING", "")
        base = _own_url(environ)
        if query.lower() == "wsdl":
            return _xml(start_response, self._wsdl(base))
        if query.startswith("xsd="):
            name = query[4:]
            if name in self._xsd_files:
                return _xml(start_response, _rewrite_locations(self._xsd_files[name], base))
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"GET ?wsdl for the service description\n"]

    @cached_property
    def _xsd_files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in (CONTRACT / "xsd").glob("*.xsd")}

    def _wsdl(self, base: str) -> bytes:
        tree = etree.fromstring((CONTRACT / "wsdl" / f"{self.service}.wsdl").read_bytes())
        for address in tree.iter(f"{{{ns.WSDL_SOAP}}}address"):
            address.set("location", base)
        return _rewrite_locations(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"), base)


def _rewrite_locations(document: bytes, base: str) -> bytes:
    """schemaLocation="../xsd/office.xsd" or "common.xsd" -> "<endpoint>?xsd=office.xsd"."""
    tree = etree.fromstring(document)
    for element in tree.iter(f"{{{ns.XSD}}}import", f"{{{ns.XSD}}}include"):
        location = element.get("schemaLocation")
        if location:
            element.set("schemaLocation", f"{base}?xsd={Path(location).name}")
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


def _own_url(environ: dict) -> str:
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{path}"


def _xml(start_response: Callable, body: bytes):
    start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


# A body declared over the limit but within this many times it is read and dropped before the
# fault goes out: a client still sending it would otherwise have the connection reset under it
# (the server closes with its bytes unread) and never see the fault. One declared larger is
# not read at all.
OVERSIZE_DRAINED_UP_TO = 4


def _read_body(environ: dict, bytes_max: int) -> bytes:
    """At most bytes_max + 1 bytes are kept, whatever Content-Length claims."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise InvalidRequest("Content-Length is not a number") from None
    if declared > bytes_max:
        if declared <= OVERSIZE_DRAINED_UP_TO * bytes_max:
            _drain(environ["wsgi.input"], declared)
        raise InvalidRequest(f"the request is {declared} bytes; the limit is {bytes_max} bytes")
    data = environ["wsgi.input"].read(min(declared, bytes_max + 1) if declared else bytes_max + 1)
    if len(data) > bytes_max:
        raise InvalidRequest(f"the request is over the limit of {bytes_max} bytes")
    return data


def _drain(stream: IO[bytes], length: int) -> None:
    """Reads `length` bytes of `stream` and drops them (fewer if it ends first)."""
    while length > 0:
        chunk = stream.read(min(length, 65536))
        if not chunk:
            return
        length -= len(chunk)

"""Structured logs: one JSON object a line, the same for `hub serve` and the `hub` command.

    {"time": "2026-03-10T09:30:00.123Z", "level": "INFO", "logger": "hub.soap",
     "message": "office RedeemCoupon from pojazd-1465: ok", "request_id": "6f1c...",
     "service": "office", "operation": "RedeemCoupon", "client": "pojazd-1465",
     "outcome": "ok", "duration_ms": 41.7, "coupon": "****-****-****-7Q3K",
     "path": "/soap/office", "status": 200, "remote": "10.1.2.3"}

That line is the SOAP request's only one: gunicorn writes no access line for a request
the hub logged itself (`LOGGED_BY_HUB`); other requests (the portal, `?wsdl`, probes)
get gunicorn's access line, as JSON too.

`request_id` is the log id the hub puts in every fault's detail, in the message
log and in the `X-Hub-Request-Id` header, so one id finds a request everywhere.
The SOAP endpoint sets the request's fields for its thread (`request_fields`),
so a line logged by domain code while serving a request carries them too.

What never reaches a log: only the fields above are written (anything else passed in
`extra` is dropped, so a password or a payload cannot slip in through a field); a
PEM private key block in a message or a traceback is replaced by "[private key
redacted]"; and, at INFO and above, no full coupon id: every coupon id in a line
is masked to its last 4 symbols (`****-****-****-7Q3K`), because a coupon id is as
good as money to whoever holds it. DEBUG lines keep them, for a developer's machine.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from hub.errors import ConfigError

# The fields this formatter writes from a record's `extra`, in this order.
REQUEST_FIELDS = ("request_id", "service", "operation", "client", "outcome", "duration_ms")
EXTRA_FIELDS = (*REQUEST_FIELDS, "coupon", "company", "count", "amount_grosze", "path", "status", "remote")

# A WSGI environ key: set by an application that wrote the request's line itself (the SOAP
# endpoint's, with the HTTP status and the caller's address), so gunicorn adds no access
# line of its own for it (hub.cli.serve). One line a request.
LOGGED_BY_HUB = "hub.request_logged"
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)

# A coupon id as a person or a system may write it: 16 symbols, in groups of 4 with
# optional dashes, standing alone (not part of a UUID, a hash or a longer word), in one
# case: a mixed-case word such as `OperationalError` is a name, not a coupon.
_COUPON_ID = re.compile(r"(?<![\w-])(?:[0-9A-Za-z]{4}-?){3}([0-9A-Za-z]{4})(?![\w-])")

_PRIVATE_KEY_END = "PRIVATE KEY-----"  # in every text _PRIVATE_KEY matches
COUPON_SYMBOLS = 16  # in every text _COUPON_ID matches, dashes aside
_SECRET_CHARS_MIN = min(COUPON_SYMBOLS, len(_PRIVATE_KEY_END))  # in any text either is in
_NEVER_SECRET = frozenset(("time", "level", "logger", "request_id"))
_ABSENT = object()

_request: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "hub_request_fields", default=MappingProxyType({})
)


def mask_coupon_ids(text: str) -> str:
    """Every coupon id in `text` as `****-****-****-XXXX` (its last 4 symbols, upper case)."""

    def mask(m: re.Match) -> str:
        symbols = m.group(0)
        if symbols != symbols.upper() and symbols != symbols.lower():
            return symbols
        return "****-****-****-" + m.group(1).upper()

    return _COUPON_ID.sub(mask, text)


@contextlib.contextmanager
def request_fields(**fields: Any) -> Iterator[dict[str, Any]]:
    """Fields every log line carries while this block runs in this thread (the
    endpoint sets request_id and service, and fills in the rest as it learns them)."""
    current = {**_request.get(), **fields}
    token = _request.set(current)
    try:
        yield current
    finally:
        _request.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; see the module docstring for the fields."""

    def format(self, record: logging.LogRecord) -> str:
        masked = record.levelno >= logging.INFO
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request = _request.get()
        for name in EXTRA_FIELDS:
            value = getattr(record, name, _ABSENT)  # the record's extra, else the request's field
            if value is _ABSENT:
                value = request.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        for name, value in line.items():
            # shorter text holds neither a coupon id nor `_PRIVATE_KEY_END`: most fields are short
            if isinstance(value, str) and len(value) >= _SECRET_CHARS_MIN and name not in _NEVER_SECRET:
                if _PRIVATE_KEY_END in value:  # what _PRIVATE_KEY needs, looked for first: most lines have none
                    value = _PRIVATE_KEY.sub("[private key redacted]", value)
                line[name] = mask_coupon_ids(value) if masked else value
        return json.dumps(line, ensure_ascii=False, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of each line (a test runner
    may swap it), like logging's own last-resort handler."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str | int = "INFO") -> logging.Handler:
    """JSON lines on stderr for the root logger; idempotent (replaces the handler
    an earlier call installed, keeps any other)."""
    # A line carries the fields above and nothing else a record could: so no record looks up
    # its caller's file and line, its thread's name or its process's (logging's own switches,
    # its HOWTO's "Optimization"; ~200 of the ~1,750 bytecodes logging ran for a request's line).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(_level(level))
    return handler


def gunicorn_logconfig(level: str | int = "INFO") -> dict:
    """gunicorn's `logconfig_dict`: its error and access logs as JSON lines too (the access
    line only for requests the hub did not log itself: `LOGGED_BY_HUB`)."""
    name = logging.getLevelName(_level(level))
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"level": name, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": name, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        },
    }


def _level(level: str | int) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ConfigError(f"unknown log level {level!r} (HUB_LOG_LEVEL or --log-level): DEBUG, INFO, WARNING or ERROR")
    return value

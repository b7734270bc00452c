"""The driver statements (hub.db.database.DriverStatement, `driver_execute`) on PostgreSQL,
sent through psycopg's libpq connection (`pgconn`) rather than its cursors.

A psycopg cursor costs about 40 µs of CPU a statement around libpq's own work: the cursor,
its query's conversion, its prepared statements' bookkeeping, and in a pipeline a send and a
poll for each statement. Sent here, a statement costs about 8 µs: its SQL numbered once
(`_numbered`), its values dumped, and a pipeline sent with one flush and read with one wait
(BENCHMARKS.md run 22). What stays psycopg's: the connection, the dumpers of the values and
the loaders of the columns (so the rows hold the same Python values as a cursor's), its
errors (`psycopg.errors`, as a cursor raises them), and everything that is not a driver
statement (SQLAlchemy's own statements, commit and rollback).

Every statement goes in a pipeline (libpq's pipeline mode) ended by one Sync
(`LibpqConnection.pipeline`: the caller's block, or one around a single statement). As in
psycopg's pipelines, the statements before a Sync without a BEGIN are one implicit
transaction, and after an error the server skips the rest up to the Sync. A statement sent
a second time on a connection is prepared there, by a name of this module's (`hub_<n>`), as
psycopg prepares a statement on its fifth use; it is kept by its SQL and its values' types,
as psycopg keeps them (an integer's type is the smallest that holds it).
"""

from __future__ import annotations

import re
import select
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer

PREPARED_MAX = 256  # statements prepared on one connection; past these, parsed at each use
_FORMATS = {"s": PyFormat.AUTO, "b": PyFormat.BINARY, "t": PyFormat.TEXT}  # psycopg's placeholders
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?([sbt])|%%")
# The server no longer has a statement prepared here (a DEALLOCATE ALL, or a DISCARD ALL,
# sent by someone else on the connection): the statement fails once, and is prepared anew.
_PREPARED_GONE = errors.InvalidSqlStatementName
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)


@lru_cache(maxsize=1024)
def _numbered(sql: str) -> tuple[bytes, tuple[str | int, ...], tuple[PyFormat, ...]]:
    """psycopg's placeholders (`%(name)s`, `%s`; `b` for binary, `t` for text) numbered as
    the server's (`$1`), a name given more than once by one number: the SQL, each number's
    name (or position), each number's format. `%%` is a `%`."""
    numbers: dict[str | int, int] = {}
    formats: list[PyFormat] = []
    position = 0

    def number(match: re.Match[str]) -> str:
        nonlocal position
        if match.group(0) == "%%":
            return "%"
        key: str | int = match.group(1) if match.group(1) is not None else position
        if match.group(1) is None:
            position += 1
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            formats.append(_FORMATS[match.group(2)])
        return f"${numbers[key]}"

    numbered = _PLACEHOLDER.sub(number, sql)
    return numbered.encode(), tuple(numbers), tuple(formats)


class Pending:
    """One statement's answer, once its pipeline's results are read: its rows (`rows`), or
    the server's error. Before that, `ready` is False."""

    __slots__ = ("_connection", "_result", "_error", "ready")

    def __init__(self, connection: LibpqConnection) -> None:
        self._connection = connection
        self._result: pq.abc.PGresult | None = None
        self._error: psycopg.Error | None = None
        self.ready = False

    def _answered(self, results: list[pq.abc.PGresult]) -> None:
        self.ready = True
        for result in results:
            if result.status in _OK:
                self._result = result
            elif result.status == pq.ExecStatus.PIPELINE_ABORTED:
                self._error = errors.InFailedSqlTransaction("not run: a statement before it in its pipeline failed")
            else:
                self._error = errors.error_from_result(result, encoding=self._connection.encoding)
                return

    @property
    def error(self) -> psycopg.Error | None:
        return self._error

    def rows(self) -> list[tuple[Any, ...]]:
        """The rows as a psycopg cursor gives them (tuples of Python values); the server's
        error, if it refused the statement."""
        if not self.ready:
            raise RuntimeError("a statement sent in a pipelined() block is read after the block")
        if self._error is not None:
            raise self._error
        result = self._result
        if result is None or not result.nfields:
            return []
        return self._connection.loaded(result)


# A pipeline's statements in the order sent: each one's Pending (None for a BEGIN or a
# statement's preparation, which no one reads), and for a preparation its statement's key.
_Queued = list[tuple[Pending | None, tuple[bytes, tuple[int, ...]] | None]]


class LibpqConnection:
    """What this module keeps of one psycopg connection: the statements prepared on it, a
    transformer for its values, and the pipeline being sent, if any."""

    def __init__(self, driver: psycopg.Connection) -> None:
        self._driver = weakref.ref(driver)
        self.pgconn = driver.pgconn
        self.encoding = driver.info.encoding
        self.transformer = Transformer.from_context(driver)
        self.prepared: dict[tuple[bytes, tuple[int, ...]], bytes | int] = {}  # a name, or the uses so far
        self.names = 0  # statements named on this connection
        self.queued: _Queued | None = None  # the pipeline being sent
        self.unanswered: list[_Queued] | None = None  # pipelines sent, their answers not yet read

    def loaded(self, result: pq.abc.PGresult) -> list[tuple[Any, ...]]:
        transformer = self.transformer
        transformer.set_pgresult(result)
        return transformer.load_rows(0, result.ntuples, tuple)

    def send(self, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None) -> Pending:
        """Queues the statement in the open pipeline (`pipeline`); its Pending is answered when
        the pipeline ends."""
        assert self.queued is not None
        numbered, keys, formats = _numbered(sql)
        if keys:
            if parameters is None:
                raise TypeError(f"the statement has parameters and none were given: {sql[:80]}")
            values = [parameters[key] for key in keys]  # type: ignore[index]
            transformer = self.transformer
            dumped = transformer.dump_sequence(values, formats)
            types, wire = tuple(transformer.types or ()), list(transformer.formats or ())
        else:
            dumped, types, wire = [], (), []
        pending = Pending(self)
        key = (numbered, types)
        use = self.prepared.get(key, 0)
        if isinstance(use, bytes):
            self.pgconn.send_query_prepared(use, dumped, param_formats=wire)
        elif use and len(self.prepared) <= PREPARED_MAX:  # its second use: prepared from now on
            self.names += 1
            name = f"hub_{self.names}".encode()
            self.pgconn.send_prepare(name, numbered, param_types=types)
            self.queued.append((None, key))
            self.prepared[key] = name
            self.pgconn.send_query_prepared(name, dumped, param_formats=wire)
        else:
            if len(self.prepared) <= PREPARED_MAX:
                self.prepared[key] = use + 1
            self.pgconn.send_query_params(numbered, dumped, param_types=types, param_formats=wire)
        self.queued.append((pending, None))
        return pending

    @contextmanager
    def pipeline(self) -> Iterator[None]:
        """The block's statements (`send`) queued, sent with one Sync at its end and read: the
        first error among them raised then (psycopg's), after every answer is read. Statements
        sent before it and not yet answered (`send_unanswered`) go first: the block's join
        them, and all are read together, in one round trip, the first error among them all
        raised. A block that raises has its statements' answers read too (the connection stays
        usable), and its own exception goes on. Nested: the outer block's."""
        if self.queued is not None:
            yield
            return
        joined, self.unanswered = self.unanswered or [], None
        self.queued = []
        if not joined:
            self.pgconn.enter_pipeline_mode()
        try:
            if not joined:  # else a transaction the first of them began is this one's
                self._begin_as_psycopg_would()
            yield
        except BaseException:
            try:
                self._finish(joined)
            except psycopg.Error:
                pass  # the connection's trouble: the block's own exception says what went wrong
            raise
        self._finish(joined)

    def send_unanswered(self, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None) -> Pending:
        """The statement sent in a pipeline of its own, its Sync sent too, and its answer left
        unread: the caller goes on while the server runs it. The answers are read, and the first
        error in them raised, with the connection's next pipeline (which joins them), or by
        `read_unanswered`: by a user of the connection that does not come through here
        (hub.db.database.settle) before its own statements. Statements sent so one after another
        wait in turn, each behind its own Sync: the server runs the next as soon as it is done
        with the one before, and their answers are read together. Returns the statement's
        Pending, answered once they are read."""
        first = self.unanswered is None
        if first:
            self.pgconn.enter_pipeline_mode()
        self.queued, synced = [], False
        try:
            if first:  # a transaction the first began is the next one's
                self._begin_as_psycopg_would()
            pending = self.send(sql, parameters)
            self.pgconn.pipeline_sync()
            synced = True
            _flushed(self.pgconn)
        except BaseException:
            waiting, self.unanswered, self.queued = [*(self.unanswered or ()), self.queued], None, None
            try:
                self._read(waiting, synced=synced)
            except psycopg.Error:
                pass  # the connection's trouble: the exception above says what went wrong
            raise
        self.unanswered = [*(self.unanswered or ()), self.queued]
        self.queued = None
        return pending

    def read_unanswered(self) -> None:
        """The answers of the statements `send_unanswered` left unread, if any: read (waiting
        for the server), the connection out of pipeline mode, the server's first error raised."""
        if self.unanswered is None:
            return
        waiting, self.unanswered = self.unanswered, None
        self._read(waiting, synced=True)

    def _begin_as_psycopg_would(self) -> None:
        """A connection not in autocommit begins a transaction before its first statement, as
        psycopg's cursor would (with the isolation level and access mode set on it)."""
        driver = self._driver()
        if driver is None or driver.autocommit or self.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return
        self.pgconn.send_query_params(driver._get_tx_start_command(), None)
        assert self.queued is not None  # in the pipeline it begins
        self.queued.append((None, None))

    def _finish(self, joined: list[_Queued]) -> None:
        """The queued statements' answers read, after those of the pipelines they `joined`, up
        to their pipeline's Sync (sent here), the connection out of pipeline mode; the first
        error raised."""
        queued, self.queued = self.queued or [], None
        self._read([*joined, queued], synced=False)

    def _read(self, pipelines: list[_Queued], synced: bool) -> None:
        """The answers of `pipelines`, sent one after another, each up to its Sync (the last's
        sent here unless `synced`), the connection out of pipeline mode; the first error raised."""
        pgconn = self.pgconn
        first_error: psycopg.Error | None = None
        try:
            if not synced:
                pgconn.pipeline_sync()
                _flushed(pgconn)
            for queued in pipelines:
                error = self._answers(queued)
                if first_error is None:
                    first_error = error
        finally:
            if pgconn.pipeline_status:
                try:
                    pgconn.exit_pipeline_mode()
                except psycopg.Error:
                    pass  # results left unread: a connection lost, which its user finds out
        if first_error is not None:
            if isinstance(first_error, _PREPARED_GONE) or "cached plan must not change" in str(first_error):
                self.prepared.clear()  # prepared anew from their next use (their names are not used again)
            raise first_error

    def _answers(self, queued: _Queued) -> psycopg.Error | None:
        """One pipeline's answers read, up to its Sync, each given to its Pending: the first error."""
        pgconn = self.pgconn
        first_error: psycopg.Error | None = None
        for pending, prepared in queued:
            results = _results_of_one(pgconn)
            if pending is not None:
                pending._answered(results)
                if first_error is None and pending.error is not None:
                    first_error = pending.error
            else:  # a BEGIN or a statement's preparation, which no one reads
                failed = next((r for r in results if r.status not in _OK), None)
                if failed is None:
                    continue
                if prepared is not None:
                    self.prepared.pop(prepared, None)  # not prepared after all: prepared at its next use
                if first_error is None and failed.status != pq.ExecStatus.PIPELINE_ABORTED:
                    first_error = errors.error_from_result(failed, encoding=self.encoding)
        sync = _next_result(pgconn)
        if sync is None or sync.status != pq.ExecStatus.PIPELINE_SYNC:
            raise errors.ProtocolViolation("the server's answers did not end with the pipeline's Sync")
        return first_error


_STATE = "hub.libpq"  # the key of this module's state in the dictionary a connection's user keeps it in


def connection(driver: psycopg.Connection, home: dict[str, Any]) -> LibpqConnection:
    """This module's state of `driver` (psycopg's connection), made on first use and kept in
    `home`: a dictionary that lives as long as the connection and no longer (SQLAlchemy's
    for the pooled connection, `info`). Not on the connection itself: the state's
    transformer refers to it, and a connection in a reference cycle is closed by the
    garbage collector's next full pass rather than when its last user lets go of it."""
    state = home.get(_STATE)
    if state is None or state.pgconn is not driver.pgconn:
        state = home[_STATE] = LibpqConnection(driver)
    return state


def waiting(home: dict[str, Any]) -> LibpqConnection | None:
    """This module's state of a connection (`connection`'s `home`) when statements sent on it
    wait unanswered (`send_unanswered`); else None. Cheap: for a check before every statement."""
    state = home.get(_STATE)
    return state if state is not None and state.unanswered is not None else None


def _flushed(pgconn: pq.abc.PGconn) -> None:
    """Everything queued sent (the connection is non-blocking): while the socket is full,
    what the server answers meanwhile is taken in, so neither side waits for the other."""
    while pgconn.flush():
        readable, _ = _wait(pgconn, write=True)
        if readable:
            pgconn.consume_input()


def _next_result(pgconn: pq.abc.PGconn) -> pq.abc.PGresult | None:
    """The next result, waiting for the server without holding the GIL (a poll)."""
    while pgconn.is_busy():
        _wait(pgconn, write=False)
        pgconn.consume_input()
    return pgconn.get_result()


def _results_of_one(pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """One statement's results, up to the end libpq marks with no result."""
    results = []
    while (result := _next_result(pgconn)) is not None:
        results.append(result)
        if result.status == pq.ExecStatus.PIPELINE_SYNC:  # out of step: a Sync where a statement's end was due
            raise errors.ProtocolViolation("the pipeline's Sync came before a statement's answer")
    return results


def _wait(pgconn: pq.abc.PGconn, *, write: bool) -> tuple[bool, bool]:
    """Until the connection's socket can be read (or written, with `write`): (readable, writable)."""
    poll = select.poll()
    poll.register(pgconn.socket, select.POLLIN | (select.POLLOUT if write else 0))
    events = 0
    while not events:
        for _fd, event in poll.poll():
            events |= event
    if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
        return True, False  # reading finds out what happened to the connection
    return bool(events & select.POLLIN), bool(events & select.POLLOUT)

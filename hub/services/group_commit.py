"""A read's answer record, committed with other answers' records: a group commit.

An operation that changes state commits its answer's record with its work, and a read
commits its request's record with the read (hub.services.endpoint). What is left of a
read is the record of the answer it sent, which once took a transaction of its own on
every VerifyCoupon: on SQLite the write lock again, on PostgreSQL the log's head row
again. Here the endpoint hands it in (`add`) and goes on; every record handed in within
`within_s` of the first is appended in one transaction, by a timer thread.

On PostgreSQL most of them do not wait for the timer: the next request of the process
takes the one handed in first along in its own record's statement (MessageLog.send_claimed),
so that the flush, which holds the log's head while every request's record waits for it, has
little left to append (BENCHMARKS.md, run 32).

So an answer's record is in the log at most `within_s` (ANSWER_RECORDS_WITHIN_S) and
one commit after the answer went out. A process that dies in between (killed, its
machine lost) leaves those requests without an answer record, and `hub audit verify`
lists each of them ("no answer record"), as it lists any request whose answer was never
logged. A process that exits as it should (`hub serve` stopped, a worker recycled, a
`Hub` closed) appends them first: the timer is not a daemon thread, and `flush` runs at
once from `Hub.close()`. A batch the database refuses is lost as a whole, and reported
as an answer record that could not be written always was: an error log line naming each
request, and `hub_message_log_failures_total{direction="OUT"}` once per record.
"""

from __future__ import annotations

import logging
import threading

from hub.audit.messagelog import RESPONSE, Entry, MessageLog
from hub.ops import metrics

# 0.3 s: a batch's fixed cost (its transaction, the log's head, the pages every commit writes)
# shared by three times the records of 0.1 s: VerifyCoupon +4% on SQLite, +5% on PostgreSQL
# (BENCHMARKS.md run 21); 1 s gained nothing more, and each batch held the writers' lock longer.
ANSWER_RECORDS_WITHIN_S = 0.3

log = logging.getLogger("hub.soap")


class GroupCommit:
    def __init__(self, message_log: MessageLog, within_s: float = ANSWER_RECORDS_WITHIN_S) -> None:
        self.message_log = message_log
        self.within_s = within_s
        self._entries: list[Entry] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def add(self, *entries: Entry) -> None:
        """The entries are appended within `within_s`, with whatever else is handed in by then."""
        with self._lock:
            self._entries.extend(entries)
            if self._timer is None:
                self._timer = threading.Timer(self.within_s, self.flush)
                self._timer.name = "hub-answer-records"
                self._timer.daemon = False  # not inherited from a daemon caller: the process waits for it at exit
                self._timer.start()

    def take_one(self) -> Entry | None:
        """The entry handed in first and not yet appended, taken out to be appended elsewhere
        (MessageLog.send_claimed, which gives it back with `add` if that fails); else None."""
        with self._lock:
            return self._entries.pop(0) if self._entries else None

    def flush(self) -> None:
        """Appends what was handed in, now, in one transaction."""
        with self._lock:
            entries, self._entries = self._entries, []
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if not entries:
            return
        try:
            self.message_log.append(*entries)
        except Exception:  # noqa: BLE001 - reported as an answer record that cannot be written
            log.exception(
                "the message log cannot be written; the answers to %d requests went out unlogged: %s",
                len(entries),
                ", ".join(e.log_id for e in entries),
            )
            for _ in entries:
                metrics.message_log_failed(RESPONSE)

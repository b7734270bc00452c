"""A large camt.053 document parsed in a process of its own, beside the import that books it.

The statement import (hub.bank.statements) reads a document once and books its entries as they
come. In one process the parse and the booking take turns on one core: 100,000 entries took
about 3 s to parse and 5 s to book (BENCHMARKS.md, run 33). A thread cannot parse beside the
booking, since both are Python holding the GIL (on SQLite the thread made the import slower,
run 7). So a document past its first `APART_BYTES_MIN` bytes is parsed by a child process
(this module's `main`, in the same Python with the same import path), on another core when the
machine has one:

- the document's bytes go to the child's stdin, written by a thread of the importing process
  as the import's stream gives them, so that the import's hash and progress see them as before
  (the thread waits on the pipe and hashes in C, and holds the GIL little);
- the child runs the same reader (`read_statement`) over the same bytes: the same entries, the
  same refusals naming the same lines;
- the entries come back on its stdout in batches, pickled. The pickles come only from the child
  this module started, of plain values its reader made (the document's text among them as
  strings, never as code).

A refusal in the child comes back as its problem, element and line, and is raised here as the
same StatementError. A child that stops otherwise is a RuntimeError naming its exit code and
the last line it wrote on stderr. When the import stops first (a refusal of its own), the
child is killed and the thread ends at its next write. If no process can be started (no
`sys.executable`, a process limit), the document is parsed in this process, as a small one is,
with a warning.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import suppress
from typing import IO, BinaryIO, cast

from hub.bank.reader import StatementEntry, StatementHeader
from hub.errors import StatementError

log = logging.getLogger(__name__)

APART_BYTES_MIN = 4 * 1024 * 1024  # ~5,000 entries: smaller documents are parsed in the importing process
ITEMS_A_BATCH = 500  # entries (or headers) the child sends at once
WRITE_CHUNK_BYTES = 64 * 1024  # a read of the document, as lxml's parser reads it
# The pipes' capacity (Linux's default limit for a process without privileges, 16 times the
# default 64 KiB): with the default, the child stopped at each full pipe while the import booked
# a chunk, and the import then waited for it (100,000 entries on SQLite, in a first form of this
# module: 7.9-8.6 s against 6.3-6.7 s; BENCHMARKS.md, run 33).
PIPE_BYTES = 1024 * 1024
_FRAME = struct.Struct("<I")  # a pickle's length, before it

_Item = StatementHeader | StatementEntry


def read_large(stream: BinaryIO, read_here: Callable[[BinaryIO], Iterator[_Item]]) -> Generator[_Item, None, None]:
    """The items of the document in `stream` (see module docstring): a document under
    APART_BYTES_MIN parsed in this process by `read_here`, hub.adapters.camt.read_statement
    (handed in: that module imports this one); a larger one by the same function in a child."""
    head = _read_up_to(stream, APART_BYTES_MIN)
    if len(head) < APART_BYTES_MIN:
        yield from read_here(io.BytesIO(head))
        return
    try:
        child = _Child()
    except OSError as error:
        log.warning("camt.053: no process could be started to parse the document (%s); parsing it here", error)
        yield from read_here(_Joined(head, stream).binary)
        return
    yield from _read_from(child, head, stream)


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes of `stream`, fewer only at its end, read a chunk at a time as the
    parser would (the import reports its progress by the read)."""
    parts, left = [], size
    while left > 0 and (part := stream.read(min(left, WRITE_CHUNK_BYTES))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


class _Joined:
    """`head`, then the rest of `stream`, as a file the reader reads."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.at, self.stream = head, 0, stream

    def read(self, size: int = -1) -> bytes:
        if self.at < len(self.head):
            end = len(self.head) if size < 0 else self.at + size
            part, self.at = self.head[self.at : end], min(end, len(self.head))
            return part
        return self.stream.read(size)

    @property
    def binary(self) -> BinaryIO:
        """This file as the reader takes it (lxml reads any object with `read`)."""
        return cast(BinaryIO, self)


# The child imports what the importing process imports: its sys.path (the hub installed or a
# checkout, the same lxml), set before anything else is imported; `-P`: no working folder first.
_CHILD_CODE = "import sys, json; sys.path[:] = json.loads(sys.argv[1]); from {module} import main; main()"


def _child_command() -> list[str]:
    return [sys.executable, "-P", "-c", _CHILD_CODE.format(module=__name__), json.dumps(sys.path)]


class _Child:
    """The parsing process: its pipes, and a file of what it writes on stderr."""

    def __init__(self) -> None:
        if not sys.executable:  # an embedded interpreter
            raise OSError("no Python interpreter to start (sys.executable is empty)")
        self.errors = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                _child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors
            )
        except BaseException:
            self.errors.close()
            raise
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        for pipe in (self.stdin, self.stdout):
            with suppress(OSError):  # a lower limit (/proc/sys/fs/pipe-max-size): the default then
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    def stopped(self) -> str:
        """Why it stopped by itself: its exit code and the last line it wrote on stderr."""
        code = self.process.wait()
        self.errors.seek(0)
        lines = [line.strip() for line in self.errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return f"exit code {code}: {lines[-1] if lines else 'nothing on stderr'}"

    def close(self, *, finished: bool) -> None:
        """Killed unless it `finished`; waited for; its files closed."""
        if not finished:
            self.process.kill()
        self.process.wait()
        self.stdout.close()
        self.errors.close()


def _read_from(child: _Child, head: bytes, stream: BinaryIO) -> Generator[_Item, None, None]:
    """What the child parses, batch by batch, while a thread writes it the document."""
    failed: list[BaseException] = []  # the writing thread's error: the true cause of what follows
    writer = threading.Thread(
        target=_write, args=(child.stdin, head, stream, failed), name="statement-to-parser", daemon=True
    )
    writer.start()
    finished = False
    try:
        while True:
            message = _receive(child.stdout)
            if message is None:  # the child stopped without saying why
                why = child.stopped()
                writer.join()
                if failed:
                    raise failed[0]
                raise RuntimeError(f"the camt.053 parsing process stopped ({why})")
            kind, *rest = message
            if kind == "items":
                yield from rest[0]
                continue
            writer.join()
            if failed:
                raise failed[0]
            if kind == "refused":
                problem, element, line = rest
                raise StatementError(problem, element=element, line=line)
            finished = True
            return
    finally:
        child.close(finished=finished)
        writer.join()


def _write(to: IO[bytes], head: bytes, stream: BinaryIO, failed: list[BaseException]) -> None:
    try:
        to.write(head)
        while chunk := stream.read(WRITE_CHUNK_BYTES):
            to.write(chunk)
    except BrokenPipeError:
        pass  # the child stopped: a refusal, or killed as the import stopped
    except BaseException as error:  # a read of the document failed: raised by the import
        failed.append(error)
    finally:
        with suppress(OSError):
            to.close()


def _receive(source: IO[bytes]) -> tuple | None:
    size = source.read(_FRAME.size)
    if len(size) < _FRAME.size:
        return None
    (length,) = _FRAME.unpack(size)
    body = source.read(length)
    if len(body) < length:
        return None
    message = pickle.loads(body)
    assert isinstance(message, tuple)
    return message


# -- the child ------------------------------------------------------------------


def _send(out: IO[bytes], message: tuple) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_FRAME.pack(len(body)))
    out.write(body)
    out.flush()


def main() -> None:
    """The child: the document on stdin, its items and then ("end",), or ("refused", problem,
    element, line), on stdout. Its lifetime is its parent's: SIGTERM and SIGINT, which reach
    every process of a service stopped by systemd or of a terminal's Ctrl-C, are ignored (a
    worker finishing its requests finishes its import); the parent kills it when it stops
    reading, and it ends at a closed pipe when the parent is gone."""
    from hub.adapters.camt import read_statement

    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, signal.SIG_IGN)

    source, out = sys.stdin.buffer, sys.stdout.buffer
    batch: list[_Item] = []
    try:
        for item in read_statement(source):
            batch.append(item)
            if len(batch) == ITEMS_A_BATCH:
                _send(out, ("items", batch))
                batch = []
    except StatementError as refusal:
        _send(out, ("items", batch))  # what came before the refusal, as in one process
        _send(out, ("refused", refusal.problem, refusal.element, refusal.line))
        return
    _send(out, ("items", batch))
    while source.read(WRITE_CHUNK_BYTES):  # what follows the document: the writer finishes its work
        pass
    _send(out, ("end",))

"""A large camt.053 document parsed in a process of its own (hub.adapters.camt_process): the
same items and the same refusals as parsed in the importing process, a child that stops or
cannot start, a document that cannot be read, and an import that stops first. The documents
here are small; the size past which a document goes to a child is lowered for them."""

from __future__ import annotations

import io
import logging
import signal
import sys
import threading

import pytest

from hub.adapters import camt_process
from hub.adapters.camt import CamtReader, read_statement
from hub.errors import StatementError
from tests.support.camt import Entry, Statement, document

ESCROW = "75116022020000000412345678"
VIRTUAL = "54116022020000005260250274"


def _many(n: int, *, bad_at: int | None = None) -> list[Entry]:
    """`n` entries of every shape the reader tells apart; entry `bad_at` has an amount with a
    digit past the grosz."""
    shapes = [
        lambda i: Entry(f"{i}.00", remittance=f"przelew {i} NIP 5260250274", ref=f"R{i}", end_to_end_id=f"E{i}"),
        lambda i: Entry(f"{i}.50000", creditor_account=VIRTUAL, ref=f"V{i}"),
        lambda i: Entry("30.00", ref=f"B{i}", splits=[("10.00", f"S{i}a"), ("20.00", f"S{i}b")]),
        lambda i: Entry("5.00", direction="DBIT", reversal=True, tx_ref=f"R{i - 3}", ref=f"D{i}"),
        lambda i: Entry("7.00", status="PDNG", structured=f"RF18{i:08d}", ref=f"P{i}"),
    ]
    entries = [shapes[i % len(shapes)](i) for i in range(1, n + 1)]
    if bad_at is not None:
        entries[bad_at - 1] = Entry("1.234", ref="BAD")
    return entries


def _two_statements(**kw) -> bytes:
    return document(
        Statement(ESCROW, _many(700, **kw), statement_id="S-1", sequence="1"),
        Statement(ESCROW, _many(300), statement_id="S-2", sequence="2", opening="0.00", closing="0.00"),
    )


def _read_until_refused(items) -> tuple[list, StatementError]:
    read = []
    with pytest.raises(StatementError) as refused:
        for item in items:
            read.append(item)
    return read, refused.value


def test_a_large_document_is_read_apart_exactly_as_here(parsing_children):
    data = _two_statements()
    apart = list(CamtReader().read(io.BytesIO(data)))
    assert apart == list(read_statement(io.BytesIO(data)))
    assert len(apart) == 2 + 1000  # two headers, every entry
    [child] = parsing_children
    assert child.process.returncode == 0


def test_a_small_document_is_read_here(monkeypatch, parsing_children):
    monkeypatch.setattr(camt_process, "APART_BYTES_MIN", 4 * 1024 * 1024)
    data = _two_statements()
    assert list(CamtReader().read(io.BytesIO(data))) == list(read_statement(io.BytesIO(data)))
    assert parsing_children == []


def test_a_refusal_apart_comes_after_the_same_entries_naming_the_same_line(parsing_children):
    data = _two_statements(bad_at=650)  # past the child's first batch
    apart, refusal = _read_until_refused(CamtReader().read(io.BytesIO(data)))
    here, expected = _read_until_refused(read_statement(io.BytesIO(data)))
    assert apart == here and len(here) == 1 + 649
    assert (str(refusal), refusal.element, refusal.line) == (str(expected), expected.element, expected.line)
    assert "1.234" in str(refusal) and refusal.line > 1
    assert parsing_children[0].process.returncode is not None


def test_a_document_cut_short_is_refused_apart_as_here(parsing_children):
    data = _two_statements()[:5000]
    apart, refusal = _read_until_refused(CamtReader().read(io.BytesIO(data)))
    here, expected = _read_until_refused(read_statement(io.BytesIO(data)))
    assert apart == here
    assert str(refusal) == str(expected) and "not well-formed XML" in str(refusal)


def test_a_child_that_dies_is_an_error_naming_its_exit_code_and_last_words(monkeypatch, parsing_children):
    dies = "import sys; sys.stdin.buffer.read(100); sys.stderr.write('MemoryError\\n'); sys.exit(3)"
    monkeypatch.setattr(camt_process, "_child_command", lambda: [sys.executable, "-c", dies])
    with pytest.raises(RuntimeError, match=r"parsing process stopped \(exit code 3: MemoryError\)"):
        list(CamtReader().read(io.BytesIO(_two_statements())))
    assert not [t for t in threading.enumerate() if t.name == "statement-to-parser"]


def test_without_a_process_the_document_is_read_here_with_a_warning(monkeypatch, parsing_children, caplog):
    monkeypatch.setattr(camt_process, "_child_command", lambda: ["/nonexistent/python3"])
    data = _two_statements()
    with caplog.at_level(logging.WARNING, logger=camt_process.__name__):
        items = list(CamtReader().read(io.BytesIO(data)))
    assert items == list(read_statement(io.BytesIO(data)))
    assert parsing_children == []
    assert "no process could be started to parse the document" in caplog.text


class _FailingStream(io.RawIOBase):
    """A document whose read fails past its first `good` bytes, as a disk or a network share may."""

    def __init__(self, data: bytes, good: int) -> None:
        super().__init__()
        self.data, self.good, self.at = data, good, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.at >= self.good:
            raise OSError("Input/output error")
        part = self.data[self.at : min(self.at + len(buffer), self.good)]
        buffer[: len(part)] = part
        self.at += len(part)
        return len(part)


def test_a_read_that_fails_is_raised_not_the_parse_of_what_was_cut(parsing_children):
    data = _two_statements()
    with pytest.raises(OSError, match="Input/output error"):
        list(CamtReader().read(_FailingStream(data, good=len(data) // 2)))  # type: ignore[arg-type]
    assert parsing_children[0].process.returncode is not None
    assert not [t for t in threading.enumerate() if t.name == "statement-to-parser"]


def test_a_reader_closed_early_stops_its_child_and_writer(parsing_children):
    """The import stops first (a refusal of its own) and closes the reader: the child is killed
    at once, though it has more to send, and the writing thread ends."""
    items = CamtReader().read(io.BytesIO(_two_statements()))
    next(items)
    items.close()
    [child] = parsing_children
    assert child.process.returncode is not None
    assert not [t for t in threading.enumerate() if t.name == "statement-to-parser"]


def test_the_child_imports_what_this_process_imports_whatever_folder_it_runs_in(
    parsing_children, tmp_path, monkeypatch
):
    """Started in a folder holding modules of the names it imports (`json`, `hub`), the child
    imports this process's, from its sys.path."""
    (tmp_path / "json.py").write_text("raise SystemExit('the folder json.py was imported')\n")
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "__init__.py").write_text("raise SystemExit('the folder hub was imported')\n")
    monkeypatch.chdir(tmp_path)
    data = _two_statements()
    assert list(CamtReader().read(io.BytesIO(data))) == list(read_statement(io.BytesIO(data)))
    assert parsing_children[0].process.returncode == 0


def test_a_stop_signal_to_the_child_leaves_the_import_to_finish(parsing_children):
    """systemd stopping the service, or Ctrl-C, signals every process of it: the parent decides
    whether the import goes on (a gunicorn worker finishes its requests), not the child."""
    data = _two_statements()
    items = CamtReader().read(io.BytesIO(data))
    first = next(items)
    [child] = parsing_children
    child.process.send_signal(signal.SIGTERM)
    child.process.send_signal(signal.SIGINT)
    assert [first, *items] == list(read_statement(io.BytesIO(data)))
    assert child.process.returncode == 0

"""BulkInsert: many rows at once (PostgreSQL: one statement, one binary array a column;
SQLite: executemany, then the rows above the largest rowid before). It must store exactly
what SQLAlchemy's insert stores, skip the rows whose unique key is stored already and
return only the rows it made."""

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from hub.db.base import UtcDateTime
from hub.db.database import BulkInsert, Database, answers_later

_META = MetaData()


def _table(name: str) -> Table:
    return Table(
        name,
        _META,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("account", String(34), nullable=False),
        Column("key", String(100), nullable=False),
        Column("amount_grosze", BigInteger, nullable=False),
        Column("reversal", Boolean, nullable=False),
        Column("on", Date, nullable=True),
        Column("at", UtcDateTime(), nullable=True),
        Column("remittance", Text, nullable=True),
        Column("note", String(10), nullable=False, default="-"),
        UniqueConstraint("account", "key"),
    )


_BULK, _PLAIN = _table("bulk_rows"), _table("plain_rows")
_COLUMNS = ("account", "key", "amount_grosze", "reversal", "on", "at", "remittance", "note")
_ADD = BulkInsert(_BULK, _COLUMNS, "account", "key", returning=("key", "id"))
_ADD_WITH_IDS = BulkInsert(_BULK, ("id", *_COLUMNS), "account", "key", returning=("key", "id"))
_ADD_NEW = BulkInsert(_BULK, _COLUMNS, skip_stored=False)
AT = datetime(2026, 12, 4, 9, 30, 1, 123456, tzinfo=UTC)
# what array text would quote or escape, and what no format may change
REMITTANCES = ['przelew {1,2} "NIP" 526-025-02-74', "a\\b", "zażółć gęślą jaźń", "NULL", "", None, "tab\tline\n", "😀"]


def _rows() -> list[dict]:
    return [
        {
            "account": "61109010140000071219812874",
            "key": f"ref:R{i}",
            "amount_grosze": 2**40 + i if i % 3 == 0 else i + 1,
            "reversal": i % 2 == 0,
            "on": date(2026, 3, 1 + i) if i % 4 else None,
            "at": AT if i % 5 else None,
            "remittance": remittance,
            "note": "-",
        }
        for i, remittance in enumerate(REMITTANCES)
    ]


@pytest.fixture
def tables(db: Database) -> Iterator[Database]:
    _META.create_all(db.engine)
    yield db
    _META.drop_all(db.engine)


def _stored(db: Database, table: Table) -> list[tuple]:
    """Each row as the database keeps it (its text, not only what SQLAlchemy reads back)."""
    names = ", ".join(f'"{name}"' for name in ("id", *_COLUMNS))
    with db.engine.connect() as connection:
        typed = [tuple(r) for r in connection.execute(select(table).order_by(table.c.id))]
        raw = [tuple(map(str, r)) for r in connection.exec_driver_sql(f"SELECT {names} FROM {table.name} ORDER BY id")]
    return list(zip(typed, raw, strict=True))


def test_rows_stored_equal_what_sqlalchemy_stores(tables: Database) -> None:
    rows = _rows()
    with tables.engine.begin() as connection:
        made = dict(_ADD.execute(connection, rows))
        connection.execute(insert(_PLAIN), rows)
    assert set(made) == {row["key"] for row in rows}
    assert _stored(tables, _BULK) == _stored(tables, _PLAIN)
    with tables.engine.connect() as connection:
        assert dict(connection.execute(select(_BULK.c.key, _BULK.c.id)).all()) == made


def test_rows_stored_before_are_left_out_and_not_returned(tables: Database) -> None:
    rows = _rows()
    with tables.engine.begin() as connection:
        first = dict(_ADD.execute(connection, rows[:3]))
        again = dict(_ADD.execute(connection, rows))
        assert _ADD.execute(connection, []) == []
    assert set(again) == {row["key"] for row in rows[3:]}
    assert not set(first) & set(again)
    with tables.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM bulk_rows")).scalar_one() == len(rows)


def test_a_thousand_rows_in_one_statement(tables: Database) -> None:
    rows = [{**_rows()[1], "key": f"k{i}", "amount_grosze": i + 1} for i in range(1000)]
    with tables.engine.begin() as connection:
        made = dict(_ADD.execute(connection, rows))
    assert len(made) == len(set(made.values())) == 1000


def test_rows_are_inserted_with_the_ids_reserved_for_them(tables: Database) -> None:
    """Reserved ids are new, ascending, and the database numbers the rows after them past them."""
    rows = _rows()
    with tables.engine.begin() as connection:
        before = dict(_ADD.execute(connection, rows[:2]))
        assert _ADD_WITH_IDS.reserve_ids(connection, 0) == []
        ids = _ADD_WITH_IDS.reserve_ids(connection, 3)
        assert ids == sorted(set(ids)) and len(ids) == 3 and min(ids) > max(before.values())
        given = [{**row, "id": id} for row, id in zip(rows[2:5], ids, strict=True)]
        assert dict(_ADD_WITH_IDS.execute(connection, given)) == {row["key"]: row["id"] for row in given}
        after = dict(_ADD.execute(connection, rows[5:]))
        assert min(after.values()) > max(ids)
        again = _ADD_WITH_IDS.reserve_ids(connection, 2)
        assert min(again) > max(after.values())
    assert _stored(tables, _BULK)[2][0][0] == ids[0]


def test_without_skipping_a_row_stored_before_fails_the_insert(tables: Database) -> None:
    rows = _rows()
    with tables.engine.begin() as connection:
        assert _ADD_NEW.execute(connection, rows[:2]) == []
    with pytest.raises(IntegrityError), tables.engine.begin() as connection:
        _ADD_NEW.execute(connection, rows[1:])
    with tables.engine.connect() as connection:
        assert connection.execute(select(_BULK.c.key).order_by(_BULK.c.id)).scalars().all() == ["ref:R0", "ref:R1"]


def test_a_column_with_a_default_must_be_given() -> None:
    """Its default is SQLAlchemy's execute's to apply: on the driver's cursor it would be NULL."""
    with pytest.raises(ValueError, match="note"):
        BulkInsert(_BULK, _COLUMNS[:-1], "account", "key")


# -- BulkInsert.send: the insert's answer read later (answers_later) -------------------------


def _count(connection) -> int:
    return connection.execute(text("SELECT count(*) FROM bulk_rows")).scalar_one()


def test_rows_sent_are_stored_as_executed_ones_are(tables: Database) -> None:
    rows = _rows()
    with tables.engine.begin() as connection, answers_later(connection):
        _ADD_NEW.send(connection, rows)
        connection.execute(insert(_PLAIN), rows)
    assert _stored(tables, _BULK) == _stored(tables, _PLAIN)


def test_the_next_statement_whoever_runs_it_sees_the_rows_sent(tables: Database) -> None:
    """SQLAlchemy's own execute, a driver statement and a second send each read the answer of
    the insert sent before them first (PostgreSQL), so each sees its rows."""
    rows = _rows()
    with tables.engine.begin() as connection, answers_later(connection):
        _ADD_NEW.send(connection, rows[:2])
        assert _count(connection) == 2  # SQLAlchemy's execute
        _ADD_NEW.send(connection, rows[2:4])
        assert [key for key, _ in _ADD.execute(connection, rows[4:5])] == ["ref:R4"]  # a driver statement
        _ADD_NEW.send(connection, rows[5:6])
        _ADD_NEW.send(connection, rows[6:])
        assert _count(connection) == len(rows)


def test_an_insert_refused_is_an_integrity_error_at_the_next_statement_and_nothing_stays(tables: Database) -> None:
    rows = _rows()
    with tables.engine.begin() as connection:
        _ADD_NEW.execute(connection, rows[:2])
    with pytest.raises(IntegrityError), tables.engine.begin() as connection, answers_later(connection):
        _ADD_NEW.send(connection, rows[1:])  # ref:R1 is stored: the server refuses the whole insert
        connection.execute(text("SELECT 1"))  # PostgreSQL: where its answer is read
        pytest.fail("the refused insert must stop the block")  # pragma: no cover
    with tables.engine.connect() as connection:
        assert _count(connection) == 2


def test_an_insert_refused_as_the_block_ends_is_an_integrity_error_before_the_commit(tables: Database) -> None:
    rows = _rows()
    with tables.engine.begin() as connection:
        _ADD_NEW.execute(connection, rows[:1])
    with pytest.raises(IntegrityError), tables.engine.begin() as connection, answers_later(connection):
        _ADD_NEW.send(connection, rows[2:4])
        _ADD_NEW.send(connection, rows[:2])  # the last thing the block does
    with tables.engine.connect() as connection:
        assert _count(connection) == 1


def test_inserts_sent_one_after_another_wait_in_turn_and_the_first_refusal_is_the_error(tables: Database) -> None:
    """On PostgreSQL a send does not wait for the one before it: each waits behind its own
    Sync, the server runs them in turn, and their answers are read together; a refused one is
    the error then, and those after it take nothing, as they run in the failed transaction."""
    rows = _rows()
    with tables.engine.begin() as connection:
        _ADD_NEW.execute(connection, rows[:1])
    with pytest.raises(IntegrityError), tables.engine.begin() as connection, answers_later(connection):
        _ADD_NEW.send(connection, rows[1:3])
        _ADD_NEW.send(connection, rows[:2])  # ref:R0 is stored
        _ADD_NEW.send(connection, rows[3:])
        connection.execute(text("SELECT 1"))
        pytest.fail("the refused insert must stop the block")  # pragma: no cover
    with tables.engine.begin() as connection, answers_later(connection):
        for row in rows[1:]:
            _ADD_NEW.send(connection, [row])
        assert _count(connection) == len(rows)


def test_a_block_that_raises_leaves_the_connection_able_to_roll_back(tables: Database) -> None:
    rows = _rows()
    with pytest.raises(RuntimeError, match="stop"), tables.engine.begin() as connection, answers_later(connection):
        _ADD_NEW.send(connection, rows)
        raise RuntimeError("stop")
    with tables.engine.connect() as connection:
        assert _count(connection) == 0


def test_send_belongs_in_answers_later_and_to_an_insert_that_returns_nothing(tables: Database) -> None:
    with tables.engine.begin() as connection:
        with pytest.raises(ValueError, match="returns rows"):
            _ADD.send(connection, _rows())
        if connection.dialect.name == "postgresql":
            with pytest.raises(RuntimeError, match="answers_later"):
                _ADD_NEW.send(connection, _rows())
        else:  # SQLite: executed, as `execute` would
            _ADD_NEW.send(connection, _rows())
            assert _count(connection) == len(_rows())


def test_rows_sent_first_in_a_transaction_whose_begin_waits_go_with_its_rollback(tables: Database) -> None:
    """In an exchange a write's BEGIN goes to PostgreSQL with its first statement: rows sent
    before any other statement are inserted inside the transaction, and its rollback takes
    them back."""
    rows = _rows()
    with (
        pytest.raises(RuntimeError, match="undo"),
        tables.exchange(),
        tables.writing() as connection,
        answers_later(connection),
    ):
        _ADD_NEW.send(connection, rows)
        assert _count(connection) == len(rows)
        raise RuntimeError("undo")
    with tables.engine.connect() as connection:
        assert _count(connection) == 0

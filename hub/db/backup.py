"""`hub backup` and `hub restore` of an SQLite database, with SQLite's online backup API.

A plain `cp` of a database in WAL mode copies the main file without the records still
in its `-wal` file (the demo's copy kept none of its message log). The backup API reads
a consistent snapshot through SQLite itself, WAL included, in one step: in WAL mode that
read does not block the hub's writers, which go on serving (a copy made in several steps
would start over whenever the hub writes). The copy is written under a
temporary name, checked (`PRAGMA integrity_check`), fsynced and renamed into place.

A restore copies a checked backup into the configured database the same way, with the
hub stopped. PostgreSQL is backed up with its own tools (docs/deployment.md, section 8).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from hub.db.database import Database
from hub.errors import InvalidRequest


def sqlite_path(db: Database) -> Path:
    url = make_url(db.url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        raise InvalidRequest(
            "`hub backup` and `hub restore` are for an SQLite database file; back PostgreSQL up with pg_basebackup "
            "and WAL archiving (docs/deployment.md, section 8)"
        )
    return Path(url.database)


def backup(db: Database, out: Path) -> int:
    """A consistent copy of the live database in `out` (which must not exist); its size in bytes."""
    source = sqlite_path(db)
    if out.exists():
        raise InvalidRequest(f"{out}: already exists; give a new file name")
    if not out.parent.is_dir():
        raise InvalidRequest(f"{out.parent}: no such folder")
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        _copy(source, tmp)
        _self_contained(tmp)
        _check(tmp, tmp)
        fsync_path(tmp)
        os.replace(tmp, out)
        fsync_path(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return out.stat().st_size


def restore(db: Database, backup_file: Path) -> None:
    """Replace the configured database's content with the backup's (the hub must be stopped)."""
    target = sqlite_path(db)
    if not backup_file.is_file():
        raise InvalidRequest(f"{backup_file}: no such file")
    _check(backup_file, backup_file)
    db.dispose()
    _copy(backup_file, target)


def _copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # every page in one step: one snapshot
        finally:
            dst.close()
    finally:
        src.close()


def _self_contained(path: Path) -> None:
    """The copy of a WAL database is in WAL mode too, and each later open of it would leave
    its -wal and -shm files beside it: a backup is one file, in rollback-journal mode (a
    restore puts it back and the hub's connections turn WAL on again)."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()


def _check(path: Path, shown: Path) -> None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA integrity_check").fetchone()[0]
            has_schema = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'"
            ).fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise InvalidRequest(f"{shown}: not an SQLite database ({error})") from None
    if result != "ok":
        raise InvalidRequest(f"{shown}: the database is damaged ({result})")
    if not has_schema:
        raise InvalidRequest(f"{shown}: not a hub database (no alembic_version table)")


def fsync_path(path: Path) -> None:
    """fsync a file, or a folder (so a rename in it is on disk)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

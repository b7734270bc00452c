"""message log records kept in their row, the payload compressed there with lz4 (issue 18) (2026-12-05)

PostgreSQL only. A signed SOAP message is 3-5 KB, over the 2 KB at which PostgreSQL starts
shrinking a row: it compressed the payload with pglz and, the row still too long, moved the
payload (or, where it would not compress, the record's two hashes) out of line into the
table's TOAST table: more inserts and index entries for every record, two records an
exchange. Every column of the record is now kept in its row (STORAGE MAIN: moved out of line
only when the row would not fit in a page, a PDF's answer), the payload compressed there, with
lz4 where the server was built with it (PostgreSQL 14 and later name it in
`default_toast_compression`'s values), several times faster than pglz. A record costs the
server about half the CPU, and takes about a quarter more space (BENCHMARKS.md, run 16).
Only records written from now on. SQLite stores a row's bytes as they are.
"""

from alembic import op

revision = '0014'
down_revision = '0011'

# The record's columns PostgreSQL could compress or move out of line: all kept in the row.
_VARIABLE = ('payload', 'direction', 'service', 'client_id', 'log_id', 'prev_hash', 'hash')


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('ALTER TABLE message_log ' + ', '.join(f'ALTER COLUMN {c} SET STORAGE MAIN' for c in _VARIABLE))
    if _server_has_lz4():
        op.execute('ALTER TABLE message_log ALTER COLUMN payload SET COMPRESSION lz4')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    if _server_has_lz4():
        op.execute('ALTER TABLE message_log ALTER COLUMN payload SET COMPRESSION default')
    op.execute('ALTER TABLE message_log ' + ', '.join(f'ALTER COLUMN {c} SET STORAGE EXTENDED' for c in _VARIABLE))


def _server_has_lz4() -> bool:
    row = op.get_bind().exec_driver_sql(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    ).first()
    return row is not None and 'lz4' in (row[0] or [])

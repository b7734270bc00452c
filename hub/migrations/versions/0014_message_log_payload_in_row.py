"""message log records kept whole in their row, large payloads compressed with lz4 (issue 18) (2026-12-05)

PostgreSQL only. A signed SOAP message is 3-5 KB, over the 2 KB at which PostgreSQL starts
shrinking a row: it compressed the payload with pglz and, the row still too long, moved the
payload (or, where it would not compress, the record's two hashes) out of line into the
table's TOAST table: more inserts and index entries for every record, two records an
exchange. With the row's threshold at a page (`toast_tuple_target`, 8160 bytes) a record up
to that size is stored as it is: no compression, no TOAST rows; about half the server's CPU
per record, for about a quarter more space per record (BENCHMARKS.md, run 16). A larger one
(a PDF's answer) is still compressed and moved out of line, with lz4 where the server was
built with it (PostgreSQL 14 and later name it in `default_toast_compression`'s values),
which is several times faster than pglz. Only records written from now on. SQLite stores a row's bytes as they are.
"""

from alembic import op

revision = '0014'
down_revision = '0011'


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('ALTER TABLE message_log SET (toast_tuple_target = 8160)')
    if _server_has_lz4():
        op.execute('ALTER TABLE message_log ALTER COLUMN payload SET COMPRESSION lz4')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    if _server_has_lz4():
        op.execute('ALTER TABLE message_log ALTER COLUMN payload SET COMPRESSION default')
    op.execute('ALTER TABLE message_log RESET (toast_tuple_target)')


def _server_has_lz4() -> bool:
    row = op.get_bind().exec_driver_sql(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'"
    ).first()
    return row is not None and 'lz4' in (row[0] or [])

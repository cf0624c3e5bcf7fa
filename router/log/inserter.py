"""One batch of request-log rows into the database, in one transaction, with no duplicate ever.

Inserts skip ids that are already there, so a batch retried after an ambiguous
failure (committed, but the acknowledgement lost) never duplicates a row. Rows
whose id the client chose (x-request-id) are the exception: see CLIENT_ID.
Synchronous by design: it runs where blocking is harmless (the log process,
router/log/child.py, or a worker thread for an in-memory database).
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Connection, Engine, Insert, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, IntegrityError

from router.log.bulk import BulkInsert
from router.log.schema import ID_LENGTH

# A row key (not a column) set on rows whose id the client chose. Inserting those by the batch's skip-if-there
# rule would lose a client's second row with the same x-request-id. Such rows are inserted one by one, and when
# the id is taken (by an earlier row, or by another gateway process's row committed first) the row is stored as
# "<id>~<8 hex>". Gateway-made ids (time-ordered, 80 random bits) take the batch insert.
CLIENT_ID = "_client_id"
FIRST_TRY, TRIED = 1, 2
# The database refused a value or a constraint: the same row would be refused again, so retrying the batch cannot
# help. Anything else (connection lost, database locked or down) is retried whole.
REFUSED = (DataError, IntegrityError)


def insert_ignoring_duplicates(engine: Engine, table: Table) -> Insert:
    if engine.dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=["id"])
    if engine.dialect.name == "sqlite":
        return sqlite_insert(table).on_conflict_do_nothing(index_elements=["id"])
    return table.insert()


class RowInserter:
    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine = engine
        self.bulk = BulkInsert(engine, table, insert_ignoring_duplicates(engine, table))

    def write(self, rows: list[dict[str, Any]]) -> list[str]:
        """All of `rows` in one transaction; raises (and writes none) when the database fails. When the database
        refuses a row (see REFUSED; `fitted` in router/log/bulk.py prevents the causes known), each row is written
        alone, and the ids of the rows refused alone are returned: they are never written, and nothing else waits
        behind them."""
        try:
            self._write(rows)
            return []
        except REFUSED:
            pass
        refused: list[str] = []
        for row in rows:
            try:
                self._write([row])
            except REFUSED:
                refused.append(str(row.get("id")))
        return refused

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with self.engine.begin() as connection:
            generated = [row for row in rows if CLIENT_ID not in row]
            if generated:
                self.bulk.execute(connection, generated)
            for row in rows:
                if CLIENT_ID in row:
                    self._insert_client_row(connection, row)

    def _insert_client_row(self, connection: Connection, row: dict[str, Any]) -> None:
        # A taken id on the row's first try belongs to another row: rename and insert again. On a retry (the batch
        # failed after this row went in, perhaps ambiguously: committed but unacknowledged) it is this row. The
        # row dict keeps both marks, so a retried batch knows.
        first_try = row[CLIENT_ID] == FIRST_TRY
        row[CLIENT_ID] = TRIED
        base = row["id"]
        while not self.bulk.insert_one(connection, row) and first_try:
            row["id"] = f"{base[: ID_LENGTH - 9]}~{os.urandom(4).hex()}"  # kept within the column

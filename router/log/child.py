"""The log process: reads batches of request-log rows from its stdin, writes them, answers on its stdout.

Started by `router.log.sink.ProcessSink`, one per gateway process; it exits when
its stdin ends (the gateway closed it, or died). Everything here may block: the
gateway's event loop is elsewhere. Its own SQLite connection waits for another
writer's lock (busy timeout) and checkpoints the WAL at commit, as SQLite does
by default: with one writer per connection the WAL restarts as it should.
"""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import Float, Numeric, Table

from router.log.inserter import CLIENT_ID, TRIED, RowInserter
from router.log.schema import metadata
from router.log.sink import frame, read_frame
from router.log.store import make_engine

_rows = msgspec.msgpack.Decoder(list[tuple[int, str | None, dict[str, Any]]])
_encoder = msgspec.msgpack.Encoder()


def decimal_columns(table: Table) -> list[str]:
    """msgpack carries Decimal as its text; these columns get a Decimal back (exact money, whatever the driver)."""
    return [
        column.name
        for column in table.columns
        if isinstance(column.type, Numeric) and not isinstance(column.type, Float)
    ]


def decode_batch(payload: bytes, decimals: list[str]) -> list[dict[str, Any]]:
    rows = []
    for mark, row_id, row in _rows.decode(payload):
        for name in decimals:
            value = row.get(name)
            if isinstance(value, str):
                row[name] = Decimal(value)
        if mark:
            row[CLIENT_ID] = mark
        if row_id is not None:
            row["id"] = row_id
        rows.append(row)
    return rows


def main() -> None:
    stdin = sys.stdin.buffer
    # The replies get a private copy of stdout; anything else printed in this process goes to stderr instead of
    # into the frames.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    url, table_name = read_frame(stdin), read_frame(stdin)
    if url is None or table_name is None:
        return
    table = metadata.tables[table_name.decode()]
    engine = make_engine(url.decode(), one_connection=True)
    inserter = RowInserter(engine, table)
    decimals = decimal_columns(table)
    try:
        while (payload := read_frame(stdin)) is not None:
            rows = decode_batch(payload, decimals)
            try:
                refused = inserter.write(rows)
                reply: list[Any] = [None, refused] if refused else []
            except Exception as exc:
                tried = {at: row["id"] for at, row in enumerate(rows) if row.get(CLIENT_ID) == TRIED}
                reply = [type(exc).__name__, tried]
            replies.write(frame(_encoder.encode(reply)))
            replies.flush()
    finally:
        engine.dispose()

"""Database engine, migrations and the schema-currency check."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

import migrations

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(migrations.__file__).parent


class SchemaBehind(Exception):
    pass


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here (the driver we install)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


_json = msgspec.json.Encoder()


def json_text(value: Any) -> str:
    """JSON columns' text: msgspec's encoder, ~9x faster than json.dumps for a request row's `attempts` (the log
    writer runs it on every row); values read back the same."""
    return _json.encode(value).decode()


def make_engine(url: str, *, one_connection: bool = False) -> Engine:
    """`one_connection`: for a sole user that takes one connection at a time (the log process): a pool of one,
    no ping before each use (a round trip per batch; a dropped connection fails its batch, which is retried)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 5},
            json_serializer=json_text,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL lets readers (report, console) run while the writer appends. The mode is the file's and stays;
            # setting it takes the write lock, so only a file not yet in WAL mode is asked.
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(
        url,
        json_serializer=json_text,
        pool_pre_ping=not one_connection,
        pool_size=1 if one_connection else 5,
        max_overflow=0 if one_connection else 5,
        pool_timeout=5,
        # Keepalives bound how long a write can hang on a server that stopped answering (~11 s): the
        # writer then sees an error, keeps the batch and retries, instead of waiting forever.
        connect_args={
            "connect_timeout": 3,
            "options": "-c statement_timeout=10000",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
        },
    )


# alembic is imported where it is used: the log process (router/log/child.py) needs only make_engine, and alembic
# cost it ~0.1 s of start-up and memory for nothing.


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def check_schema(engine: Engine) -> None:
    """Raise SchemaBehind when the database is not at the newest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False)))
    heads = set(script.get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current != heads:
        shown = ", ".join(sorted(current)) or "empty"
        raise SchemaBehind(
            f"the database schema is not current (at {shown}, newest {', '.join(sorted(heads))}); "
            "run `tiergate db upgrade` first"
        )

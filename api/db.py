"""The API's own SQL tables (``api_keys``, ``api_jobs``) in the project database (``settings.sql_url``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class ApiBase(DeclarativeBase):
    pass


def make_engine(url: str) -> Engine:
    """An engine safe to share between threads (SQLite: WAL, a 30 s busy timeout)."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def ensure_tables(engine: Engine) -> None:
    ApiBase.metadata.create_all(engine)

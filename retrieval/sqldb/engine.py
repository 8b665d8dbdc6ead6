"""One way to open the project database: a SQLAlchemy engine for ``settings.sql_url``.

The catalogue, the user store and the API's tables all open it here, so every engine on a SQLite
file has the same pragmas (foreign keys on, WAL so readers and a writer work together, a 30 s busy
timeout) and every engine on a server (PostgreSQL) checks its pooled connections before use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from retrieval.errors import ConfigError, MissingDependencyError

SQLITE_BUSY_TIMEOUT_S = 30


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (API) and a writer (ingest) together
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    # deleted rows are overwritten with zeros at once: forgetting a user needs no VACUUM
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and for in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _bad_url(url: str, problem: str) -> ConfigError:
    return ConfigError(
        problem,
        expected="a SQLAlchemy URL such as sqlite:///path/vidrec.db or postgresql+psycopg://...",
        got=repr(url),
        hint="Fix sql.url (VIDREC_SQL__URL) or unset it for the default SQLite file",
    )


def make_engine(url: str) -> Engine:
    """An engine for ``url`` that is safe to share between threads."""
    try:
        parsed = make_url(url)
        db_file = sqlite_path(url)
        if db_file is not None:
            db_file.parent.mkdir(parents=True, exist_ok=True)
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(
                parsed,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            )
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise _bad_url(url, f"No SQLAlchemy dialect for this SQL URL ({exc})") from exc
    except ArgumentError as exc:
        raise _bad_url(url, f"Cannot parse the SQL URL ({exc})") from exc
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(
            f"The driver for this SQL URL is not installed ({exc.name})",
            expected="the database driver importable",
            got=repr(url),
            hint="For PostgreSQL: pip install 'psycopg[binary]' and use postgresql+psycopg://",
        ) from exc

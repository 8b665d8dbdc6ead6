"""Schema migrations (Alembic) for the project database, one history per owner of tables.

Three parts of vidrec own tables in the one database: the catalogue (``retrieval``), the user store
(``agent``) and the API (``api``). Each keeps its own forward-only Alembic history in its own
``migrations`` package and its own version table (``vidrec_version_<name>``), so no layer needs to
know another's tables and each store brings its own tables up to date the first time it opens a
database. ``vidrec db upgrade`` runs all of them; ``vidrec db check`` compares each migrated schema
with its models.

Several processes may open a fresh database at once (``vidrec serve --workers N``): the upgrade runs
under a lock (:func:`retrieval.sqldb.locks.database_lock`: PostgreSQL advisory, SQLite ``flock`` on
a file beside the database), and a process that finds the schema already at head takes no lock.

A database made by ``create_all`` before migrations existed has the tables but no version table;
its baseline migration adopts them (:func:`retrieval.sqldb.ops.create_table` adds only what is
missing), so its rows are kept and it is stamped at the baseline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection, Engine

from retrieval.sqldb.engine import sqlite_path
from retrieval.sqldb.locks import database_lock

log = logging.getLogger(__name__)

SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"


@dataclass(frozen=True)
class Schema:
    """The tables one part of vidrec owns: their models and their migration history."""

    name: str
    metadata: MetaData
    migrations: Path

    @property
    def version_table(self) -> str:
        return f"vidrec_version_{self.name}"

    def owns(self, table_name: str) -> bool:
        return table_name in self.metadata.tables


def _config(schema: Schema, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("version_locations", str(schema.migrations))
    config.set_main_option("path_separator", "os")
    config.attributes["schema"] = schema
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=16)
def _head(schema: Schema) -> str | None:
    return ScriptDirectory.from_config(_config(schema)).get_current_head()


def head_revision(schema: Schema) -> str | None:
    """The newest migration of ``schema`` (None when it has none)."""
    return _head(schema)


def context_options(schema: Schema) -> dict[str, Any]:
    """How Alembic sees ``schema``: its version table and only its own tables."""

    def include_name(name: str | None, type_: str, _parents: Any) -> bool:
        return type_ != "table" or (name is not None and schema.owns(name))

    return {
        "version_table": schema.version_table,
        "target_metadata": schema.metadata,
        "include_name": include_name,
        "compare_type": True,
    }


def current_revision(connection: Connection, schema: Schema) -> str | None:
    """The revision the database is at for ``schema`` (None before its first migration)."""
    context = MigrationContext.configure(connection, opts={"version_table": schema.version_table})
    return context.get_current_revision()


def upgrade(engine: Engine, schema: Schema, revision: str = "head") -> str | None:
    """Bring ``schema``'s tables to ``revision`` (newest by default); returns the revision now.

    Cheap when there is nothing to do (one read of the version table, no lock).
    """
    target = head_revision(schema) if revision == "head" else revision
    with engine.connect() as conn:
        if current_revision(conn, schema) == target:
            return target
    db_file = sqlite_path(str(engine.url))
    lock_file = db_file.with_name(db_file.name + ".migrate-lock") if db_file is not None else None
    with database_lock(engine, f"migrate-{schema.name}", lock_file), engine.begin() as conn:
        before = current_revision(conn, schema)
        if before != target:
            log.info("migrating %s tables: %s -> %s", schema.name, before, target)
            command.upgrade(_config(schema, conn), revision)
        return current_revision(conn, schema)


def schema_differences(engine: Engine, schema: Schema) -> list[Any]:
    """What the database's ``schema`` tables lack or have beyond the models ([] when equal)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=context_options(schema))
        return list(compare_metadata(context, schema.metadata))

"""Migration operations that also adopt databases created before migrations existed.

Until Alembic arrived, each store made its tables with ``create_all`` at startup. Such a database has
some or all tables of a baseline migration but no version table. A baseline migration written with
:func:`create_table` creates a missing table as ``op.create_table`` would, and on a table that is
already there adds only the columns and indexes it lacks, keeping every row. A missing column that
is NOT NULL without a server default cannot be added to a table with rows: that stops the migration
with a message instead of guessing a value.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from retrieval.errors import ConfigError

log = logging.getLogger(__name__)


def create_table(
    name: str,
    *elements: sa.schema.SchemaItem,
    indexes: Sequence[tuple[str, Sequence[str]]] = (),
) -> None:
    """``op.create_table(name, *elements)`` plus its non-unique ``indexes`` ((name, columns)),
    or, when the table exists already, only the columns and indexes it lacks."""
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(name):
        op.create_table(name, *elements)
        for index_name, columns in indexes:
            op.create_index(index_name, name, list(columns))
        return
    present = {c["name"] for c in inspector.get_columns(name)}
    for column in elements:
        if not isinstance(column, sa.Column) or column.name in present:
            continue
        if not column.nullable and column.server_default is None:
            raise ConfigError(
                f"Cannot adopt the existing table {name!r}: it lacks column {column.name!r}",
                expected="a table made by an earlier vidrec, or a nullable column",
                got=f"{name} without {column.name}",
                hint="Back up the database, then add the column by hand or start a new database",
            )
        log.info("adopting %s: adding column %s", name, column.name)
        op.add_column(name, column)
    have = {ix["name"] for ix in inspector.get_indexes(name)}
    for index_name, columns in indexes:
        if index_name not in have:
            log.info("adopting %s: adding index %s", name, index_name)
            op.create_index(index_name, name, list(columns))

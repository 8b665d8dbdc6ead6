"""Alembic's entry script for vidrec's migrations (run by :mod:`retrieval.sqldb.migrate`).

Only the online mode is supported: the caller hands over an open connection (already inside the
transaction that holds the migration lock) and the ``Schema`` being migrated.
"""

from __future__ import annotations

from alembic import context

from retrieval.sqldb.migrate import context_options

config = context.config
connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("vidrec migrations run online only: use `vidrec db upgrade`")

context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
    **context_options(config.attributes["schema"]),
)
with context.begin_transaction():
    context.run_migrations()

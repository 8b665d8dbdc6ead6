"""Forward-only Alembic migrations of the user tables (see retrieval.sqldb.migrate)."""

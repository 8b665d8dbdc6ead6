"""Forward-only Alembic migrations of the API tables (see retrieval.sqldb.migrate)."""

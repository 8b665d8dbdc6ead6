"""Forward-only Alembic migrations of the catalogue tables (see retrieval.sqldb.migrate)."""

"""The project database: engines (:mod:`.engine`) and schema migrations (:mod:`.migrate`)."""

from retrieval.sqldb.engine import make_engine, sqlite_path
from retrieval.sqldb.migrate import Schema, head_revision, schema_differences, upgrade

__all__ = ["Schema", "head_revision", "make_engine", "schema_differences", "sqlite_path", "upgrade"]

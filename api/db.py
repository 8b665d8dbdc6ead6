"""The API's own SQL tables (``api_keys``, ``api_jobs``) in the project database (``settings.sql_url``).

Their schema is the Alembic history in ``api/migrations`` (``SCHEMA``); :func:`ensure_tables` brings
a database to its newest migration (cheap when it is there already).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from retrieval.sqldb import Schema, make_engine, upgrade

__all__ = ["SCHEMA", "ApiBase", "ensure_tables", "make_engine"]


class ApiBase(DeclarativeBase):
    pass


SCHEMA = Schema("api", ApiBase.metadata, Path(__file__).resolve().parent / "migrations")


def ensure_tables(engine: Engine) -> None:
    upgrade(engine, SCHEMA)


def project_schemas() -> tuple[Schema, ...]:
    """Every part of vidrec that owns tables, in the order ``vidrec db upgrade`` migrates them."""
    import api.auth
    import api.jobs  # noqa: F401  (their models join ApiBase.metadata)
    from agent.user_tables import SCHEMA as USERS
    from retrieval.catalogue import SCHEMA as CATALOGUE

    return (CATALOGUE, USERS, SCHEMA)

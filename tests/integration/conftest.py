"""Fixtures of the integration tier: real servers started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import services


@pytest.fixture(scope="session")
def postgres() -> Iterator[services.Postgres]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 for the whole session."""
    with services.postgres() as server:
        yield server


@pytest.fixture
def pg_url(postgres: services.Postgres) -> str:
    """An empty PostgreSQL database of its own for one test."""
    return postgres.new_database()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1 for the whole session."""
    with services.redis_server() as url:
        yield url

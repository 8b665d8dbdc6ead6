"""The SQL stores' and migrations' unit tests again, on a real PostgreSQL server.

The modules below take their database from the ``sql_url`` fixture; here it is an empty database of
its own on the session's throwaway cluster (``tests/integration/conftest.py``) for each test.
"""

from __future__ import annotations

import pytest

from tests.unit.test_catalogue import *  # noqa: F403
from tests.unit.test_db_locks import *  # noqa: F403
from tests.unit.test_job_queue import *  # noqa: F403
from tests.unit.test_lexical_reload import *  # noqa: F403
from tests.unit.test_migrations import *  # noqa: F403
from tests.unit.test_users import *  # noqa: F403

pytestmark = pytest.mark.integration


@pytest.fixture
def sql_url(pg_url: str) -> str:
    return pg_url

"""The rate limit shared by several API workers through a real redis-server.

Two apps built from the same settings stand in for two worker processes: each has its own
``RateLimiter`` (as a separate process would), and only the storage joins them.
"""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.errors import RateLimitExceededError
from api.limits import RateLimiter
from tests.api_support import api_settings, indexed_recommender, make_keys, wait_ready

pytestmark = pytest.mark.integration


def test_two_limiters_on_one_redis_share_one_budget(redis_url: str) -> None:
    first, second = RateLimiter(4, redis_url), RateLimiter(4, redis_url)
    key = uuid.uuid4().hex
    for limiter in (first, second, first, second):
        limiter.check(key)
    for limiter in (first, second):
        with pytest.raises(RateLimitExceededError) as refused:
            limiter.check(key)
        assert 1 <= refused.value.retry_after <= 60
    second.check(uuid.uuid4().hex)  # another key has its own budget


@pytest.mark.parametrize(("storage", "allowed"), [("redis", 3), ("memory://", 6)])
def test_workers_count_one_key_together_only_with_redis(
    storage: str, allowed: int, redis_url: str, tmp_path: Path, models_cache: Path
) -> None:
    uri = redis_url if storage == "redis" else storage
    settings = api_settings(tmp_path, models_cache, rate_limit_per_minute=3, rate_limit_storage=uri)
    rec = indexed_recommender(settings, tmp_path)
    keys = make_keys(settings)
    header = {"Authorization": f"Bearer {keys.alice}"}
    try:
        with contextlib.ExitStack() as stack:
            workers = [stack.enter_context(TestClient(create_app(settings, rec))) for _ in range(2)]
            for client in workers:
                wait_ready(client)
            codes = [
                workers[i % 2].post("/v1/search", json={"query": "ocean"}, headers=header)
                for i in range(8)
            ]
        assert [r.status_code for r in codes] == [200] * allowed + [429] * (8 - allowed)
    finally:
        rec.close()

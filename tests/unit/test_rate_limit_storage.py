"""Where rate limit counts live (``api.rate_limit_storage``): memory, Redis, or a clear error."""

from __future__ import annotations

import pytest

from api.errors import RateLimitExceededError
from api.limits import RateLimiter
from retrieval.errors import BackendUnavailableError, ConfigError
from tests.services import free_port


def test_memory_storage_counts_per_limiter() -> None:
    """Two in-memory limiters (two processes) each allow the whole budget: why Redis exists."""
    first, second = RateLimiter(2), RateLimiter(2)
    for limiter in (first, first, second, second):
        limiter.check("k")
    with pytest.raises(RateLimitExceededError):
        first.check("k")


def test_unknown_storage_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="rate limit storage") as caught:
        RateLimiter(5, "bogus://nowhere")
    assert "VIDREC_API__RATE_LIMIT_STORAGE" in str(caught.value)


def test_unreachable_redis_refuses_with_503_instead_of_not_counting() -> None:
    limiter = RateLimiter(5, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    with pytest.raises(BackendUnavailableError, match="cannot be reached") as caught:
        limiter.check("k")
    assert caught.value.http_status == 503


def test_disabled_limit_never_touches_the_storage() -> None:
    RateLimiter(0, f"redis://127.0.0.1:{free_port()}/0").check("k")

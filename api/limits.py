"""Request limits: body sizes, a per-key rate limit, and how many facade calls run at once.

Body sizes are enforced by FastAPI's own ``max_body_size`` (Starlette's body-limit middleware): a
``Content-Length`` over the limit is refused before any byte is read, and a chunked body is counted
while it streams and cut off at the limit. JSON routes get ``api.max_body_kb``; the upload routes
(``POST /v1/recommend`` voice queries, ``/v1/transcribe``, ``/v1/videos``) get ``api.max_upload_mb``.

The rate limit uses the ``limits`` package (the engine behind slowapi and Flask-Limiter): a moving
window of ``api.rate_limit_per_minute`` requests per key. Where the counts live is
``api.rate_limit_storage``, a ``limits`` storage URI: ``memory://`` (the default) counts in this
process only, so N API workers would each allow the full budget; ``redis://host:6379/0`` keeps one
count per key for every worker. When that storage cannot be reached, a limited request is refused
with 503 rather than let through uncounted.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from limits import RateLimitItemPerMinute
from limits.errors import ConfigurationError, StorageError
from limits.storage import StorageTypes, storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.settings import APISettings
from api.auth import LOCAL_ADMIN, Principal
from api.errors import (
    OPENAI_PATHS,
    RateLimitExceededError,
    describe_bytes,
    openai_envelope,
    payload_too_large,
)
from retrieval.errors import AuthenticationError, BackendUnavailableError, ConfigError

log = logging.getLogger(__name__)

UPLOAD_PATHS = frozenset({"/v1/recommend", "/v1/transcribe", "/v1/videos"})


@dataclass(frozen=True)
class BodyLimits:
    max_body_bytes: int
    max_upload_bytes: int
    upload_paths: frozenset[str] = field(default=UPLOAD_PATHS)

    @classmethod
    def from_settings(cls, api: APISettings) -> BodyLimits:
        return cls(
            max_body_bytes=max(0, int(api.max_body_kb * 1024)),
            max_upload_bytes=max(0, int(api.max_upload_mb * 1024 * 1024)),
        )

    @staticmethod
    def describe(n: int) -> str:
        return describe_bytes(n)


def _storage(uri: str) -> StorageTypes:
    try:
        return storage_from_string(uri, wrap_exceptions=True)
    except ConfigurationError as exc:
        raise ConfigError(
            f"Unusable rate limit storage ({exc})",
            expected="memory:// or redis://host:6379/0",
            got=repr(uri),
            hint="Fix api.rate_limit_storage (VIDREC_API__RATE_LIMIT_STORAGE)",
        ) from exc


class RateLimiter:
    """``per_minute`` requests per identity in any 60 s window; 0 or less disables it.

    ``storage`` is a ``limits`` storage URI: ``memory://`` (this process) or ``redis://...``
    (shared by every process pointed at it). ``what`` and ``setting`` name the budget in the 429
    answer (several limiters exist: per key, per key for the expensive routes, per client
    address for failed key checks).
    """

    def __init__(
        self,
        per_minute: int,
        storage: str = "memory://",
        *,
        what: str = "requests for this API key",
        setting: str = "VIDREC_API__RATE_LIMIT_PER_MINUTE",
    ) -> None:
        self.per_minute = per_minute
        self.storage = storage
        self.what = what
        self.setting = setting
        # one namespace per budget: limiters sharing a Redis never count into each other
        self._item = RateLimitItemPerMinute(max(1, per_minute), namespace=setting)
        self._limiter = MovingWindowRateLimiter(_storage(storage))

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def check(self, identity: str) -> None:
        """Count one request for ``identity``; raise ``RateLimitExceededError`` when over budget."""
        if not self.enabled:
            return
        try:
            if self._limiter.hit(self._item, identity):
                return
            stats = self._limiter.get_window_stats(self._item, identity)
        except StorageError as exc:
            log.error("rate limit storage %s failed: %s", self.storage, exc.storage_error)
            raise BackendUnavailableError(
                "The rate limit storage cannot be reached",
                expected=f"a reachable {self.storage.split('://')[0]} storage",
                got=f"{type(exc.storage_error).__name__}: {exc.storage_error}",
                hint="Retry shortly; operators: check api.rate_limit_storage",
            ) from exc
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        log.info("rate limit hit for %s (retry in %d s)", identity, retry_after)
        raise RateLimitExceededError(
            f"Too many {self.what}",
            expected=f"at most {self.per_minute} per minute",
            got="more",
            hint=f"Retry after {retry_after} s, or raise {self.setting}",
            retry_after=retry_after,
        )


def expensive_limiter(api: APISettings) -> RateLimiter:
    """Per key, for the routes that run a model (a recommendation turn, chat, a transcription)."""
    return RateLimiter(
        api.expensive_rate_limit_per_minute,
        api.rate_limit_storage,
        what="model-running requests (recommend, chat, transcribe) for this API key",
        setting="VIDREC_API__EXPENSIVE_RATE_LIMIT_PER_MINUTE",
    )


def bad_key_limiter(api: APISettings) -> RateLimiter:
    """Per client address, for failed key checks."""
    return RateLimiter(
        api.bad_key_limit_per_minute,
        api.rate_limit_storage,
        what="failed API key checks from this address",
        setting="VIDREC_API__BAD_KEY_LIMIT_PER_MINUTE",
    )


def admit(
    verify: Callable[[str | None], Principal] | None,
    key: str | None,
    client: str,
    *,
    per_key: RateLimiter,
    bad_keys: RateLimiter,
) -> Principal:
    """Key -> principal (``verify=None``: keys are off, everyone is the local admin), then one hit
    on that key's rate limit (429).

    A failed check is a 401 and counts toward the client address's budget of failed checks; past
    it the answer is a 429, so keys cannot be guessed at the speed of the server.
    """
    if verify is None:
        principal = LOCAL_ADMIN
    else:
        try:
            principal = verify(key)
        except AuthenticationError:
            bad_keys.check(f"client:{client}")
            raise
    per_key.check(principal.key_id)
    return principal


class ContentLengthGuard:
    """Refuses a declared ``Content-Length`` over the route's limit before reading any of it.

    FastAPI's per-route ``max_body_size`` still counts the bytes of bodies without a length
    (chunked) while they stream; this guard only gives the early refusal the same JSON body as
    every other error.
    """

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = Headers(scope=scope).get("content-length", "")
            if length.isdigit():
                path = str(scope.get("path", "")).rstrip("/")
                upload = path in self.limits.upload_paths
                limit = self.limits.max_upload_bytes if upload else self.limits.max_body_bytes
                if int(length) > limit:
                    body = payload_too_large(limit, int(length), upload=upload).to_dict()
                    if path.startswith(OPENAI_PATHS):
                        body = openai_envelope(dict(body))
                    response = JSONResponse(body, status_code=413, headers={"Connection": "close"})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

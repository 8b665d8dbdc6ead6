"""What every route shares: the facade, key store, limits, jobs and readiness (``app.state.ctx``).

Routes are ``async``; every facade call runs on a worker thread through ``ApiContext.call`` under a
capacity limiter (``api.max_concurrency``), so a slow model never blocks the event loop and at most
that many turns compete for the CPU at once (the rest wait their turn in order).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

from agent.recommender import Recommender
from agent.settings import Settings
from api.auth import KeyStore, Principal, extract_key
from api.jobs import JobManager
from api.limits import BodyLimits, RateLimiter, admit
from retrieval.errors import BackendUnavailableError, NotReadyError, VidrecError

log = logging.getLogger(__name__)

T = TypeVar("T")
IN_PROCESS_LLMS = frozenset({"llamacpp", "transformers"})

CURRENT_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "vidrec_principal", default=None
)
"""Set by the key check around the MCP HTTP app, read by the MCP tools."""


class Readiness:
    """Warms the facade up once on a background thread; routes answer 503 until it is done."""

    def __init__(self) -> None:
        self.state: Literal["starting", "ready", "failed"] = "starting"
        self.detail = "loading models and opening the index"
        self.error: VidrecError | None = None
        self._started = time.monotonic()
        self._elapsed: float | None = None
        self._thread: threading.Thread | None = None

    @property
    def seconds(self) -> float:
        return self._elapsed if self._elapsed is not None else time.monotonic() - self._started

    def start(self, recommender: Recommender) -> None:
        if self._thread is not None:
            return
        self._started = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, args=(recommender,), name="vidrec-warmup", daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state != "starting"

    def _run(self, recommender: Recommender) -> None:
        try:
            warm_up(recommender)
        except VidrecError as exc:
            self.error = exc
            self.state, self.detail = "failed", str(exc)
            log.error("warm-up failed: %s", exc)
        except Exception as exc:
            self.error = BackendUnavailableError(
                "vidrec could not load its models",
                got=f"{type(exc).__name__}: {exc}",
                hint="See the server log, fix the settings (`vidrec config`) and restart",
            )
            self.state, self.detail = "failed", str(self.error)
            log.exception("warm-up failed")
        else:
            self.state, self.detail = "ready", "models loaded, index open"
            log.info("ready after %.1f s", self.seconds)
        finally:
            self._elapsed = time.monotonic() - self._started

    def require(self) -> None:
        """Raise 503 unless warm-up finished."""
        if self.state == "ready":
            return
        if self.state == "starting":
            raise NotReadyError(
                "vidrec is still loading its models",
                expected="a ready server",
                got=f"warming up for {self.seconds:.0f} s",
                hint="Retry in a few seconds; GET /readyz answers 200 once ready",
            )
        raise BackendUnavailableError(
            "vidrec could not start its models",
            got=self.detail,
            hint="Fix the settings (`vidrec config`) and restart the server",
        )


def warm_up(recommender: Recommender) -> None:
    """Load what the first request would otherwise wait for (the facade's ``warmup()``)."""
    seconds = recommender.warmup()
    log.info("warmed up: %s", ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()))


@dataclass
class ApiContext:
    settings: Settings
    recommender: Recommender
    keys: KeyStore
    jobs: JobManager
    rate_limiter: RateLimiter
    limits: BodyLimits
    expensive_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    bad_key_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    readiness: Readiness = field(default_factory=Readiness)
    owns_recommender: bool = False
    _capacity: anyio.CapacityLimiter | None = None

    @property
    def concurrency(self) -> int:
        """``api.max_concurrency``, or by default 1 for an in-process LLM and 8 otherwise.

        An in-process model answers one call at a time, so concurrent turns only interleave
        their LLM calls and all finish late; one at a time keeps first-come, first-served.
        """
        configured = self.settings.api.max_concurrency
        if configured is not None:
            return max(1, configured)
        return 1 if self.settings.llm.backend in IN_PROCESS_LLMS else 8

    @property
    def capacity(self) -> anyio.CapacityLimiter:
        if self._capacity is None:
            self._capacity = anyio.CapacityLimiter(self.concurrency)
        return self._capacity

    def authenticate(self, key: str | None, client: str = "") -> Principal:
        """Key -> principal, rate limited per key and, for failed checks, per client (``admit``)."""
        return admit(
            self.keys.verify if self.settings.api.require_keys else None,
            key,
            client,
            per_key=self.rate_limiter,
            bad_keys=self.bad_key_limiter,
        )

    def charge_expensive(self, principal: Principal) -> None:
        """One hit on the key's budget for routes that run a model (429 when spent)."""
        self.expensive_limiter.check(principal.key_id)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking facade call on a worker thread, after warm-up, within capacity."""
        self.readiness.require()
        return await anyio.to_thread.run_sync(fn, *args, limiter=self.capacity)


def get_ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def principal_dep(request: Request) -> Principal:
    """FastAPI dependency: the caller's key, checked (401) and rate limited (429)."""
    ctx = get_ctx(request)
    client = request.client.host if request.client else ""
    principal = await anyio.to_thread.run_sync(
        ctx.authenticate, extract_key(request.headers), client
    )
    request.state.principal = principal
    return principal


async def expensive_dep(request: Request) -> Principal:
    """``principal_dep`` plus one hit on the key's lower budget for model-running routes."""
    principal = await principal_dep(request)
    get_ctx(request).charge_expensive(principal)
    return principal

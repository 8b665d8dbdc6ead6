"""The FastAPI app: ``create_app(settings, recommender=None)``; ``vidrec serve`` runs it on uvicorn.

Routes are versioned under ``/v1``; OpenAPI at ``/openapi.json``, docs at ``/docs``. On start-up
the facade warms up on a background thread (``/readyz`` is 503 until then, and so is every route
that needs a model); the process answers ``/healthz`` at once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from agent.recommender import Recommender
from agent.settings import Settings
from api import (
    routes_health,
    routes_library,
    routes_openai,
    routes_recommend,
    routes_tools,
    routes_users,
)
from api.auth import KeyStore
from api.context import ApiContext
from api.errors import install_error_handlers
from api.jobs import JobManager
from api.limits import (
    BodyLimits,
    ContentLengthGuard,
    RateLimiter,
    bad_key_limiter,
    expensive_limiter,
)
from api.mcp_server import build_mcp_server, http_app
from api.routes_health import VERSION
from retrieval.guard import IngestGuard
from retrieval.paths import resolve_roots
from retrieval.types import IngestProgress, IngestReport

log = logging.getLogger(__name__)

DESCRIPTION = """
Conversational video recommendations over your own library, for assistants and apps.

* **Auth**: `Authorization: Bearer <key>` or `X-API-Key: <key>` (keys from `vidrec keys create`).
  A key acts for its users (403 for others); admin keys also manage the library.
  `/healthz`, `/readyz`, `/v1/models` and `/v1/tools` (the schema) are open.
* **Errors**: `{"error", "message", "expected", "got", "hint"}` with the HTTP status
  (422 invalid input, 401/403, 404, 413 too large, 415 wrong media type, 429 rate limited,
  503 still loading).
* **OpenAI-compatible**: `POST /v1/chat/completions` with `model="vidrec"`.
* **MCP**: streamable HTTP at `/mcp` (same key).
"""


def create_app(
    settings: Settings | None = None,
    recommender: Recommender | None = None,
    *,
    keys: KeyStore | None = None,
) -> FastAPI:
    """Build the API over ``recommender`` (created from ``settings`` when not given).

    The app closes what it created (the recommender, key store and job worker) on shutdown; a
    recommender passed in stays the caller's.
    """
    settings = settings or Settings()
    settings.ensure_dirs()
    owns = recommender is None
    rec = recommender if recommender is not None else Recommender(settings)
    api = settings.api
    limits = BodyLimits.from_settings(api)

    def ingest(
        paths: Sequence[str],
        manifest: str | None,
        progress: Callable[[IngestProgress], None],
        guard: IngestGuard,
    ) -> IngestReport:
        return rec.ingest(
            [Path(p) for p in paths], manifest=manifest, progress=progress, guard=guard
        )

    def in_use() -> set[str]:
        return {p for v in rec.library.videos() for p in (v.media_path, v.thumbnail) if p}

    ctx = ApiContext(
        settings=settings,
        recommender=rec,
        keys=keys or KeyStore(settings.sql_url),
        jobs=JobManager(
            settings.sql_url,
            ingest,
            lease_s=api.ingest_lease_s,
            poll_s=api.ingest_poll_s,
            timeout_s=api.ingest_job_timeout_s or None,
            ingest_roots=resolve_roots(api.ingest_roots),
            uploads_dir=settings.data_dir / "uploads",
            in_use=in_use,
        ),
        rate_limiter=RateLimiter(api.rate_limit_per_minute, api.rate_limit_storage),
        expensive_limiter=expensive_limiter(api),
        bad_key_limiter=bad_key_limiter(api),
        limits=limits,
        owns_recommender=owns,
    )
    mcp = build_mcp_server(
        rec,
        readiness=ctx.readiness,
        capacity=lambda: ctx.capacity,
        charge=ctx.charge_expensive,
    )
    mcp_routes = http_app(mcp, ctx.authenticate, host=api.host)[1] if api.mcp_http else []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not api.require_keys:
            log.warning("API keys are NOT required (api.require_keys=false): every caller is admin")
        ctx.readiness.start(rec)
        try:
            if mcp_routes:
                async with mcp.session_manager.run():
                    yield
            else:
                yield
        finally:
            ctx.jobs.close()
            if owns:
                close = getattr(rec, "close", None)
                if callable(close):
                    close()
            if keys is None:
                ctx.keys.close()

    app = FastAPI(
        title="vidrec API",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    body, upload = limits.max_body_bytes, limits.max_upload_bytes
    app.include_router(routes_health.router, max_body_size=body)
    app.include_router(routes_recommend.router, max_body_size=body)
    app.include_router(routes_recommend.upload_router, max_body_size=upload)
    app.include_router(routes_users.router, max_body_size=body)
    app.include_router(routes_library.router, max_body_size=body)
    app.include_router(routes_library.upload_router, max_body_size=upload)
    app.include_router(routes_openai.router, max_body_size=body)
    app.include_router(routes_tools.router, max_body_size=body)
    app.router.routes.extend(mcp_routes)
    app.add_middleware(ContentLengthGuard, limits=limits)
    if api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(api.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Retry-After", "Location"],
        )
    return app

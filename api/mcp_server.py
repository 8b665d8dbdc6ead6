"""The MCP server: the same three tools as ``GET /v1/tools``, on the official ``mcp`` SDK (MCPServer,
the v2 name of FastMCP).

Transports:

* **stdio** (``vidrec mcp``): for a desktop assistant that launches vidrec as a subprocess. The
  process runs as the local user, who can read the database anyway, so calls act as the local admin
  (``--user`` sets the default user id when a call names none).
* **streamable HTTP** (``vidrec mcp --transport http``, and mounted at ``/mcp`` in ``vidrec serve``):
  every request needs an API key (``Authorization: Bearer`` or ``X-API-Key``), checked and rate
  limited like the REST routes; the key's user scope applies to the tools.

The tool signatures are generated from the pydantic argument models in ``api.tools``, so the schema
an MCP client lists is the schema ``GET /v1/tools`` serves.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from agent.recommender import Recommender
from agent.settings import Settings
from api.auth import LOCAL_ADMIN, KeyStore, Principal, extract_key
from api.context import CURRENT_PRINCIPAL, Readiness
from api.errors import error_body
from api.limits import RateLimiter, admit, bad_key_limiter
from api.tools import TOOLS, ToolSpec, run_tool
from retrieval.errors import VidrecError

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
INSTRUCTIONS = (
    "vidrec recommends videos from the operator's own library. Call recommend_videos with what "
    "the user wants (their words) to get ranked videos, each with a reason, a supporting quote "
    "and the timestamp where it is said; search_videos to find where a topic is discussed; "
    "record_feedback when the user says they liked, disliked, watched or rated a video."
)


def _tool_function(
    spec: ToolSpec,
    recommender: Recommender,
    readiness: Readiness | None,
    default_principal: Principal,
    capacity: Callable[[], anyio.CapacityLimiter | None],
    charge: Callable[[Principal], None],
) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def tool(**kwargs: Any) -> dict[str, Any]:
        principal = CURRENT_PRINCIPAL.get() or default_principal
        try:
            if readiness is not None:
                readiness.require()
            if spec.expensive:
                charge(principal)
            return await anyio.to_thread.run_sync(
                run_tool, recommender, principal, spec.name, kwargs, limiter=capacity()
            )
        except VidrecError as exc:
            raise ToolError(str(exc)) from exc

    params = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if field.is_required() else field.default,
            annotation=Annotated[field.annotation, field],
        )
        for name, field in spec.args.model_fields.items()
    ]
    tool.__signature__ = inspect.Signature(params, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    tool.__name__ = spec.name
    tool.__doc__ = spec.description
    return tool


def build_mcp_server(
    recommender: Recommender,
    *,
    readiness: Readiness | None = None,
    default_principal: Principal = LOCAL_ADMIN,
    capacity: Callable[[], anyio.CapacityLimiter | None] = lambda: None,
    charge: Callable[[Principal], None] = lambda _: None,
) -> MCPServer:
    """An MCP server exposing ``recommend_videos``, ``search_videos`` and ``record_feedback``.

    Args:
        recommender: the facade the tools call.
        readiness: when given, tools refuse (as tool errors) until warm-up is done.
        default_principal: who a call acts as when no API key was checked (stdio).
        capacity: the limiter shared with the REST routes, so MCP and REST queue together.
        charge: counts a model-running tool call on the caller's lower rate limit.
    """
    server: MCPServer = MCPServer(name="vidrec", instructions=INSTRUCTIONS, log_level="WARNING")
    for spec in TOOLS.values():
        server.add_tool(
            _tool_function(spec, recommender, readiness, default_principal, capacity, charge),
            name=spec.name,
            description=spec.description,
        )
    return server


class KeyAuthASGI:
    """Checks the API key (401/429 as JSON) and exposes the principal to the MCP tools."""

    def __init__(self, app: ASGIApp, authenticate: Callable[[str | None, str], Principal]) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = extract_key(Headers(scope=scope))
        try:
            client = scope.get("client") or ("", 0)
            principal = await anyio.to_thread.run_sync(self.authenticate, key, str(client[0]))
        except VidrecError as exc:
            headers = (
                {"WWW-Authenticate": 'Bearer realm="vidrec"'} if exc.http_status == 401 else {}
            )
            retry = getattr(exc, "retry_after", None)
            if retry:
                headers["Retry-After"] = str(retry)
            response = JSONResponse(error_body(exc), status_code=exc.http_status, headers=headers)
            await response(scope, receive, send)
            return
        token = CURRENT_PRINCIPAL.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT_PRINCIPAL.reset(token)


def transport_security(host: str) -> TransportSecuritySettings:
    """DNS-rebinding protection when bound to loopback (as the SDK does), off otherwise."""
    if host in LOOPBACK:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return TransportSecuritySettings(enable_dns_rebinding_protection=False)


def http_app(
    server: MCPServer,
    authenticate: Callable[[str | None, str], Principal],
    *,
    host: str,
    path: str = "/mcp",
) -> tuple[Starlette, list[Route]]:
    """The streamable HTTP app (stateless: any worker can answer any request) and its routes with
    the key check around them. Run the app itself, or mount the routes and run
    ``server.session_manager.run()`` in the host app's lifespan."""
    app = server.streamable_http_app(
        streamable_http_path=path,
        stateless_http=True,
        transport_security=transport_security(host),
        host=host,
    )
    routes: list[Route] = []
    for route in app.routes:
        if isinstance(route, Route) and route.path == path:
            routes.append(Route(path, endpoint=KeyAuthASGI(route.app, authenticate)))
    if not routes:  # pragma: no cover - the SDK changed shape
        raise RuntimeError(f"the MCP SDK's HTTP app has no route {path}")
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != path]
    app.router.routes.extend(routes)
    return app, routes


def run_stdio(settings: Settings, *, user: str | None = None) -> None:
    """``vidrec mcp``: serve the tools over stdin/stdout as the local user (blocks)."""
    recommender = Recommender(settings)
    principal = Principal(
        key_id="local", users=frozenset({user}) if user else frozenset(), admin=True
    )
    server = build_mcp_server(recommender, default_principal=principal)
    try:
        server.run("stdio")
    finally:
        recommender.close()


def run_http(settings: Settings, *, host: str, port: int) -> None:
    """``vidrec mcp --transport http``: streamable HTTP at ``http://host:port/mcp`` (API keys
    required unless ``api.require_keys`` is off; blocks)."""
    import uvicorn

    recommender = Recommender(settings)
    keys = KeyStore(settings.sql_url)
    limiter = RateLimiter(
        settings.api.rate_limit_per_minute, storage=settings.api.rate_limit_storage
    )
    bad_keys = bad_key_limiter(settings.api)
    readiness = Readiness()

    def authenticate(key: str | None, client: str) -> Principal:
        verify = keys.verify if settings.api.require_keys else None
        return admit(verify, key, client, per_key=limiter, bad_keys=bad_keys)

    server = build_mcp_server(recommender, readiness=readiness)
    app, _ = http_app(server, authenticate, host=host)
    readiness.start(recommender)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        keys.close()
        recommender.close()

"""``vidrec serve``, ``vidrec keys``, ``vidrec tool-schema``, ``vidrec mcp``: the API surfaces."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

import typer

from agent.settings import Settings

if TYPE_CHECKING:
    from api.auth import KeyStore

log = logging.getLogger(__name__)

keys_app = typer.Typer(help="API keys (stored hashed; a key is shown once, when created).")


def _store(settings: Settings) -> KeyStore:
    from api.auth import KeyStore

    settings.ensure_dirs()
    return KeyStore(settings.sql_url)


def serve(
    host: str = typer.Option(None, help="Interface to bind (default: api.host, 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default: api.port, 8000)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    workers: int = typer.Option(
        1,
        min=1,
        help="API processes. More than 1 needs a Chroma server (store.chroma_url); see "
        "docs/scaling.md for PostgreSQL, Redis and a served LLM.",
    ),
) -> None:
    """Run the HTTP API (REST, OpenAI-compatible chat, tools, MCP at /mcp); docs at /docs."""
    import os

    import uvicorn

    from api.app import create_app
    from api.workers import multi_worker_warnings

    settings = Settings()
    host = host or settings.api.host
    port = port or settings.api.port
    if host != settings.api.host:
        settings = settings.model_copy(
            update={"api": settings.api.model_copy(update={"host": host})}
        )
    for warning in multi_worker_warnings(settings, workers):
        typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
    typer.echo(
        f"vidrec API on http://{host}:{port}  (docs: /docs, readiness: /readyz)"
        + (f", {workers} workers" if workers > 1 else ""),
        err=True,
    )
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
        return
    # each worker process builds its own app from the same settings (env vars and vidrec.toml)
    os.environ["VIDREC_API__HOST"] = host
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


@keys_app.command("create")
def keys_create(
    user: list[str] = typer.Option(
        None, "--user", "-u", help="A user the key may act for (repeat)."
    ),
    admin: bool = typer.Option(
        False, "--admin", help="May also manage the library (ingest, remove)."
    ),
    label: str = typer.Option("", help="A note to recognise the key by."),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    store = _store(Settings())
    try:
        new = store.create(user or [], admin=admin, label=label)
    finally:
        store.close()
    scope = ", ".join(new.info.users) or "no users"
    typer.echo(f"created key {new.info.id} ({scope}{'; admin' if admin else ''})", err=True)
    typer.echo("store it now, it is not shown again:", err=True)
    typer.echo(new.secret)


@keys_app.command("list")
def keys_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List keys (id, users, admin, created, last used, revoked); never the secrets."""
    store = _store(Settings())
    try:
        infos = store.list()
    finally:
        store.close()
    if as_json:
        rows = [
            {
                "id": k.id,
                "users": list(k.users),
                "admin": k.admin,
                "label": k.label,
                "created_at": k.created_at.isoformat(),
                "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in infos
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not infos:
        typer.echo("no keys yet: vidrec keys create --user <id>")
        return
    for k in infos:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        used = f"{k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never"
        typer.echo(
            f"{k.id}  {state:18}  {'admin ' if k.admin else ''}users={','.join(k.users) or '-'}"
            f"  created={k.created_at:%Y-%m-%d}  last_used={used}  {k.label}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key id (from `vidrec keys list`)."),
) -> None:
    """Revoke a key: it stops working at once."""
    store = _store(Settings())
    try:
        info = store.revoke(key_id)
    finally:
        store.close()
    typer.echo(f"revoked {info.id}")


def tool_schema() -> None:
    """Print the tool definitions (OpenAI `tools` format) to register with an assistant."""
    from api.tools import openai_tools

    typer.echo(json.dumps(openai_tools(), indent=2))


def mcp(
    transport: str = typer.Option("stdio", help="stdio (for a local assistant) or http."),
    host: str = typer.Option("127.0.0.1", help="http: interface to bind."),
    port: int = typer.Option(8001, help="http: port (endpoint http://HOST:PORT/mcp)."),
    user: str = typer.Option(None, help="stdio: the user id tools act for when a call names none."),
) -> None:
    """Serve the tools over MCP (stdio, or streamable HTTP with API keys)."""
    from api.mcp_server import run_http, run_stdio

    settings = Settings()
    if transport == "stdio":
        run_stdio(settings, user=user)
    elif transport == "http":
        typer.echo(f"MCP (streamable HTTP) on http://{host}:{port}/mcp", err=True)
        run_http(settings, host=host, port=port)
    else:
        raise typer.BadParameter(
            f"expected stdio or http, got {transport!r}", param_hint="--transport"
        )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.command("tool-schema")(tool_schema)
    app.command("mcp")(mcp)

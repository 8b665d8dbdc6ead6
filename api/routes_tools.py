"""``GET /v1/tools`` (the tool schema to register) and ``POST /v1/tools/{name}`` (run one call)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request

from api.auth import Principal
from api.context import get_ctx, principal_dep
from api.tools import TOOLS, get_tool, openai_tools, run_tool, validate_args

router = APIRouter(prefix="/v1/tools", tags=["tools"])

Who = Annotated[Principal, Depends(principal_dep)]


@router.get("", summary="Tool definitions (OpenAI tools format)")
async def list_tools() -> dict[str, Any]:
    """Register ``tools`` with any function-calling model; when it calls one, POST the arguments
    to ``/v1/tools/{name}`` (or use the MCP server, which exposes the same tools)."""
    return {"object": "list", "tools": openai_tools()}


@router.post("/{name}", summary="Execute a tool call")
async def call_tool(
    name: str,
    request: Request,
    who: Who,
    arguments: Annotated[
        dict[str, Any],
        Body(description="the call's arguments object (the parsed `arguments` of a tool call)"),
    ],
) -> dict[str, Any]:
    spec = get_tool(name)
    validate_args(spec, arguments)  # a 422 before queueing for a worker
    ctx = get_ctx(request)
    if spec.expensive:
        ctx.charge_expensive(who)
    result = await ctx.call(run_tool, ctx.recommender, who, name, arguments)
    return {"tool": name, "result": result}


__all__ = ["TOOLS", "router"]

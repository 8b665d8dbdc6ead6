"""``GET /healthz`` (liveness, always 200 while the process serves) and ``GET /readyz`` (200 once
models are loaded and the index is open, 503 before). Both are open: no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.context import get_ctx
from api.schemas import HealthOut, ReadyOut

router = APIRouter(tags=["health"])

VERSION = "0.1.0"


@router.get("/healthz", response_model=HealthOut, summary="Liveness")
async def healthz() -> HealthOut:
    return HealthOut(version=VERSION)


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="Readiness",
    responses={503: {"model": ReadyOut, "description": "warming up, or warm-up failed"}},
)
async def readyz(request: Request) -> JSONResponse:
    readiness = get_ctx(request).readiness
    body = ReadyOut(
        status=readiness.state, detail=readiness.detail, seconds=round(readiness.seconds, 3)
    )
    return JSONResponse(
        body.model_dump(),
        status_code=200 if readiness.state == "ready" else 503,
        headers=None if readiness.state == "ready" else {"Retry-After": "5"},
    )

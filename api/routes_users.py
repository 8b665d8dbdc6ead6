"""``GET/DELETE /v1/users/{user_id}``: export, or delete, everything held about a user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response

from api.auth import Principal
from api.context import get_ctx, principal_dep

router = APIRouter(prefix="/v1/users", tags=["users"])

Who = Annotated[Principal, Depends(principal_dep)]
UserPath = Annotated[str, Path(min_length=1, max_length=200, description="the user id")]


@router.get("/{user_id}", summary="Export everything held about a user")
async def export_user(user_id: UserPath, request: Request, who: Who) -> dict[str, Any]:
    """The user's feedback events, sessions and turns, as the facade exports them (JSON)."""
    who.check_user(user_id)
    ctx = get_ctx(request)
    return dict(await ctx.call(ctx.recommender.export_user, user_id))


@router.delete("/{user_id}", status_code=204, summary="Delete everything held about a user")
async def delete_user(user_id: UserPath, request: Request, who: Who) -> Response:
    who.check_user(user_id)
    ctx = get_ctx(request)
    await ctx.call(ctx.recommender.forget_user, user_id)
    return Response(status_code=204)

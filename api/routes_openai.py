"""``POST /v1/chat/completions`` (OpenAI-compatible, streaming or not) and ``GET /v1/models``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from agent.relay import END
from api.auth import Principal
from api.context import expensive_dep, get_ctx
from api.openai_compat import (
    MODEL_ID,
    ChatCompletionRequest,
    completion,
    model_card,
    models_list,
    stream_chunks,
)
from retrieval.errors import NotFoundError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["openai"])

Costly = Annotated[Principal, Depends(expensive_dep)]  # runs a model: the lower budget


@router.get("/models", summary="Models (OpenAI-compatible): just 'vidrec'")
async def list_models() -> dict[str, Any]:
    return models_list()


@router.get("/models/{model_id}", summary="One model (OpenAI-compatible)")
async def get_model(model_id: str) -> dict[str, Any]:
    if model_id != MODEL_ID:
        raise NotFoundError(
            f"The model {model_id!r} does not exist", expected=repr(MODEL_ID), got=repr(model_id)
        )
    return model_card()


@router.post(
    "/chat/completions",
    summary="Chat completions (OpenAI-compatible); items also in the top-level 'vidrec' field",
    response_model=None,
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, who: Costly
) -> JSONResponse | StreamingResponse:
    body.check_model()
    user_id = who.default_user(body.user)
    conversation = body.conversation()
    ctx = get_ctx(request)
    rec = ctx.recommender
    if not body.stream:
        answer = await ctx.call(rec.recommend, conversation, user_id, body.k(), body.filters())
        return JSONResponse(completion(answer, user_id))

    # Streaming: hold one capacity slot for the whole stream (the model is busy all along). Input
    # errors raise from rec.stream() before the turn starts and still get their HTTP status; the
    # turn then runs on its own thread (agent.relay), stepped here from worker threads.
    ctx.readiness.require()
    slot = object()
    await ctx.capacity.acquire_on_behalf_of(slot)
    try:
        events = rec.stream(conversation, user_id, body.k(), body.filters())
    except BaseException:
        ctx.capacity.release_on_behalf_of(slot)
        raise
    lines = stream_chunks(events, user_id)

    async def body_iter() -> AsyncIterator[str]:
        try:
            while (
                line := await anyio.to_thread.run_sync(next, lines, END, abandon_on_cancel=True)
            ) is not END:
                yield line
        finally:
            events.close()  # a client that left stops the turn at its next event
            ctx.capacity.release_on_behalf_of(slot)

    return StreamingResponse(
        body_iter(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

"""``POST /v1/chat/completions`` (OpenAI-compatible, streaming or not) and ``GET /v1/models``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.auth import Principal
from api.context import get_ctx, principal_dep
from api.openai_compat import (
    MODEL_ID,
    ChatCompletionRequest,
    completion,
    model_card,
    models_list,
    stream_chunks,
)
from api.streaming import END, OneThreadIterator
from retrieval.errors import NotFoundError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["openai"])

Who = Annotated[Principal, Depends(principal_dep)]
_STARTED = "started"  # a marker, never sent: the facade accepted the turn


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
    body: ChatCompletionRequest, request: Request, who: Who
) -> JSONResponse | StreamingResponse:
    body.check_model()
    user_id = who.default_user(body.user)
    conversation = body.conversation()
    ctx = get_ctx(request)
    rec = ctx.recommender
    if not body.stream:
        answer = await ctx.call(rec.recommend, conversation, user_id, body.k(), body.filters())
        return JSONResponse(completion(answer, user_id))

    # Streaming: hold one capacity slot for the whole stream (the model is busy all along). The
    # facade's generator runs start-to-end on one thread (it holds the LLM lock across yields);
    # input errors it raises before its first event still get their HTTP status.
    ctx.readiness.require()
    slot = object()
    await ctx.capacity.acquire_on_behalf_of(slot)

    def produce() -> Iterator[str]:
        events = rec.stream(conversation, user_id, body.k(), body.filters())
        yield _STARTED
        yield from stream_chunks(events, user_id)

    lines: OneThreadIterator[str] = OneThreadIterator(produce, name="vidrec-chat-stream")
    try:
        first = await lines.next()
        assert first is _STARTED
    except BaseException:
        lines.close()
        ctx.capacity.release_on_behalf_of(slot)
        raise

    async def body_iter() -> AsyncIterator[str]:
        try:
            while (line := await lines.next()) is not END:
                yield line
        finally:
            lines.close()
            ctx.capacity.release_on_behalf_of(slot)

    return StreamingResponse(
        body_iter(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

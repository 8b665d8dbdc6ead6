"""``/v1/recommend`` (text or voice), ``/v1/search``, ``/v1/feedback``, ``/v1/transcribe``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile as StarletteUpload

from agent.types import Message
from api.auth import Principal
from api.context import ApiContext, expensive_dep, get_ctx, principal_dep
from api.errors import invalid_from_pydantic
from api.schemas import (
    FeedbackRequest,
    FeedbackResponse,
    RecommendRequest,
    RecommendResponse,
    SearchHitOut,
    SearchRequest,
    SearchResponse,
    TranscriptOut,
    VoiceFields,
)
from api.tools import parameters_schema
from api.uploads import (
    check_audio,
    is_json,
    is_multipart,
    json_field,
    read_json,
    save_temp,
    unsupported_body,
)
from retrieval.errors import InvalidInputError, MediaError
from retrieval.types import Transcript

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["recommend"])
upload_router = APIRouter(prefix="/v1", tags=["recommend"])

Who = Annotated[Principal, Depends(principal_dep)]
Costly = Annotated[Principal, Depends(expensive_dep)]  # runs a model: the lower budget

_VOICE_FORM = {
    "type": "object",
    "required": ["audio", "user_id"],
    "properties": {
        "audio": {"type": "string", "format": "binary", "description": "the spoken query"},
        "user_id": {"type": "string"},
        "k": {"type": "integer", "default": 5},
        "filters": {"type": "string", "description": "JSON object, as in the JSON body"},
        "messages": {"type": "string", "description": "JSON list of earlier turns"},
    },
}


def _as_upload(exc: MediaError, path: Path, shown: str) -> MediaError:
    """The same error, naming the caller's file instead of the server's temp copy."""

    def fix(text: str | None) -> str | None:
        return text.replace(str(path), shown).replace(path.name, shown) if text else text

    return type(exc)(
        fix(exc.message) or "The recording cannot be decoded",
        expected=fix(exc.expected),
        got=fix(exc.got),
        hint=fix(exc.hint),
    )


async def _transcribe(ctx: ApiContext, audio: StarletteUpload) -> Transcript:
    suffix = check_audio(audio, ctx.settings.ingest.media_extensions)
    shown = audio.filename or "the recording"
    if not audio.size:
        raise MediaError(
            f"The recording {shown} is empty",
            expected="an audio file with sound in it",
            got="0 bytes",
            hint="Record again and send the file once it is saved",
        )
    path = await save_temp(audio, ctx.settings.cache_dir / "api-audio", suffix)
    try:
        # the facade probes it and decodes at most api.max_audio_seconds before the model runs
        return await ctx.call(ctx.recommender.transcribe, path)
    except MediaError as exc:
        raise _as_upload(exc, path, shown) from None
    finally:
        path.unlink(missing_ok=True)


async def _voice(ctx: ApiContext, who: Principal, request: Request) -> RecommendResponse:
    async with request.form(max_files=1, max_fields=10) as form:
        audio = form.get("audio")
        if not isinstance(audio, StarletteUpload):
            raise InvalidInputError(
                "A voice query needs the recording",
                expected="a multipart file field 'audio'",
                got="no file" if audio is None else "text",
                hint="curl -F audio=@question.wav -F user_id=alice .../v1/recommend",
            )
        try:
            fields = VoiceFields.model_validate(
                {
                    "user_id": form.get("user_id"),
                    "k": form.get("k") or 5,
                    "filters": json_field(form.get("filters"), "filters"),
                    "messages": json_field(form.get("messages"), "messages") or [],
                }
            )
        except ValidationError as exc:
            raise invalid_from_pydantic(exc) from None
        who.check_user(fields.user_id)
        transcript = await _transcribe(ctx, audio)
    text = transcript.text.strip()
    if not text:
        raise InvalidInputError(
            "No speech was heard in the recording",
            expected="a spoken question",
            got=f"{transcript.duration or 0:.1f} s of audio with no words",
            hint="Record closer to the microphone, or type the question",
        )
    conversation = [m.to_message() for m in fields.messages] + [Message("user", text)]
    filters = fields.filters.to_filters() if fields.filters else None
    answer = await ctx.call(
        ctx.recommender.recommend, conversation, fields.user_id, fields.k, filters
    )
    return RecommendResponse.of(answer, transcript)


@upload_router.post(
    "/recommend",
    response_model=RecommendResponse,
    summary="Recommend videos for a conversation, a query, or a spoken question",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": parameters_schema(RecommendRequest)},
                "multipart/form-data": {"schema": _VOICE_FORM},
            },
        }
    },
)
async def recommend(request: Request, who: Costly) -> RecommendResponse:
    """JSON: ``messages`` (latest user turn last) or ``query``, with ``user_id``, ``k``, ``filters``.
    Multipart: an ``audio`` file plus the same fields (``filters``/``messages`` as JSON text); the
    reply then carries the ``transcript`` that was heard."""
    ctx = get_ctx(request)
    if is_multipart(request):
        return await _voice(ctx, who, request)
    if not is_json(request):
        raise unsupported_body(request, "application/json, or multipart/form-data with 'audio'")
    data: Any = await read_json(request, ctx.limits.max_body_bytes)
    try:
        body = RecommendRequest.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None
    who.check_user(body.user_id)
    answer = await ctx.call(
        ctx.recommender.recommend, body.conversation(), body.user_id, body.k, body.search_filters()
    )
    return RecommendResponse.of(answer)


@router.post("/search", response_model=SearchResponse, summary="Search the library's transcripts")
async def search(body: SearchRequest, request: Request, who: Who) -> SearchResponse:
    ctx = get_ctx(request)
    filters = body.filters.to_filters() if body.filters else None
    hits = await ctx.call(ctx.recommender.search, body.query, filters, body.k)
    return SearchResponse(hits=[SearchHitOut.of(h) for h in hits])


@router.post("/feedback", response_model=FeedbackResponse, summary="Record a user's feedback")
async def feedback(body: FeedbackRequest, request: Request, who: Who) -> FeedbackResponse:
    ctx = get_ctx(request)
    who.check_user(body.user_id)
    await ctx.call(ctx.recommender.feedback, body.user_id, body.video_id, body.kind, body.value)
    return FeedbackResponse(
        user_id=body.user_id, video_id=body.video_id, kind=body.kind, value=body.value
    )


@upload_router.post(
    "/transcribe",
    response_model=TranscriptOut,
    summary="Transcribe a recording (Whisper)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["audio"],
                        "properties": {"audio": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def transcribe(request: Request, who: Costly) -> TranscriptOut:
    """Multipart field ``audio``: any format FFmpeg reads. The key is checked before the upload is
    read, so an unauthenticated upload costs nothing."""
    ctx = get_ctx(request)
    if not is_multipart(request):
        raise unsupported_body(request, "multipart/form-data with a file field 'audio'")
    async with request.form(max_files=1, max_fields=2) as form:
        audio = form.get("audio")
        if not isinstance(audio, StarletteUpload):
            raise InvalidInputError(
                "No recording was sent",
                expected="a multipart file field 'audio'",
                got="no file" if audio is None else "text",
                hint="curl -F audio=@question.wav .../v1/transcribe",
            )
        return TranscriptOut.of(await _transcribe(ctx, audio))

"""The OpenAI Chat Completions wire format over the ``Recommender`` (model name ``vidrec``).

Any OpenAI client can talk to vidrec as if it were a model: ``messages`` is the conversation,
``user`` the end-user id (optional when the API key has one user), ``stream`` switches to Server-Sent
Events in OpenAI's chunk format ending with ``data: [DONE]``. The reply text is in
``choices[0].message.content``; the recommended items are also returned structured, in a top-level
``vidrec`` object (``{"recommendations": [...], "clarifying_question": ..., "user": ...}``) of the
response and of the final stream chunk. Optional ``vidrec: {"k": 5, "filters": {...}}`` in the
request (``extra_body`` in the openai client) sets the number of items and hard filters.

Sampling parameters (temperature, top_p, max_tokens, ...) are accepted and ignored: the server's
settings decide them. Token usage is not reported (``usage`` is null) rather than invented.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator, Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.types import Answer, AnswerEvent, Message
from api.media import public_links
from api.schemas import MAX_K, FiltersIn, RecommendationOut
from retrieval.errors import InvalidInputError, NotFoundError, VidrecError

MODEL_ID = "vidrec"
MODEL_CREATED = 1_735_689_600  # 2025-01-01, a fixed "created" for GET /v1/models


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, ... are accepted
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        parts = []
        for part in self.content:
            if part.type != "text":
                raise InvalidInputError(
                    f"Only text content is supported, not {part.type!r}",
                    expected="content as a string or text parts",
                    got=part.type,
                    hint="For spoken questions POST the audio to /v1/recommend (multipart 'audio')",
                )
            parts.append(part.text or "")
        return "".join(parts)


class VidrecOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = Field(5, ge=1, le=MAX_K)
    filters: FiltersIn | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, max_tokens, ... are ignored
    model: str
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=200)
    n: int = Field(1, ge=1, le=1, description="only 1 is supported")
    vidrec: VidrecOptions | None = None

    def check_model(self) -> None:
        if self.model != MODEL_ID:
            raise NotFoundError(
                f"The model {self.model!r} does not exist",
                expected=repr(MODEL_ID),
                got=repr(self.model),
                hint=f"Use model={MODEL_ID!r} (GET /v1/models)",
            )

    def conversation(self) -> list[Message]:
        """Messages for the facade: developer -> system; tool results and empty turns dropped."""
        out: list[Message] = []
        for m in self.messages:
            if m.role in ("tool", "function"):
                continue
            text = m.text().strip()
            if not text:
                continue
            role: Literal["user", "assistant", "system"] = (
                "system" if m.role == "developer" else m.role  # type: ignore[assignment]
            )
            out.append(Message(role=role, content=text))
        if not out or out[-1].role != "user":
            raise InvalidInputError(
                "The conversation must end with a user message",
                expected="messages ending with {'role': 'user', 'content': ...}",
                got=f"last role {out[-1].role!r}" if out else "no text messages",
            )
        return out

    def k(self) -> int:
        return self.vidrec.k if self.vidrec else 5

    def filters(self) -> Any:
        return self.vidrec.filters.to_filters() if self.vidrec and self.vidrec.filters else None


def render_reply(answer: Answer) -> str:
    """The reply text; the items are listed under it when the text does not already name them."""
    text = answer.text.strip()
    missing = [r for r in answer.recommendations if r.video.title not in text]
    if not missing:
        return text
    lines = []
    for r in answer.recommendations:
        line = f"{r.rank}. {r.video.title} (at {r.timestamp}): {r.reason}"
        play = public_links(r.video, r.evidence_start).play_url
        if play:
            line += f" {play}"
        lines.append(line)
    return (text + "\n\n" if text else "") + "\n".join(lines)


def vidrec_extension(answer: Answer, user_id: str) -> dict[str, Any]:
    return {
        "user": user_id,
        "clarifying_question": answer.clarifying_question,
        "recommendations": [
            RecommendationOut.of(r).model_dump(mode="json") for r in answer.recommendations
        ],
    }


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion(answer: Answer, user_id: str) -> dict[str, Any]:
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_ID,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": render_reply(answer), "refusal": None},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": None,
        "vidrec": vidrec_extension(answer, user_id),
    }


def models_list() -> dict[str, Any]:
    return {"object": "list", "data": [model_card()]}


def model_card() -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": MODEL_CREATED, "owned_by": "vidrec"}


class ChunkWriter:
    """Builds ``data: {...}\\n\\n`` lines of one streamed completion."""

    def __init__(self) -> None:
        self.id = completion_id()
        self.created = int(time.time())

    def chunk(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        **extra: Any,
    ) -> str:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL_ID,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
        }
        body.update(extra)
        return sse(body)


def sse(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


DONE = "data: [DONE]\n\n"


def error_event(exc: VidrecError | None, message: str = "") -> str:
    data = dict(exc.to_dict()) if exc else {"error": "backend_error", "message": message}
    return sse(
        {
            "error": {
                "message": data.get("message") or message,
                "type": data.get("error"),
                "code": data.get("error"),
                "param": None,
                "hint": data.get("hint"),
            }
        }
    )


def stream_chunks(events: Iterator[AnswerEvent], user_id: str) -> Generator[str, None, None]:
    """SSE lines for the facade's event stream (sync: the route runs it on one worker thread).

    Text deltas become ``delta.content``; when the final answer's text does not list the items,
    the list follows as one more delta; the last chunk carries ``finish_reason: "stop"`` and the
    structured ``vidrec`` items; an ``error`` event becomes OpenAI's ``{"error": ...}`` chunk.
    """
    writer = ChunkWriter()
    yield writer.chunk({"role": "assistant", "content": ""})
    try:
        yield from _translate(writer, events, user_id)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def _translate(writer: ChunkWriter, events: Iterator[AnswerEvent], user_id: str) -> Iterator[str]:
    streamed: list[str] = []
    try:
        for event in events:
            if event.kind == "text" and event.text:
                streamed.append(event.text)
                yield writer.chunk({"content": event.text})
            elif event.kind == "error":
                yield error_event(None, event.text or "the answer failed")
                yield DONE
                return
            elif event.kind == "done" and event.answer is not None:
                so_far = "".join(streamed)
                full = render_reply(event.answer)
                if full.startswith(so_far.strip()) and len(full) > len(so_far.strip()):
                    tail = full[len(so_far.strip()) :]
                    pending = ""
                    for line in tail.splitlines(keepends=True):  # one pick per chunk
                        pending += line
                        if line.strip():
                            yield writer.chunk({"content": pending})
                            pending = ""
                yield writer.chunk(
                    {}, finish_reason="stop", vidrec=vidrec_extension(event.answer, user_id)
                )
                yield DONE
                return
    except VidrecError as exc:
        yield error_event(exc)
        yield DONE
        return
    # The facade ended without a 'done' event: close the stream properly anyway.
    yield writer.chunk({}, finish_reason="stop", vidrec={"user": user_id, "recommendations": []})
    yield DONE

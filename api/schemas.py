"""Request and response models of the REST API (the wire format; converted to typed results here).

Requests forbid unknown fields, so a misspelt field is a 422 naming it rather than silently ignored.
Durations are seconds, dates ISO ``YYYY-MM-DD``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.conversation import MAX_K
from agent.types import Answer, Message, Recommendation
from api.media import public_links
from retrieval.types import IngestReport, SearchFilters, Transcript, VideoHit

UserId = Annotated[
    str,
    Field(min_length=1, max_length=200, description="Your id for the end user", examples=["alice"]),
]
VideoId = Annotated[str, Field(min_length=1, max_length=200, description="A video id")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FiltersIn(_Strict):
    """Hard filters applied before ranking."""

    min_duration: float | None = Field(None, ge=0, description="seconds")
    max_duration: float | None = Field(None, ge=0, description="seconds")
    published_after: date | None = Field(None, description="inclusive, YYYY-MM-DD")
    published_before: date | None = Field(None, description="inclusive, YYYY-MM-DD")
    languages: list[str] = Field(default_factory=list, description="e.g. ['en']")
    tags_any: list[str] = Field(default_factory=list, description="keep videos with any of these")
    tags_none: list[str] = Field(default_factory=list, description="drop videos with any of these")
    exclude_ids: list[str] = Field(default_factory=list, description="video ids never to return")

    @model_validator(mode="after")
    def _ranges(self) -> FiltersIn:
        if (
            self.min_duration is not None
            and self.max_duration is not None
            and self.min_duration > self.max_duration
        ):
            raise ValueError("min_duration must not exceed max_duration")
        if (
            self.published_after is not None
            and self.published_before is not None
            and self.published_after > self.published_before
        ):
            raise ValueError("published_after must not be later than published_before")
        return self

    def to_filters(self) -> SearchFilters:
        return SearchFilters(
            min_duration=self.min_duration,
            max_duration=self.max_duration,
            published_after=self.published_after,
            published_before=self.published_before,
            languages=tuple(self.languages),
            tags_any=tuple(self.tags_any),
            tags_none=tuple(self.tags_none),
            exclude_ids=frozenset(self.exclude_ids),
        )


class MessageIn(_Strict):
    role: Literal["user", "assistant", "system"]
    content: str = Field(min_length=1, max_length=20_000)

    def to_message(self) -> Message:
        return Message(role=self.role, content=self.content)


class RecommendRequest(_Strict):
    """A conversation (``messages``, latest user turn last) or a single ``query``."""

    user_id: UserId
    messages: list[MessageIn] | None = Field(None, max_length=100)
    query: str | None = Field(None, min_length=1, max_length=20_000)
    k: int = Field(5, ge=1, le=MAX_K)
    filters: FiltersIn | None = None

    @model_validator(mode="after")
    def _one_input(self) -> RecommendRequest:
        if (self.messages is None) == (self.query is None):
            raise ValueError("give exactly one of 'messages' (a conversation) or 'query' (text)")
        if self.messages is not None and (not self.messages or self.messages[-1].role != "user"):
            raise ValueError("'messages' must end with a user message")
        return self

    def conversation(self) -> list[Message] | str:
        if self.messages is not None:
            return [m.to_message() for m in self.messages]
        assert self.query is not None
        return self.query

    def search_filters(self) -> SearchFilters | None:
        return self.filters.to_filters() if self.filters else None


class VoiceFields(_Strict):
    """The non-file fields of a multipart voice query (``filters``/``messages`` as JSON text)."""

    user_id: UserId
    k: int = Field(5, ge=1, le=MAX_K)
    filters: FiltersIn | None = None
    messages: list[MessageIn] = Field(default_factory=list, max_length=100)


class RecommendationOut(BaseModel):
    rank: int
    video_id: str
    title: str
    score: float
    reason: str
    evidence_quote: str
    evidence_start: float = Field(description="seconds")
    evidence_end: float = Field(description="seconds")
    timestamp: str = Field(description="m:ss (h:mm:ss past an hour) of the evidence")
    play_url: str | None = Field(None, description="the video at the evidence moment, if known")
    url: str | None = None
    thumbnail: str | None = None
    duration: float | None = None
    tags: list[str] = Field(default_factory=list)
    evidence_chunk_id: str

    @classmethod
    def of(cls, rec: Recommendation) -> RecommendationOut:
        links = public_links(rec.video, rec.evidence_start)
        return cls(
            rank=rec.rank,
            video_id=rec.video.id,
            title=rec.video.title,
            score=rec.score,
            reason=rec.reason,
            evidence_quote=rec.evidence_quote,
            evidence_start=rec.evidence_start,
            evidence_end=rec.evidence_end,
            timestamp=rec.timestamp,
            play_url=links.play_url,
            url=links.url,
            thumbnail=links.thumbnail,
            duration=rec.video.duration,
            tags=list(rec.video.tags),
            evidence_chunk_id=rec.evidence_chunk_id,
        )


class SegmentOut(BaseModel):
    start: float
    end: float
    text: str


class TranscriptOut(BaseModel):
    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[SegmentOut]

    @classmethod
    def of(cls, t: Transcript) -> TranscriptOut:
        return cls(
            text=t.text,
            language=t.language,
            duration=t.duration,
            segments=[SegmentOut(start=s.start, end=s.end, text=s.text) for s in t.segments],
        )


class RecommendResponse(BaseModel):
    text: str = Field(description="the reply to show or speak")
    recommendations: list[RecommendationOut]
    clarifying_question: str | None = None
    transcript: TranscriptOut | None = Field(None, description="voice queries: what was heard")
    timings: dict[str, float] = Field(default_factory=dict, description="stage -> seconds")

    @classmethod
    def of(cls, answer: Answer, transcript: Transcript | None = None) -> RecommendResponse:
        return cls(
            text=answer.text,
            recommendations=[RecommendationOut.of(r) for r in answer.recommendations],
            clarifying_question=answer.clarifying_question,
            transcript=TranscriptOut.of(transcript) if transcript is not None else None,
            timings=dict(answer.timings),
        )


class SearchRequest(_Strict):
    query: str = Field(min_length=1, max_length=20_000)
    k: int = Field(10, ge=1, le=MAX_K)
    filters: FiltersIn | None = None


class SearchHitOut(BaseModel):
    video_id: str
    title: str
    score: float
    quote: str = Field(description="the best matching transcript passage")
    start: float = Field(description="seconds")
    end: float = Field(description="seconds")
    timestamp: str
    play_url: str | None = None
    url: str | None = None
    duration: float | None = None
    tags: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, hit: VideoHit) -> SearchHitOut:
        best = hit.chunks[0].chunk if hit.chunks else None
        start = best.start if best else 0.0
        s = int(start)
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        stamp = f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
        links = public_links(hit.video, start)
        return cls(
            video_id=hit.video.id,
            title=hit.video.title,
            score=hit.score,
            quote=best.text if best else "",
            start=start,
            end=best.end if best else 0.0,
            timestamp=stamp,
            play_url=links.play_url,
            url=links.url,
            duration=hit.video.duration,
            tags=list(hit.video.tags),
        )


class SearchResponse(BaseModel):
    hits: list[SearchHitOut]


FeedbackKindIn = Literal["like", "dislike", "watched", "rating", "impression"]


class FeedbackRequest(_Strict):
    user_id: UserId
    video_id: VideoId
    kind: FeedbackKindIn
    value: float | None = Field(
        None, description="watched: fraction 0..1 (default 1); rating: 0..5; others: none"
    )


class FeedbackResponse(BaseModel):
    recorded: bool = True
    user_id: str
    video_id: str
    kind: str
    value: float | None = None


class IngestPathsRequest(_Strict):
    """Server-side files to ingest (admin; only under the configured ``api.ingest_roots``)."""

    paths: list[str] = Field(default_factory=list, max_length=10_000)
    manifest: str | None = None

    @model_validator(mode="after")
    def _something(self) -> IngestPathsRequest:
        if not self.paths and not self.manifest:
            raise ValueError("give 'paths' and/or 'manifest'")
        return self


class IngestFailureOut(BaseModel):
    path: str
    error: str


class IngestReportOut(BaseModel):
    ingested: list[str]
    unchanged: list[str]
    failed: list[IngestFailureOut]
    audio_seconds: float
    chunks: int
    ok: bool

    @classmethod
    def of(cls, r: IngestReport) -> IngestReportOut:
        return cls(
            ingested=list(r.ingested),
            unchanged=list(r.unchanged),
            failed=[IngestFailureOut(path=f.path, error=f.error) for f in r.failed],
            audio_seconds=r.audio_seconds,
            chunks=r.chunks,
            ok=r.ok,
        )


class ProgressOut(BaseModel):
    files_done: int = 0
    files_total: int = 0
    current: str = ""
    audio_seconds: float = 0.0
    chunks: int = 0


JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class JobOut(BaseModel):
    id: str
    kind: str = "ingest"
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    files: list[str] = Field(default_factory=list, description="what the job ingests")
    progress: ProgressOut = Field(default_factory=ProgressOut)
    report: IngestReportOut | None = None
    error: dict[str, Any] | None = Field(None, description="the error body when the job failed")
    status_url: str = ""


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class ReadyOut(BaseModel):
    status: Literal["starting", "ready", "failed"]
    detail: str = ""
    seconds: float = Field(0.0, description="time spent warming up")

"""Typed results of the agent layer (no dicts crossing module borders)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from prompts.messages import Message, Role
from retrieval.types import SearchFilters, Video

__all__ = [
    "Answer",
    "AnswerEvent",
    "Candidate",
    "FeedbackEvent",
    "FeedbackKind",
    "Message",
    "Recommendation",
    "Role",
    "TurnUnderstanding",
]

FeedbackKind = Literal["like", "dislike", "watched", "rating", "impression"]


@dataclass(frozen=True)
class TurnUnderstanding:
    """What the agent understood of the latest turn, in the context of the conversation."""

    search_text: str
    wants_recommendations: bool = True
    filters: SearchFilters = field(default_factory=SearchFilters)
    liked: tuple[str, ...] = ()  # titles or topics the user likes
    disliked: tuple[str, ...] = ()
    seen: tuple[str, ...] = ()
    reply_hint: str = ""  # for chit-chat turns
    include_seen: bool = False  # the user asks for already watched / disliked items again
    source: str = "model"  # who read the turn: "model" (checked by the parser) or "parser"


@dataclass(frozen=True)
class FeedbackEvent:
    """One recorded interaction of a user with a video (``value``: watched fraction or rating)."""

    user_id: str
    video_id: str
    kind: FeedbackKind
    value: float | None
    timestamp: datetime  # UTC
    session_id: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A video under consideration with the signals that scored it."""

    video: Video
    score: float
    content_score: float = 0.0
    profile_score: float = 0.0
    collab_score: float = 0.0
    evidence_chunk_id: str | None = None
    evidence_text: str = ""
    evidence_start: float | None = None
    evidence_end: float | None = None
    # the candidate's rank in each source that found it ("search", "similar", "collab")
    source_ranks: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    # the blend's other parts for this video: each collaborative signal's z-score ("collab",
    # "recent", "session", "popular", "next") and each taken signal's 0..1 score ("conversations",
    # "requests"); absent where the video has none (features of the learned stage)
    signals: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Recommendation:
    """One ranked pick: the video, why, and the moment that earns it."""

    video: Video
    score: float
    reason: str
    evidence_quote: str
    evidence_start: float  # seconds
    evidence_end: float
    evidence_chunk_id: str
    rank: int

    @property
    def timestamp(self) -> str:
        s = int(self.evidence_start)
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"

    @property
    def play_url(self) -> str | None:
        """Source url (or local media path) at the evidence offset, if the video has one."""
        target = self.video.url or self.video.media_path
        if not target:
            return None
        sep = "&" if "?" in target else "?"
        if self.video.url:
            return f"{target}{sep}t={int(self.evidence_start)}"
        return f"{target}#t={int(self.evidence_start)}"


@dataclass(frozen=True)
class Answer:
    """A whole reply to one turn."""

    text: str
    recommendations: list[Recommendation]
    understanding: TurnUnderstanding | None = None
    clarifying_question: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds


@dataclass(frozen=True)
class AnswerEvent:
    """One piece of a streamed reply: ``understanding``, each card as ``recommendation`` (with
    its grounded reason), ``text`` deltas, a ``reason`` for each card whose reason the model
    improved (the same rank, a new reason), then a final ``done``."""

    kind: Literal["understanding", "text", "recommendation", "reason", "done", "error"]
    text: str = ""
    recommendation: Recommendation | None = None
    answer: Answer | None = None
    understanding: TurnUnderstanding | None = None  # on the "understanding" event

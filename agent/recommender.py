"""The ``Recommender`` facade: the one object every surface (CLI, UI, API, MCP, eval) talks to.

Surfaces stay thin: a CLI command, a Gradio callback or an API route is a few lines over these
methods. Heavy parts (models, stores) load lazily on first use.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from agent.settings import Settings
from agent.types import Answer, AnswerEvent, FeedbackKind, Message
from retrieval.types import IngestProgress, IngestReport, SearchFilters, Transcript, VideoHit

log = logging.getLogger(__name__)

Conversation = Sequence[Message] | str


class Recommender:
    """Conversation + user history -> ranked videos with grounded reasons."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()

    # --- asking -------------------------------------------------------------------------------
    def recommend(
        self,
        conversation: Conversation,
        user_id: str,
        k: int = 5,
        filters: SearchFilters | None = None,
    ) -> Answer:
        """Answer the latest user turn with up to ``k`` recommendations."""
        raise NotImplementedError

    def stream(
        self,
        conversation: Conversation,
        user_id: str,
        k: int = 5,
        filters: SearchFilters | None = None,
    ) -> Iterator[AnswerEvent]:
        """Like ``recommend`` but lazily yields text deltas and items, then a ``done`` event."""
        raise NotImplementedError

    def search(
        self, query: str, filters: SearchFilters | None = None, k: int = 10
    ) -> list[VideoHit]:
        raise NotImplementedError

    def transcribe(self, audio: str | Path) -> Transcript:
        """Speech to text with the same Whisper the ingest uses (loaded once)."""
        raise NotImplementedError

    # --- feedback and users ----------------------------------------------------------------------
    def feedback(
        self, user_id: str, video_id: str, kind: FeedbackKind, value: float | None = None
    ) -> None:
        """Record like / dislike / watched(fraction) / rating; it shapes the very next turn."""
        raise NotImplementedError

    def export_user(self, user_id: str) -> dict[str, object]:
        """Everything held about a user, as JSON-ready data."""
        raise NotImplementedError

    def forget_user(self, user_id: str) -> None:
        """Delete everything held about a user from every store."""
        raise NotImplementedError

    # --- library -----------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path],
        manifest: str | Path | None = None,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        raise NotImplementedError

    def remove_video(self, video_id: str) -> None:
        raise NotImplementedError

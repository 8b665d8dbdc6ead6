"""The ``Recommender`` facade: the one object every surface (CLI, UI, API, MCP, eval) talks to.

Surfaces stay thin: a CLI command, a Gradio callback or an API route is a few lines over these
methods. Heavy parts (models, stores) load lazily on first use.

One turn runs these stages (each timed in ``Answer.timings``):

``understand`` (LLM, schema-constrained) -> ``retrieve`` (hybrid search + similar-to-liked +
profile vector) -> ``rank`` (personalised score, exclusions, filters) -> ``rerank`` (optional LLM
listwise rerank of the top N) -> ``reply`` (streamed lead-in) -> ``explain`` (a grounded reason
per pick). ``stream`` yields the understanding, the reply's text deltas as the LLM produces them,
each recommendation as soon as its reason is ready, then ``done`` with the whole ``Answer``.

The object is safe to share between worker threads: LLM calls are serialised by one lock (the
embedded model is not re-entrant), the SQL store serialises its own writes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from agent import privacy
from agent.coldstart import cold_start_candidates
from agent.collab import Collaborative, collab_of
from agent.conversation import (
    Conversation,
    last_user,
    normalise_conversation,
    quote_untrusted,
    render_conversation,
    user_texts,
)
from agent.explain import Explainer
from agent.llm.base import LLM, Completion
from agent.profile import ProfileWeights, UserProfile, build_profile
from agent.query import turn_query
from agent.ranking import CollabScorer, Ranker, TitleIndex
from agent.relay import Relay
from agent.rerank import Reranker
from agent.settings import Settings
from agent.types import (
    Answer,
    AnswerEvent,
    Candidate,
    FeedbackEvent,
    FeedbackKind,
    Message,
    Recommendation,
    TurnUnderstanding,
)
from agent.understand import Understander, content_words, merge_filters, search_text_of
from agent.users import UserStore, validate_feedback
from prompts.loader import load_prompt
from retrieval.errors import InvalidInputError, NotFoundError, VidrecError
from retrieval.library import Library
from retrieval.types import IngestProgress, IngestReport, SearchFilters, Transcript, VideoHit

log = logging.getLogger(__name__)

__all__ = ["Conversation", "RankedTurn", "Recommender"]

MAX_K = 50
PROFILE_EVENTS = 500  # the most recent events that shape the profile
TITLE_CACHE_S = 30.0
REPLY_MAX_TOKENS = 60
CHAT_MAX_TOKENS = 80
CLARIFYING_QUESTION = (
    "What are you in the mood for? Tell me a topic, a speaker you like, or how much time you have."
)


@dataclass(frozen=True)
class RankedTurn:
    """What ``Recommender.rank`` returns: the understanding and the ranked candidates."""

    understanding: TurnUnderstanding
    candidates: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)


_LINK = re.compile(
    r"(?:(?:https?://|www\.)\S*|\S+\.(?:com|org|net|io|be)/\S*)[ \t]*", re.IGNORECASE
)


def without_links(pieces: Iterator[str]) -> Iterator[str]:
    """Pass streamed text on word by word, dropping links: a small model invents URLs, and the
    only links shown are the picks' own."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        cut = max(buffer.rfind(" "), buffer.rfind("\n"))
        if cut < 0:
            continue
        ready, buffer = buffer[: cut + 1], buffer[cut + 1 :]
        cleaned = _LINK.sub("", ready)
        if cleaned:
            yield cleaned
    if buffer:
        cleaned = _LINK.sub("", buffer)
        if cleaned:
            yield cleaned


class _LockedLLM:
    """Serialises every call to one LLM across threads (a stream holds the lock until it ends).

    The lock is re-entrant and so thread-owned: a stream must be stepped on one thread, which
    ``Recommender.stream`` guarantees by running the turn on its own (:mod:`agent.relay`).
    """

    def __init__(self, llm: LLM, lock: threading.RLock) -> None:
        self.inner = llm
        self._lock = lock
        self.backend = llm.backend
        self.model = llm.model

    def complete(self, messages: Sequence[Message], **kwargs: Any) -> Completion:
        with self._lock:
            return self.inner.complete(messages, **kwargs)

    def stream(self, messages: Sequence[Message], **kwargs: Any) -> Iterator[str]:
        with self._lock:
            yield from self.inner.stream(messages, **kwargs)


class Recommender:
    """Conversation + user history -> ranked videos with grounded reasons.

    Args:
        settings: the settings (default: ``Settings()``, i.e. env vars and ``vidrec.toml``).
        library: the retrieval facade (default: ``Library(settings)``, built on first use).
        llm: the language model (default: ``create_llm(settings.llm, ...)``, loaded on first use).
        users: the user store (default: ``UserStore(settings.sql_url)``).
        collab: the collaborative scorer, when one is fitted (``collab_score`` is 0 without).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        library: Library | None = None,
        llm: LLM | None = None,
        users: UserStore | None = None,
        collab: CollabScorer | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._library = library
        self._llm = _LockedLLM(llm, threading.RLock()) if llm is not None else None
        self._users = users
        # collab (agent/collab.py): by default the newest model `vidrec train` saved (lazy; NaN
        # scores, i.e. no signal, until one exists)
        self.collab = (
            collab
            if collab is not None
            else Collaborative(self.settings.data_dir, self.settings.agent.collab)
        )
        self._build_lock = threading.Lock()
        self._titles: TitleIndex | None = None
        self._titles_at = 0.0
        self.forget_hooks: list[Callable[[str], None]] = []  # other stores holding user data
        # collab (agent/privacy.py): forgetting also drops the user from the collaborative model
        # versions and the caches, compacts SQLite and checks that no trace is left
        self.forget_hooks.append(
            privacy.forget_hook(
                lambda: self.users_store, lambda: collab_of(self.collab), self.settings.cache_dir
            )
        )

    # --- lazily built parts -------------------------------------------------------------------
    @property
    def library(self) -> Library:
        if self._library is None:
            with self._build_lock:
                if self._library is None:
                    self._library = Library(self.settings)
        return self._library

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            with self._build_lock:
                if self._llm is None:
                    from agent.llm.factory import create_llm

                    self._llm = _LockedLLM(
                        create_llm(self.settings.llm, self.settings.models_dir), threading.RLock()
                    )
        return self._llm

    @property
    def users_store(self) -> UserStore:
        if self._users is None:
            with self._build_lock:
                if self._users is None:
                    if self.settings.sql_url.startswith("sqlite"):
                        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
                    self._users = UserStore(self.settings.sql_url)
        return self._users

    def title_index(self, *, refresh: bool = False) -> TitleIndex:
        """Titles of the library for resolving what users name (cached briefly)."""
        now = time.monotonic()
        if refresh or self._titles is None or now - self._titles_at > TITLE_CACHE_S:
            self._titles = TitleIndex(self.library.videos())
            self._titles_at = now
        return self._titles

    def close(self) -> None:
        if self._users is not None:
            self._users.close()
        inner = getattr(self._llm, "inner", None)
        close = getattr(inner, "close", None)
        if callable(close):
            close()
        lib_close = getattr(self._library, "close", None)
        if callable(lib_close):
            lib_close()

    # --- asking -------------------------------------------------------------------------------
    def recommend(
        self,
        conversation: Conversation,
        user_id: str,
        k: int = 5,
        filters: SearchFilters | None = None,
    ) -> Answer:
        """Answer the latest user turn with up to ``k`` recommendations.

        Raises:
            InvalidInputError: empty or malformed conversation, bad user id or ``k``.
            NotReadyError / BackendUnavailableError: no index yet, model cannot load.
        """
        answer: Answer | None = None
        for event in self._turn(conversation, user_id, k, filters):
            if event.kind == "done":
                answer = event.answer
        assert answer is not None
        return answer

    def stream(
        self,
        conversation: Conversation,
        user_id: str,
        k: int = 5,
        filters: SearchFilters | None = None,
    ) -> Relay[AnswerEvent]:
        """Like ``recommend`` but yields events as they happen: ``understanding``, then ``text``
        deltas as the LLM writes them and ``recommendation`` items as their reasons are ready,
        then ``done`` carrying the whole ``Answer``. Input errors raise at once; a failure later
        in the turn is yielded as one ``error`` event (its ``text`` is the readable message) that
        ends the stream.

        The turn runs on its own thread from this call on (:class:`agent.relay.Relay`: the LLM
        lock it holds across tokens is taken and released there), so the events may be consumed
        from any thread, one step at a time, e.g. by a Gradio generator or an async server.
        ``close()`` (or dropping the iterator) stops the turn at its next event.
        """
        messages, user_id, k = self._check(conversation, user_id, k)
        return Relay(lambda: self._guarded(messages, user_id, k, filters), name="vidrec-turn")

    def _guarded(
        self, messages: list[Message], user_id: str, k: int, filters: SearchFilters | None
    ) -> Iterator[AnswerEvent]:
        try:
            yield from self._turn(messages, user_id, k, filters)
        except VidrecError as exc:
            log.warning("turn failed for %s: %s", user_id, exc)
            yield AnswerEvent(kind="error", text=str(exc))

    def _check(
        self, conversation: Conversation, user_id: str, k: int
    ) -> tuple[list[Message], str, int]:
        messages = normalise_conversation(conversation)
        if not isinstance(user_id, str) or not user_id.strip():
            raise InvalidInputError(
                "A user id is required",
                expected="a non-empty user id",
                got=repr(user_id),
                hint="Pass --user NAME (CLI) or user_id (API)",
            )
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidInputError(
                "k is out of range",
                expected=f"a whole number of recommendations from 1 to {MAX_K}",
                got=repr(k),
                hint="Ask for e.g. k=5",
            )
        return messages, user_id.strip(), k

    def _turn(
        self,
        conversation: Conversation | list[Message],
        user_id: str,
        k: int,
        filters: SearchFilters | None,
    ) -> Iterator[AnswerEvent]:
        messages, user_id, k = self._check(conversation, user_id, k)
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        understanding = Understander(self.llm).understand(messages)
        timings["understand"] = time.perf_counter() - clock
        yield AnswerEvent(kind="understanding", understanding=understanding)

        history = self.users_store.history(user_id)
        new_user = not any(e.kind != "impression" for e in history)
        vague = not content_words(understanding.search_text) and not understanding.liked

        if not understanding.wants_recommendations:
            text_parts: list[str] = []
            clock = time.perf_counter()
            for piece in self._chat_reply(messages):
                text_parts.append(piece)
                yield AnswerEvent(kind="text", text=piece)
            timings["reply"] = time.perf_counter() - clock
            answer = Answer(
                text="".join(text_parts).strip(),
                recommendations=[],
                understanding=understanding,
                clarifying_question=CLARIFYING_QUESTION if new_user else None,
                timings=timings,
            )
            self._store_turn(user_id, messages, answer)
            yield AnswerEvent(kind="done", answer=answer)
            return

        candidates = self._ranked(
            messages,
            understanding,
            filters,
            history,
            timings,
            rerank=self.settings.agent.rerank,
            k=k,
        )
        if not candidates:
            question = CLARIFYING_QUESTION if new_user and vague else None
            text = (
                "Tell me a little more about what you would like to watch."
                if question
                else "I found nothing in the library that fits this request"
                + (" and its filters." if understanding.filters != SearchFilters() else ".")
            )
            yield AnswerEvent(kind="text", text=text)
            answer = Answer(
                text=text,
                recommendations=[],
                understanding=understanding,
                clarifying_question=question,
                timings=timings,
            )
            self._store_turn(user_id, messages, answer)
            yield AnswerEvent(kind="done", answer=answer)
            return

        clock = time.perf_counter()
        text_parts = []
        shown = candidates[:k]
        for piece in self._reply(messages, understanding, len(shown)):
            text_parts.append(piece)
            yield AnswerEvent(kind="text", text=piece)
        timings["reply"] = time.perf_counter() - clock

        clock = time.perf_counter()
        explainer = Explainer(self.library, self.llm, use_llm=self.settings.agent.explain)
        request = self._request_text(messages, understanding)
        titles = self.title_index().titles()
        recommendations: list[Recommendation] = []
        for candidate in candidates:
            if len(recommendations) >= k:
                break
            rec = explainer.explain(candidate, request, len(recommendations) + 1, titles)
            if rec is None:
                continue
            recommendations.append(rec)
            yield AnswerEvent(kind="recommendation", recommendation=rec)
        timings["explain"] = time.perf_counter() - clock

        answer = Answer(
            text="".join(text_parts).strip(),
            recommendations=recommendations,
            understanding=understanding,
            clarifying_question=CLARIFYING_QUESTION if new_user and vague else None,
            timings=timings,
        )
        self._store_turn(user_id, messages, answer)
        yield AnswerEvent(kind="done", answer=answer)

    def rank(
        self,
        conversation: Conversation,
        user_id: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        *,
        rerank: bool | None = None,
        understanding: TurnUnderstanding | None = None,
    ) -> RankedTurn:
        """The ranked candidates of a turn, without reply or reasons, and nothing stored.

        For evaluation, benchmarks and fast surfaces. ``rerank`` overrides
        ``settings.agent.rerank``; a given ``understanding`` skips the understanding call.
        """
        messages, user_id, k = self._check(conversation, user_id, k)
        timings: dict[str, float] = {}
        if understanding is None:
            clock = time.perf_counter()
            understanding = Understander(self.llm).understand(messages)
            timings["understand"] = time.perf_counter() - clock
        if not understanding.search_text:
            # a ranking was asked for: a turn the model read as small talk is searched as said
            understanding = replace(
                understanding,
                search_text=search_text_of(None, messages),
                wants_recommendations=True,
            )
        history = self.users_store.history(user_id)
        candidates = self._ranked(
            messages,
            understanding,
            filters,
            history,
            timings,
            rerank=self.settings.agent.rerank if rerank is None else rerank,
            k=k,
        )
        return RankedTurn(understanding, candidates[:k], timings)

    def _ranked(
        self,
        messages: Sequence[Message],
        understanding: TurnUnderstanding,
        filters: SearchFilters | None,
        history: list[FeedbackEvent],
        timings: dict[str, float],
        *,
        rerank: bool,
        k: int = 5,
    ) -> list[Candidate]:
        """Retrieve, score, and (optionally) LLM-rerank; fills ``timings``."""
        candidates, profile = self._candidates(
            understanding, filters, history, timings, user_texts(messages)
        )
        clock = time.perf_counter()
        if rerank and len(candidates) > 1:
            taste = [
                c.title for v in profile.liked[:3] if (c := self.library.get_video(v)) is not None
            ]
            reranker = Reranker(self.llm, top_n=self.settings.agent.rerank_top_n)
            candidates = reranker.rerank(
                self._request_text(messages, understanding), candidates, taste, picks=k
            )
        timings["rerank"] = time.perf_counter() - clock
        return candidates

    @staticmethod
    def _request_text(messages: Sequence[Message], understanding: TurnUnderstanding) -> str:
        latest = last_user(messages)
        if understanding.search_text and understanding.search_text not in latest:
            return f"{latest} ({understanding.search_text})"
        return latest

    def _candidates(
        self,
        understanding: TurnUnderstanding,
        filters: SearchFilters | None,
        history: list[FeedbackEvent],
        timings: dict[str, float],
        user_words: Sequence[str] = (),
    ) -> tuple[list[Candidate], UserProfile]:
        clock = time.perf_counter()
        titles = self.title_index()
        liked_ids, _ = titles.resolve_all(understanding.liked)
        disliked_ids, disliked_topics = titles.resolve_all(understanding.disliked)
        seen_ids, _ = titles.resolve_all(understanding.seen)
        now = datetime.now(UTC)
        said = [
            FeedbackEvent("", v, "like", None, now) for v in liked_ids if v not in disliked_ids
        ] + [FeedbackEvent("", v, "dislike", None, now) for v in disliked_ids]
        events = [e for e in history if e.kind != "impression"][-PROFILE_EVENTS:] + said
        reacted = list(dict.fromkeys(e.video_id for e in events))
        vectors = self.library.video_vectors(reacted) if reacted else {}
        negatives: list[np.ndarray] = [
            self.library.embed_query(t) for t in disliked_topics[:3] if content_words(t)
        ]
        cfg = self.settings.agent
        profile = build_profile(
            events,
            vectors,
            now=now,
            weights=ProfileWeights(
                half_life_days=cfg.profile_half_life_days, negative_weight=cfg.negative_weight
            ),
            extra_negatives=negatives,
        )
        if understanding.include_seen:
            exclude = frozenset(profile.disliked) - set(liked_ids)
        else:
            exclude = profile.seen | set(seen_ids) | set(liked_ids) | set(disliked_ids)
        merged = merge_filters(understanding.filters, filters)
        query = understanding.search_text if content_words(understanding.search_text) else ""
        # conversation likes first, then the strongest of the history
        seeds = list(dict.fromkeys([*liked_ids, *profile.liked]))
        timings["retrieve"] = time.perf_counter() - clock
        if not query and profile.empty:
            # collab (agent/coldstart.py): nothing known and nothing asked: popular-but-diverse
            # picks (the turn still gets the clarifying question)
            clock = time.perf_counter()
            picks = cold_start_candidates(
                self.library,
                collab_of(self.collab),
                self.users_store,
                self.settings,
                exclude=exclude,
                filters=merged,
            )
            timings["rank"] = time.perf_counter() - clock
            return picks, profile
        ranker = Ranker(self.library, cfg, self.collab)
        candidates = ranker.rank(
            turn_query(user_words, query) if query else "",  # the user's words count too
            merged,
            profile,
            exclude=frozenset(exclude),
            liked=seeds,
            history=history,
            timings=timings,
        )
        return candidates, profile

    def _reply(
        self, messages: Sequence[Message], understanding: TurnUnderstanding, count: int
    ) -> Iterator[str]:
        prompt = load_prompt("reply")
        rendered = prompt.render(
            conversation=render_conversation(messages),
            count=count,
            topic=quote_untrusted(understanding.search_text, max_chars=200),
        )
        yield from without_links(
            self.llm.stream(rendered, max_tokens=REPLY_MAX_TOKENS, temperature=0.0, tag=prompt.tag)
        )

    def _chat_reply(self, messages: Sequence[Message]) -> Iterator[str]:
        prompt = load_prompt("chat")
        rendered = prompt.render(conversation=render_conversation(messages))
        yield from without_links(
            self.llm.stream(rendered, max_tokens=CHAT_MAX_TOKENS, temperature=0.0, tag=prompt.tag)
        )

    def _store_turn(self, user_id: str, messages: Sequence[Message], answer: Answer) -> None:
        """Keep the turn in the user's session and record the picks as impressions."""
        store = self.users_store
        session_id = store.latest_session(user_id) if len(user_texts(messages)) > 1 else None
        if session_id is None:
            session_id = store.start_session(user_id)
        ids = [r.video.id for r in answer.recommendations]
        store.add_turn(session_id, [messages[-1]], answer.text, ids)
        if ids:
            store.record_many(
                user_id, [(v, "impression", None) for v in ids], session_id=session_id
            )

    # --- retrieval passthrough ----------------------------------------------------------------
    def search(
        self, query: str, filters: SearchFilters | None = None, k: int = 10
    ) -> list[VideoHit]:
        return self.library.search(query, filters, k=k)

    def transcribe(self, audio: str | Path) -> Transcript:
        """Speech to text with the same Whisper the ingest uses (loaded once)."""
        return self.library.transcribe(audio)

    # --- feedback and users ----------------------------------------------------------------------
    def feedback(
        self, user_id: str, video_id: str, kind: FeedbackKind, value: float | None = None
    ) -> None:
        """Record like / dislike / watched(fraction) / rating; it shapes the very next turn.

        Raises:
            InvalidInputError: unknown kind, a fraction outside [0, 1], a rating outside [0, 5].
            NotFoundError: no video with that id in the library.
        """
        validate_feedback(kind, value)
        if self.library.get_video(video_id) is None:
            raise NotFoundError(
                "No such video in the library",
                expected="the id of an indexed video",
                got=repr(video_id),
                hint="List the ids with `vidrec videos`",
            )
        # collab (agent/collab.py): a reaction during a conversation joins its session, which
        # the model's session co-occurrence and session popularity learn from
        window = timedelta(minutes=self.settings.agent.collab.session_window_minutes)
        session_id = self.users_store.current_session(user_id, window)
        self.users_store.record(user_id, video_id, kind, value, session_id=session_id)

    def history(self, user_id: str) -> list[FeedbackEvent]:
        """The user's feedback events, oldest first ([] for an unknown user)."""
        return self.users_store.history(user_id)

    def users(self) -> list[str]:
        return self.users_store.users()

    def export_user(self, user_id: str) -> dict[str, object]:
        """Everything held about a user, as JSON-ready data (NotFoundError if nothing is held)."""
        # collab (agent/privacy.py): the SQL data plus the user's factors in the model versions
        return privacy.export_user(user_id, self.users_store, collab_of(self.collab))

    def forget_user(self, user_id: str) -> None:
        """Delete everything held about a user from every store (a no-op if nothing is held)."""
        self.users_store.forget(user_id)
        for hook in self.forget_hooks:
            hook(user_id)

    # --- library -----------------------------------------------------------------------------
    def ingest(
        self,
        paths: Sequence[str | Path],
        manifest: str | Path | None = None,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        report = self.library.ingest(paths, manifest=manifest, progress=progress)
        self._titles = None
        return report

    def remove_video(self, video_id: str) -> None:
        self.library.remove(video_id)
        self._titles = None

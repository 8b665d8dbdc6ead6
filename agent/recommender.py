"""The ``Recommender`` facade: the one object every surface (CLI, UI, API, MCP, eval) talks to.

Surfaces stay thin: a CLI command, a Gradio callback or an API route is a few lines over these
methods. Heavy parts (models, stores) load lazily on first use.

One turn runs these stages over one :class:`agent.turn.TurnState`, each timed in
``Answer.timings``:

``understand`` (the deterministic parser; the LLM only for what it cannot read, see
``agent.understand``) -> ``retrieve`` (hybrid search + similar-to-liked + profile vector) ->
``rank`` (personalised score, exclusions, filters) -> ``rerank`` (optional LLM listwise rerank) ->
``cards`` (each pick with a grounded reason built from its evidence, streamed at once;
``first_card`` is the time the first one was ready) -> ``explain`` (one short LLM request per top
card, sent together; a sentence replaces a grounded one only if it passes the checks, streamed as
a ``reason`` event the moment it does). ``stream`` yields the understanding, each card, a short line with the limits applied
(only when there are any), the improved reasons, then ``done`` with the whole ``Answer``.

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
from agent.collab import Collaborative, CollabScorer
from agent.conversation import (
    Conversation,
    last_user,
    normalise_conversation,
    render_conversation,
    user_texts,
)
from agent.explain import Explainer, ReasonContext
from agent.feedback import is_positive
from agent.llm.base import LLM, Completion
from agent.mentions import Mention, conversation_mentions, seeds_of, turn_feedback
from agent.profile import ProfileWeights, UserProfile, build_profile
from agent.query import turn_query
from agent.ranking import Ranker, TitleIndex
from agent.references import DescribedVideos, resolve_by_search
from agent.relay import Relay
from agent.rerank import Reranker
from agent.settings import Settings
from agent.text import content_words
from agent.turn import NOTHING_FOUND, TELL_ME_MORE, TurnState, lead_line
from agent.types import (
    Answer,
    AnswerEvent,
    Candidate,
    FeedbackEvent,
    FeedbackKind,
    Message,
    TurnUnderstanding,
)
from agent.understand import Understander, merge_filters, search_text_of
from agent.users import UserStore, validate_feedback
from prompts.loader import load_prompt
from retrieval.errors import InvalidInputError, NotFoundError, VidrecError
from retrieval.guard import IngestGuard
from retrieval.library import Library
from retrieval.types import (
    IngestProgress,
    IngestReport,
    SearchFilters,
    Transcript,
    Video,
    VideoHit,
)

log = logging.getLogger(__name__)

__all__ = ["Conversation", "RankedTurn", "Recommender"]

MAX_K = 50
PROFILE_EVENTS = 500  # the most recent events that shape the profile
LIKED_SIMILARITY = 0.5  # a pick is "close to X, which you liked" from this cosine on
CHAT_MAX_TOKENS = 80
CLARIFYING_QUESTION = (
    "What are you in the mood for? Tell me a topic, a speaker you like, or how much time you have."
)


@dataclass(frozen=True)
class _Pool:
    """The ranked candidates of a turn, the profile that scored them, and the videos the user
    said they like (understood or recorded; a reason may cite them as "which you liked")."""

    candidates: list[Candidate]
    profile: UserProfile
    liked: list[str]
    references: dict[str, str] = field(default_factory=dict)  # what the turn named -> video id


@dataclass(frozen=True)
class RankedTurn:
    """What ``Recommender.rank`` returns: the understanding and the ranked candidates."""

    understanding: TurnUnderstanding
    candidates: list[Candidate]
    timings: dict[str, float] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # liked/disliked/seen -> video id


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
        # collab (agent/collab): by default the newest model `vidrec train` saved (lazy; NaN
        # scores, i.e. no signal, until one exists)
        self.collab: CollabScorer = (
            collab
            if collab is not None
            else Collaborative(self.settings.data_dir, self.settings.agent.collab)
        )
        self._build_lock = threading.Lock()
        self._titles: TitleIndex | None = None
        self._described: DescribedVideos | None = None
        self._videos: list[Video] = []
        self._titles_version = -1
        self.forget_hooks: list[Callable[[str], None]] = []  # other stores holding user data
        # collab (agent/privacy.py): forgetting also drops the user from the collaborative model
        # versions and the caches, compacts SQLite and checks that no trace is left
        self.forget_hooks.append(
            privacy.forget_hook(
                lambda: self.users_store, lambda: self.collab, self.settings.cache_dir
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
        """Titles of the library for resolving what users name, rebuilt when the catalogue
        changed (its version, bumped by every change, also by another process's ingest)."""
        version = self.library.catalogue.version()
        if refresh or self._titles is None or version != self._titles_version:
            self._videos = self.library.videos()
            self._titles = TitleIndex(self._videos)
            self._described = None  # built when first needed
            self._titles_version = version
        return self._titles

    def references(self) -> DescribedVideos:
        """The library's videos for resolving described mentions (built with the titles)."""
        self.title_index()
        if self._described is None:
            self._described = DescribedVideos(self._videos)
        return self._described

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
        state = TurnState(messages, user_id, k, filters)
        with state.stage("understand"):
            state.understanding = self._understander().understand(messages)
        yield AnswerEvent(kind="understanding", understanding=state.understanding)
        state.history = self.users_store.history(user_id)
        state.shown = self._shown(user_id, messages, state.history)
        if state.understanding.wants_recommendations:
            yield from self._recommend(state)
        else:
            yield from self._chat(state)
        answer = state.answer()
        self._store_turn(user_id, messages, answer)
        yield AnswerEvent(kind="done", answer=answer)

    def _recommend(self, state: TurnState) -> Iterator[AnswerEvent]:
        """The stages after ``understand`` of a recommending turn (see :mod:`agent.turn`)."""
        u = state.understanding
        vague = not content_words(u.search_text) and not u.liked
        pool = self._ranked(
            state.messages,
            u,
            state.filters,
            state.history,
            state.timings,
            rerank=self.settings.agent.rerank,
            k=state.k,
            shown=state.shown,
        )
        if state.new_user and vague:
            state.clarifying_question = CLARIFYING_QUESTION
        if not pool.candidates:
            state.text = (
                TELL_ME_MORE
                if state.clarifying_question
                else NOTHING_FOUND + (" and its filters." if u.filters != SearchFilters() else ".")
            )
            yield AnswerEvent(kind="text", text=state.text)
            return
        explainer = Explainer(
            self.library,
            self.llm,
            use_llm=self.settings.agent.explain,
            top=self.settings.agent.explain_top,
        )
        with state.stage("cards"):
            state.context = self._reason_context(state, pool)
            for candidate in pool.candidates:
                if len(state.cards) >= state.k:
                    break
                card = explainer.explain(candidate, state.context, len(state.cards) + 1)
                if card is None:
                    continue
                state.cards.append(card)
                state.mark("first_card")
                yield AnswerEvent(kind="recommendation", recommendation=card[0])
        state.text = lead_line(u, len(state.cards), state.k)
        if state.text:
            yield AnswerEvent(kind="text", text=state.text)
        with state.stage("explain"):  # each card's reason the moment it passes the check
            for rec in explainer.refine(state.cards, state.context, self.title_index().titles()):
                i = rec.rank - 1
                state.cards[i] = (rec, state.cards[i][1])
                yield AnswerEvent(kind="reason", recommendation=rec)

    def _chat(self, state: TurnState) -> Iterator[AnswerEvent]:
        """Small talk: a short streamed reply (and a question for a new user)."""
        parts: list[str] = []
        with state.stage("chat"):
            for piece in self._chat_reply(state.messages):
                parts.append(piece)
                yield AnswerEvent(kind="text", text=piece)
        state.text = "".join(parts)
        state.clarifying_question = CLARIFYING_QUESTION if state.new_user else None

    def _understander(self) -> Understander:
        cfg = self.settings.agent
        # the parser alone needs no model: do not load one for it
        llm = None if cfg.understand == "parser" else self.llm
        spotter = self.title_index().spotter() if llm is not None else None
        return Understander(
            llm,
            mode=cfg.understand,
            lengths=cfg.lengths,
            names_title=(lambda text: bool(spotter.find(text))) if spotter else None,
        )

    def _shown(
        self, user_id: str, messages: Sequence[Message], history: Sequence[FeedbackEvent]
    ) -> list[str]:
        """The videos this conversation showed before (its session's impressions), newest first."""
        if len(user_texts(messages)) < 2:
            return []
        session = self.users_store.latest_session(user_id)
        if session is None:
            return []
        shown = [e.video_id for e in history if e.kind == "impression" and e.session_id == session]
        return list(dict.fromkeys(reversed(shown)))

    def _reason_context(self, state: TurnState, pool: _Pool) -> ReasonContext:
        """The request, the limits and, for picks the user's taste drove, the closest liked video."""
        liked = {v: video.title for v in pool.liked[:10] if (video := self.library.get_video(v))}
        closest: dict[str, str] = {}
        driven = [c.video.id for c in pool.candidates[: state.k] if c.profile_score > 0]
        if liked and driven:
            vectors = self.library.video_vectors([*liked, *driven])
            for video_id in driven:
                if video_id not in vectors:
                    continue
                scored = [(float(vectors[video_id] @ vectors[v]), v) for v in liked if v in vectors]
                if scored and max(scored)[0] >= LIKED_SIMILARITY:
                    closest[video_id] = max(scored)[1]
        return ReasonContext(
            request=self._request_text(state.messages, state.understanding),
            limits=merge_filters(state.understanding.filters, state.filters),
            liked=liked,
            closest_liked=closest,
        )

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
            understanding = self._understander().understand(messages)
            timings["understand"] = time.perf_counter() - clock
        if not understanding.search_text:
            # a ranking was asked for: a turn the model read as small talk is searched as said
            understanding = replace(
                understanding,
                search_text=search_text_of(None, messages),
                wants_recommendations=True,
            )
        history = self.users_store.history(user_id)
        pool = self._ranked(
            messages,
            understanding,
            filters,
            history,
            timings,
            rerank=self.settings.agent.rerank if rerank is None else rerank,
            k=k,
            shown=self._shown(user_id, messages, history),
        )
        return RankedTurn(understanding, pool.candidates[:k], timings, pool.references)

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
        shown: Sequence[str] = (),
    ) -> _Pool:
        """Retrieve, score, and (optionally) LLM-rerank; fills ``timings``."""
        clock = time.perf_counter()
        named = conversation_mentions(messages, self.title_index().spotter())
        timings["mentions"] = time.perf_counter() - clock
        pool = self._candidates(
            understanding, filters, history, timings, shown, user_texts(messages), named
        )
        clock = time.perf_counter()
        if rerank and len(pool.candidates) > 1:
            taste = [
                c.title
                for v in pool.profile.liked[:3]
                if (c := self.library.get_video(v)) is not None
            ]
            reranker = Reranker(self.llm, top_n=self.settings.agent.rerank_top_n)
            pool = replace(
                pool,
                candidates=reranker.rerank(
                    self._request_text(messages, understanding), pool.candidates, taste, picks=k
                ),
            )
        timings["rerank"] = time.perf_counter() - clock
        return pool

    @staticmethod
    def _request_text(messages: Sequence[Message], understanding: TurnUnderstanding) -> str:
        latest = last_user(messages)
        if understanding.search_text and understanding.search_text not in latest:
            return f"{latest} ({understanding.search_text})"
        return latest

    def _resolve(
        self, mentions: Sequence[str], shown: Sequence[str], found: dict[str, str]
    ) -> tuple[list[str], list[str]]:
        """Mentions -> video ids (by title, else by description, :mod:`agent.references`) and
        the mentions that name no video (topics); ``found`` gets mention -> id."""
        ids: list[str] = []
        rest = []
        for mention in mentions:
            video_id = self.title_index().resolve(mention) or self.references().resolve(
                mention, shown
            )
            if video_id is None:
                rest.append(mention)
                continue
            found[mention] = video_id
            if video_id not in ids:
                ids.append(video_id)
        return ids, rest

    def _resolve_watched(
        self, mentions: Sequence[str], shown: Sequence[str], found: dict[str, str]
    ) -> list[str]:
        """Talks the user watched: by title or description, else by searching what they said
        happens in it (:func:`agent.references.resolve_by_search`)."""
        ids, rest = self._resolve(mentions, shown, found)
        for mention in rest:
            video_id = resolve_by_search(
                mention,
                lambda m: [h.video.id for h in self.library.search(m, k=1)],
                self._whole_text,
            )
            if video_id is not None:
                found[mention] = video_id
                ids.append(video_id)
        return ids

    def _whole_text(self, video_id: str) -> str:
        video = self.library.get_video(video_id)
        if video is None:
            return ""
        spoken = " ".join(c.text for c in self.library.chunks(video_id))
        return " ".join((video.title, video.speaker or "", video.description, *video.tags, spoken))

    def _candidates(
        self,
        understanding: TurnUnderstanding,
        filters: SearchFilters | None,
        history: list[FeedbackEvent],
        timings: dict[str, float],
        shown: Sequence[str] = (),
        user_words: Sequence[str] = (),
        named: Sequence[Mention] = (),
    ) -> _Pool:
        """The turn's candidates. ``named``: the titles the conversation named
        (:mod:`agent.mentions`); with what the turn understood they are the conversation's own
        feedback: likes seed the collaborative model and similar-title retrieval (newest
        first), dislikes count against their neighbours, and none of them is answered but those
        the latest turn asks for by name (``Mention.asked``)."""
        clock = time.perf_counter()
        references: dict[str, str] = {}
        liked_ids, _ = self._resolve(understanding.liked, shown, references)
        disliked_ids, disliked_topics = self._resolve(understanding.disliked, shown, references)
        seen_ids = self._resolve_watched(understanding.seen, shown, references)
        now = datetime.now(UTC)
        said = turn_feedback(named, liked_ids, disliked_ids, history, now)
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
            # a title the latest turn asks for by name is answered, unless the turn's understanding
            # or the user's own feedback says they know it
            asked = {m.video_id for m in named if m.asked} - {
                *liked_ids,
                *disliked_ids,
                *seen_ids,
                *(e.video_id for e in history if e.kind != "impression"),
            }
            exclude = (profile.seen | set(seen_ids) | {e.video_id for e in said}) - asked
        merged = merge_filters(understanding.filters, filters)
        query = understanding.search_text if content_words(understanding.search_text) else ""
        # this turn's likes first, then the conversation's newest first, then the history's
        seeds = list(dict.fromkeys([*liked_ids, *seeds_of(said), *profile.liked]))
        # a title merely named (or one the assistant named) seeds the ranking, but no reason may
        # call it liked
        named_only = (
            {m.video_id for m in named}
            - set(liked_ids)
            - {e.video_id for e in history if is_positive(e)}
        )
        liked = [v for v in seeds if v not in named_only]
        timings["retrieve"] = time.perf_counter() - clock
        if not query and profile.empty:
            # collab (agent/coldstart.py): nothing known and nothing asked: popular-but-diverse
            # picks (the turn still gets the clarifying question)
            clock = time.perf_counter()
            picks = cold_start_candidates(
                self.library,
                self.collab,
                self.users_store,
                self.settings,
                exclude=exclude,
                filters=merged,
            )
            timings["rank"] = time.perf_counter() - clock
            return _Pool(picks, profile, liked, references)
        ranker = Ranker(self.library, cfg, self.collab)
        candidates = ranker.rank(
            # the user's words count too, but not those describing a talk they watched
            turn_query(
                user_words, query, watched=[m for m in understanding.seen if m in references]
            )
            if query
            else "",
            merged,
            profile,
            exclude=frozenset(exclude),
            liked=seeds,
            history=[*history, *said],  # the conversation's dislikes count against neighbours
            timings=timings,
        )
        return _Pool(candidates, profile, liked, references)

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
        """Speech to text with the same Whisper the ingest uses (loaded once); a recording longer
        than ``api.max_audio_seconds`` is refused (``AudioTooLongError``) before it is decoded."""
        return self.library.transcribe(audio, max_seconds=self.settings.api.max_audio_seconds)

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
        # collab (agent/collab): a reaction during a conversation joins its session, which
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
        return privacy.export_user(user_id, self.users_store, self.collab)

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
        guard: IngestGuard | None = None,
    ) -> IngestReport:
        report = self.library.ingest(paths, manifest=manifest, progress=progress, guard=guard)
        self._titles = None
        return report

    def remove_video(self, video_id: str) -> None:
        self.library.remove(video_id)
        self._titles = None

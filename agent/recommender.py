"""The ``Recommender`` facade: the one object every surface (CLI, UI, API, MCP, eval) talks to.

Surfaces stay thin: a CLI command, a Gradio callback or an API route is a few lines over these
methods. Heavy parts (models, stores) load lazily on first use.

One turn runs the stages :mod:`agent.turn` describes (understand, retrieve, rank, rerank, cards,
explain) in the order :mod:`agent.turn_flow` gives them, each timed in ``Answer.timings``;
``stream`` yields them as events.

The object is safe to share between worker threads: LLM calls are serialised by one lock (the
embedded model is not re-entrant), the SQL store serialises its own writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from agent import privacy
from agent.catalogue import CatalogueViews
from agent.chat import without_links
from agent.collab import Collaborative, CollabScorer
from agent.conversation import Conversation, check_request
from agent.feedback_input import validate_feedback
from agent.learn.reading import Vocabulary
from agent.learn.stage import RankingModel
from agent.learn.store import RankerStore, ranker_root
from agent.llm.base import LLM
from agent.llm.locked import LockedLLM
from agent.pool import CandidatePool, RankedTurn, Stage
from agent.references import DescribedVideos
from agent.relay import Relay
from agent.settings import Settings
from agent.titles import TitleIndex
from agent.turn import CLARIFYING_QUESTION, TurnState
from agent.turn_flow import run_turn
from agent.types import (
    Answer,
    AnswerEvent,
    FeedbackEvent,
    FeedbackKind,
    Message,
    TurnUnderstanding,
)
from agent.understand import Understander
from agent.users import UserStore
from retrieval.errors import NotFoundError, NotReadyError, VidrecError
from retrieval.guard import IngestGuard
from retrieval.lazy import built_once
from retrieval.library import Library, query_embedder_id
from retrieval.types import (
    IngestProgress,
    IngestReport,
    SearchFilters,
    Transcript,
    VideoHit,
)

log = logging.getLogger(__name__)

# CLARIFYING_QUESTION and without_links are imported from here by callers of the facade
__all__ = ["CLARIFYING_QUESTION", "Conversation", "RankedTurn", "Recommender", "without_links"]


class Recommender:
    """Conversation + user history -> ranked videos with grounded reasons.

    Args:
        settings: the settings (default: ``Settings()``, i.e. env vars and ``vidrec.toml``).
        library: the retrieval facade (default: ``Library(settings)``, built on first use).
        llm: the language model (default: ``create_llm(settings.llm, ...)``, loaded on first use).
        users: the user store (default: ``UserStore(settings.sql_url)``).
        collab: the collaborative scorer, when one is fitted (``collab_score`` is 0 without).
        learned: the learned ranker (default: the newest version ``vidrec train`` saved under
            the data dir; the hand-tuned blend ranks until there is one).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        library: Library | None = None,
        llm: LLM | None = None,
        users: UserStore | None = None,
        collab: CollabScorer | None = None,
        learned: RankingModel | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._library = library
        self._llm = LockedLLM(llm) if llm is not None else None
        self._users = users
        # collab (agent/collab): by default the newest model `vidrec train` saved (lazy; NaN
        # scores, i.e. no signal, until one exists). A newer version (`vidrec train` in another
        # process) is loaded beside the turns, not in one (agent.versions.Loaded, background).
        agent_cfg = self.settings.agent
        self.collab: CollabScorer = (
            collab
            if collab is not None
            else Collaborative(
                self.settings.data_dir,
                agent_cfg.collab,
                request_ridge=agent_cfg.request_ridge,
                background=True,
            )
        )
        self.learned: RankingModel | None = (
            learned
            if learned is not None
            else RankerStore(
                ranker_root(self.settings.data_dir),
                agent_cfg.learned.keep_versions,
                background=True,
                embedder=query_embedder_id(self.settings.embedding),
            )
        )
        self._build_lock = threading.Lock()
        self._catalogue = CatalogueViews(lambda: self.library)
        self._pool = CandidatePool(self)  # resolve, profile, retrieve, score, rerank
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
        return built_once(self, "_library", self._build_lock, lambda: Library(self.settings))

    @property
    def llm(self) -> LLM:
        def build() -> LLM:
            from agent.llm.factory import create_llm

            return LockedLLM(create_llm(self.settings.llm, self.settings.models_dir))

        return built_once(self, "_llm", self._build_lock, build)

    @property
    def users_store(self) -> UserStore:
        def build() -> UserStore:
            if self.settings.sql_url.startswith("sqlite"):
                self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            return UserStore(self.settings.sql_url)

        return built_once(self, "_users", self._build_lock, build)

    def title_index(self, *, refresh: bool = False) -> TitleIndex:
        """Titles of the library for resolving what users name (:mod:`agent.catalogue`)."""
        return self._catalogue.titles(refresh=refresh)

    def references(self) -> DescribedVideos:
        """The library's videos for resolving described mentions (built with the titles)."""
        return self._catalogue.described()

    def vocabulary(self) -> Vocabulary:
        """The library's tags, speakers and years for reading the dialogue."""
        return self._catalogue.vocabulary()

    def warmup(self) -> dict[str, float]:
        """Load what the first turn would otherwise wait for, part by part; returns the seconds
        each took. The index and the embedder (a one-result search), the LLM when it runs in
        this process, the catalogue's titles, described videos and vocabulary, the collaborative
        model with its similar-requests map, the learned ranker. An empty library is still a
        ready server (ingest works); a part not trained yet loads when it appears."""
        seconds: dict[str, float] = {}

        def timed(name: str, load: Callable[[], object]) -> None:
            began = time.perf_counter()
            load()
            seconds[name] = time.perf_counter() - began

        timed("embedder", lambda: self.library.embed_query("warm up"))
        try:
            timed("index", lambda: self.search("warm up", k=1))
            timed("catalogue", lambda: (self.references(), self.vocabulary()))
        except NotReadyError as exc:
            log.info("library not ready yet (%s); serving anyway", exc)
        load = getattr(getattr(self.llm, "inner", self.llm), "load", None)
        if callable(load):  # an in-process model (llama.cpp); a served one has nothing to load
            timed("llm", load)
        learned = self.learned
        optional: list[tuple[str, Callable[[], object]]] = [
            ("collaborative", lambda: self.collab.prepare(self.settings.agent.request_ridge))
        ]
        if learned is not None:
            optional.append(("learned", learned.current))
        for name, part in optional:
            try:  # optional signals: a turn ranks without them, so a server is ready without them
                timed(name, part)
            except Exception as exc:
                log.warning("%s model not loaded ahead (a turn will try again): %s", name, exc)
        return seconds

    def close(self) -> None:
        if self._users is not None:
            self._users.close()
        if self._llm is not None:
            self._llm.close()
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
        messages, user_id, k = check_request(conversation, user_id, k)
        return Relay(lambda: self._guarded(messages, user_id, k, filters), name="vidrec-turn")

    def _guarded(
        self, messages: list[Message], user_id: str, k: int, filters: SearchFilters | None
    ) -> Iterator[AnswerEvent]:
        try:
            yield from self._turn(messages, user_id, k, filters)
        except VidrecError as exc:
            log.warning("turn failed for %s: %s", user_id, exc)
            yield AnswerEvent(kind="error", text=str(exc))

    def _turn(
        self,
        conversation: Conversation | list[Message],
        user_id: str,
        k: int,
        filters: SearchFilters | None,
    ) -> Iterator[AnswerEvent]:
        messages, user_id, k = check_request(conversation, user_id, k)
        yield from run_turn(self, self._pool, TurnState(messages, user_id, k, filters))

    def understander(self) -> Understander:
        """The turn's reader: the parser, with the model only where settings ask for it."""
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

    def rank(
        self,
        conversation: Conversation,
        user_id: str,
        k: int = 10,
        filters: SearchFilters | None = None,
        *,
        rerank: bool | None = None,
        understanding: TurnUnderstanding | None = None,
        stage: Stage = "auto",
        history: list[FeedbackEvent] | None = None,
    ) -> RankedTurn:
        """The ranked candidates of a turn, without reply or reasons, and nothing stored.

        For evaluation, benchmarks and fast surfaces. ``rerank`` overrides
        ``settings.agent.rerank``; a given ``understanding`` skips the understanding call.
        ``stage`` "off" ranks by the hand-tuned blend even when a learned ranker is trained;
        "rows" (training the learned ranker) returns every candidate of the learned stage's pool
        in the blend's order with its feature row, no rerank, ``k`` ignored. ``history``
        replaces the stored one (a logged turn replayed with the history it had then).
        """
        messages, user_id, k = check_request(conversation, user_id, k)
        return self._pool.rank_turn(
            messages,
            user_id,
            k,
            filters,
            rerank=self.settings.agent.rerank if rerank is None else rerank,
            understanding=understanding,
            stage=stage,
            history=history,
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
        self._catalogue.invalidate()
        return report

    def remove_video(self, video_id: str) -> None:
        self.library.remove(video_id)
        self._catalogue.invalidate()

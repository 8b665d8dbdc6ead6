"""What the agent asks of the collaborative model (:class:`CollabScorer`), and the service that
answers from the newest saved version (:class:`Collaborative`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agent.collab.blend import BlendWeights, SessionWeights, collab_weight
from agent.collab.model import CollabModel
from agent.collab.scores import VideoScores
from agent.collab.store import ModelStore, load_model, model_root
from agent.settings import CollabSettings
from agent.types import FeedbackEvent
from agent.versions import Loaded

EmbedText = Callable[[str], np.ndarray]  # a text to its unit query vector

__all__ = ["CollabScorer", "Collaborative"]

log = logging.getLogger(__name__)


class CollabScorer(Protocol):
    """Everything the ranker and the facade need from a collaborative model.

    ``history`` is the user's *current* events, ``seeds`` the video ids liked in this
    conversation (strongest first). A scorer without a model answers "no signal": NaN scores,
    no candidates, the default weight, no popularity.
    """

    def collab_scores(
        self,
        history: Sequence[FeedbackEvent],
        video_ids: Sequence[str],
        seeds: Sequence[str] = (),
    ) -> np.ndarray:
        """Standardised collaborative score per video (NaN: no signal for that video)."""
        ...

    def collab_candidates(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str], k: int
    ) -> list[str]:
        """The ``k`` videos with the best collaborative score for this user, best first."""
        ...

    def collab_signals(
        self,
        history: Sequence[FeedbackEvent],
        video_ids: Sequence[str],
        seeds: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """Each collaborative signal the user has (``agent.collab.blend.SIGNALS``), z-scored
        over the model's videos, per video (NaN: not in the model); {} without a model."""
        ...

    def collab_weight(self, profile_weight: float, default: float) -> float:
        """Weight of the collaborative score next to a profile weight of ``profile_weight``."""
        ...

    def popularity(self) -> Mapping[str, float]:
        """Users with a positive interaction per video ({} when unknown)."""
        ...

    def session_popularity(self) -> Mapping[str, float]:
        """Conversation sessions that liked each video ({} without sessions): what people take
        from conversations, beside :meth:`popularity` over every user."""
        ...

    def request_scores(
        self, text: str, embed: EmbedText, k: int, ridge: float = 0.0, embedder: str = ""
    ) -> Mapping[str, float]:
        """What people took after asking for something like the conversation ``text``
        (embedded by ``embed`` only when there are logged requests): per video, its score by
        the ridge map of the logged turns (``ridge`` above 0), else the summed cosine of the
        ``k`` most similar logged turns that took it ({} without any, or when the logged turns
        were embedded by another model than ``embedder``, the library's)."""
        ...

    def prepare(self, request_ridge: float) -> None:
        """Load the model and fit what a turn would otherwise fit first (the similar-requests
        map with ``request_ridge``): a server's warm-up. Nothing without a model."""
        ...

    def export_user(self, user_id: str) -> dict[str, list[float]]:
        """The user's stored factors per model version (for a data export)."""
        ...

    def forget_user(self, user_id: str) -> int:
        """Drop the user from every stored version; returns how many changed."""
        ...

    @property
    def model_dir(self) -> Path | None:
        """Where the model's files live (checked for traces after forgetting), if anywhere."""
        ...


class Collaborative:
    """The :class:`CollabScorer` over the newest version ``vidrec train`` saved.

    Cheap to create (nothing loads until the first call). A version saved in another process is
    picked up on the next call; the model is reloaded only when a new version appears, with its
    similar-requests map fitted (``request_ridge`` above 0) as part of the load. ``background``
    (a server's): the call that finds a new version goes on with the loaded one while the new
    one loads in a thread (:class:`agent.versions.Loaded`). Thread-safe.
    """

    def __init__(
        self,
        data_dir: Path,
        cfg: CollabSettings,
        request_ridge: float = 0.0,
        background: bool = False,
    ) -> None:
        self.cfg = cfg
        self.request_ridge = request_ridge
        self.store = ModelStore(model_root(data_dir), cfg.keep_versions)
        self._current = Loaded(
            self.store.latest, self._load, "collaborative model", background=background
        )
        self._lock = self._current.lock  # also guards the last user state below
        # the last user state scored: (model, (history, seeds), score of every model video)
        self._last: tuple[CollabModel, tuple[Any, ...], np.ndarray, dict[str, np.ndarray]] | None
        self._last = None
        self._count_cache: dict[str, tuple[CollabModel, VideoScores]] = {}

    @property
    def model_dir(self) -> Path | None:
        return self.store.root

    def _load(self, folder: Path) -> CollabModel:
        model = load_model(folder)
        if model.requests is not None:
            model.requests.prepare(self.request_ridge)  # not on the first turn that scores
        return model

    @property
    def model(self) -> CollabModel | None:
        """The newest complete version on disk (reloaded when a newer one appears)."""
        return self._current.get()

    def collab_scores(
        self,
        history: Sequence[FeedbackEvent],
        video_ids: Sequence[str],
        seeds: Sequence[str] = (),
    ) -> np.ndarray:
        model = self.model
        if model is None or not video_ids:
            return np.full(len(video_ids), np.nan)
        return model.take(self._all_scores(model, history, seeds)[0], video_ids)

    def collab_signals(
        self,
        history: Sequence[FeedbackEvent],
        video_ids: Sequence[str],
        seeds: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        model = self.model
        if model is None or not video_ids:
            return {}
        signals = self._all_scores(model, history, seeds)[1]
        return {name: model.take(values, video_ids) for name, values in signals.items()}

    def _all_scores(
        self, model: CollabModel, history: Sequence[FeedbackEvent], seeds: Sequence[str]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The blended score of every model video for this user state, and each signal's. A
        turn asks three times (the candidates, the pool's scores, its signals), so the last
        state's are kept."""
        key = (tuple(history), tuple(seeds))
        with self._lock:
            last = self._last
            if last is not None and last[0] is model and last[1] == key:
                return last[2], last[3]
        signals = model.signals(history, seeds)
        if self.cfg.use_tuned_weights:
            scores = model.blend(signals)
        else:
            scores = model.blend(signals, weights=BlendWeights(), session_weights=SessionWeights())
        with self._lock:
            self._last = (model, key, scores, signals)
        return scores, signals

    def collab_candidates(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str], k: int
    ) -> list[str]:
        model = self.model
        if model is None or k <= 0:
            return []
        return model.top(self._all_scores(model, history, seeds)[0], k)[0]

    def collab_weight(self, profile_weight: float, default: float) -> float:
        """:func:`agent.collab.blend.collab_weight` with the model's tuned weights (the setting
        ``default`` without a model, without tuned weights or with ``use_tuned_weights`` off)."""
        model = self.model
        tuned = model.meta.blend if model is not None and self.cfg.use_tuned_weights else None
        return collab_weight(tuned, profile_weight, default)

    def popularity(self) -> Mapping[str, float]:
        """Users with a positive pair per video, from the newest model ({} before any training)."""
        return self._counts("popularity")

    def session_popularity(self) -> Mapping[str, float]:
        """Sessions that liked each video, from the newest model ({} without sessions)."""
        return self._counts("session_popularity")

    def _counts(self, name: str) -> Mapping[str, float]:
        """The model's per-video array ``name`` as a mapping of the videos counted above 0, made
        once per loaded model (every turn asks for both). Read-only for callers."""
        model = self.model
        if model is None:
            return {}
        with self._lock:
            cached = self._count_cache.get(name)
            if cached is not None and cached[0] is model:
                return cached[1]
        counts = VideoScores(model.item_ids, getattr(model, name), model.item_index)
        with self._lock:
            self._count_cache[name] = (model, counts)
        return counts

    def request_scores(
        self, text: str, embed: EmbedText, k: int, ridge: float = 0.0, embedder: str = ""
    ) -> Mapping[str, float]:
        model = self.model
        if model is None or model.requests is None or not len(model.requests) or not text.strip():
            return {}
        return model.requests.scores(embed(text), k, ridge, embedder or None)

    def prepare(self, request_ridge: float) -> None:
        model = self.model
        if model is not None and model.requests is not None:
            model.requests.prepare(request_ridge)

    def export_user(self, user_id: str) -> dict[str, list[float]]:
        return self.store.user_factors(user_id)

    def forget_user(self, user_id: str) -> int:
        """Drop the user's factors from every stored version and from memory now."""
        with self._lock:
            changed = self.store.forget_user(user_id)
            self._last = None  # it may hold this user's history and scores
            self._count_cache.clear()  # counts read before the user was dropped
            self._current.edit(lambda model: model.drop_user(user_id))
        return changed

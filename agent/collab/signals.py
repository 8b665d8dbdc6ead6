"""The signals a fitted collaborative model scores videos with for one user, and their blend
(:class:`UserSignals`, a part of :class:`agent.collab.model.CollabModel`).

Each is computed over every model video and z-scored before the blend:

* ``collab``: the folded-in user score ``u · v_i`` (:meth:`CollabModel.raw_scores`);
* ``recent``: cosine between the item's factors and a recency-weighted mean of the factors of the
  videos the user most recently liked (videos liked in the conversation first; weight
  ``recent_decay ** position`` over the newest ``recent_items``);
* ``session``: co-occurrence with those videos in other people's conversation sessions;
* ``popular``: how many sessions liked the video;
* ``next``: how often people went on to the video soon after those videos in their own timelines
  (:mod:`agent.collab.transitions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from agent.collab.blend import BlendWeights, SessionWeights, combine, row_zscore, signal_weights
from agent.collab.matrix import Sessions, event_strength
from agent.collab.meta import ModelMeta
from agent.settings import CollabSettings
from agent.types import FeedbackEvent

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

__all__ = ["UserSignals"]


class UserSignals:
    """The per-user signals of a fitted model; mixed into :class:`CollabModel`, which provides
    the factors, the sessions and :meth:`raw_scores` (the fold-in)."""

    cfg: CollabSettings
    meta: ModelMeta
    item_ids: list[str]
    popularity: np.ndarray
    session_popularity: np.ndarray
    sessions: Sessions
    _item_index: dict[str, int]
    _unit_items: np.ndarray
    _cooc: csr_matrix
    _next: csr_matrix

    def raw_scores(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        raise NotImplementedError  # the model's fold-in

    def item_rows(self, video_ids: Sequence[str]) -> np.ndarray:
        raise NotImplementedError  # the model's lookup

    def recent_videos(
        self, history: Iterable[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> list[str]:
        """Known videos the user is positive about, most recent first, at most ``recent_items``.

        ``seeds`` (liked in this conversation) come first, in their order; then the history's
        videos with a positive net strength, by their latest positive event (ties: id order).
        """
        strength: dict[str, float] = {}
        latest: dict[str, datetime] = {}
        for event in history:
            s = event_strength(event, self.cfg)
            if not s:
                continue
            strength[event.video_id] = strength.get(event.video_id, 0.0) + s
            if s > 0 and (event.video_id not in latest or event.timestamp > latest[event.video_id]):
                latest[event.video_id] = event.timestamp
        ordered = [v for v in dict.fromkeys(seeds) if v in self._item_index]
        taken = set(ordered)
        for video_id in sorted(latest, key=lambda v: (latest[v], v), reverse=True):
            if video_id not in taken and strength[video_id] > 0 and video_id in self._item_index:
                ordered.append(video_id)
                taken.add(video_id)
        return ordered[: max(1, self.cfg.recent_items)]

    def recent_scores(
        self, history: Iterable[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        """Cosine of every model video to the recency-weighted centre of :meth:`recent_videos`
        (position ``i``, 0 = newest, weighs ``recent_decay ** i``); None without one."""
        return self._recent_cosines(self.recent_videos(history, seeds))

    def session_scores(
        self, history: Iterable[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        """Session co-occurrence ("liked in the same conversation"): for every model video,
        ``log1p`` of the number of other sessions that liked it together with each of the
        user's :meth:`recent_videos` (item-to-item session kNN). None without sessions or
        co-occurrence."""
        return self._sessions_of(self.recent_videos(history, seeds))

    def next_scores(
        self, history: Iterable[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        """What people watch next: for every model video, ``log1p`` of how often it came soon
        after each of the user's :meth:`recent_videos` in the timelines. None without
        transitions."""
        return self._next_of(self.recent_videos(history, seeds))

    def _recent_cosines(self, recent: list[str]) -> np.ndarray | None:
        if not recent:
            return None
        weights = self.cfg.recent_decay ** np.arange(len(recent), dtype=np.float32)
        rows = self.item_rows(recent)
        centre = (weights[:, None] * self._unit_items[rows]).sum(axis=0) / weights.sum()
        return (self._unit_items @ centre).astype(np.float64)

    def _sessions_of(self, recent: list[str]) -> np.ndarray | None:
        return self._from_recent(self._cooc, recent) if self.sessions.users else None

    def _next_of(self, recent: list[str]) -> np.ndarray | None:
        return self._from_recent(self._next, recent) if self._next.nnz else None

    def _from_recent(self, counts: csr_matrix, recent: list[str]) -> np.ndarray | None:
        """``log1p`` of the rows of ``counts`` (video x video) of the user's recent videos
        (newest first), weighted ``recent_decay ** position`` as the recent neighbours are;
        None when they add up to nothing."""
        if not recent:
            return None
        weights = self.cfg.recent_decay ** np.arange(len(recent), dtype=np.float64)
        raw = np.asarray(counts[self.item_rows(recent)].T @ weights, dtype=np.float64).ravel()
        return np.log1p(raw) if raw.any() else None

    def popular_scores(self) -> np.ndarray | None:
        """``log1p`` of the number of sessions that liked each video (None without sessions):
        what people ask for in conversations; all-time popularity only breaks ties (< 0.01)."""
        if not self.session_popularity.any():
            return None
        overall = np.log1p(self.popularity.astype(np.float64))
        ties = 0.01 * overall / (overall.max() or 1.0)
        return np.log1p(self.session_popularity.astype(np.float64)) + ties

    def signals(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> dict[str, np.ndarray]:
        """Each collaborative signal this user has (see the module docstring), z-scored over all
        the model's videos."""
        out: dict[str, np.ndarray] = {}
        recent = self.recent_videos(history, seeds)  # read once for the three that start there
        for name, raw in (
            ("collab", self.raw_scores(history, seeds)),
            ("recent", self._recent_cosines(recent)),
            ("session", self._sessions_of(recent)),
            ("popular", self.popular_scores()),
            ("next", self._next_of(recent)),
        ):
            if raw is not None:
                out[name] = row_zscore(raw[None, :])[0].astype(np.float64)
        return out

    def scores(
        self,
        history: Sequence[FeedbackEvent],
        seeds: Sequence[str] = (),
        *,
        weights: BlendWeights | None = None,
        session_weights: SessionWeights | None = None,
    ) -> np.ndarray:
        """The blended collaborative score of every model video for this user (model order; all
        NaN when the user has no signal). Weights default to the model's tuned ones, else the
        settings' (``agent.collab.blend``)."""
        return self.blend(
            self.signals(history, seeds), weights=weights, session_weights=session_weights
        )

    def blend(
        self,
        signals: dict[str, np.ndarray],
        *,
        weights: BlendWeights | None = None,
        session_weights: SessionWeights | None = None,
    ) -> np.ndarray:
        """:meth:`scores` from the user's :meth:`signals`."""
        w = weights or self.meta.blend or BlendWeights()
        sw = session_weights or self.meta.session_blend or SessionWeights()
        blended = combine(signals, signal_weights(w, sw))
        return np.full(len(self.item_ids), np.nan) if blended is None else blended

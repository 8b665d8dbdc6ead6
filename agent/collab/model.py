"""The fitted collaborative model: implicit ALS, fold-in, and the signals it scores videos with.

API in the style of ``implicit``: :meth:`CollabModel.fit` on a sparse users x videos confidence
matrix (:class:`agent.collab.matrix.InteractionMatrix`; :meth:`CollabModel.fit_events` builds it
from the log), :meth:`CollabModel.recommend` for a user with filters, and
:meth:`CollabModel.similar_items`. A user is whatever their events say *now*: their vector is
folded in from their current events on every call (``recalculate_user``, one small least-squares
solve), so a like or a watch changes the very next ranking without a retrain.

The signals a video is scored with for one user (folded-in ALS score, recent neighbours, session
co-occurrence, session popularity) are :mod:`agent.collab.signals`; they are blended with the
weights tuned with the model (``agent.collab.blend``). A video nobody has interacted with has no
score (NaN: neutral, not a penalty) and stays reachable via content.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from agent.collab.blend import BlendWeights, SessionWeights
from agent.collab.matrix import (
    CollabError,
    InteractionMatrix,
    Sessions,
    build_matrix,
    build_sessions,
    confidence,
    event_strength,
)
from agent.collab.meta import ModelMeta
from agent.collab.metrics import top_k
from agent.collab.requests import RequestIndex
from agent.collab.signals import UserSignals
from agent.collab.transitions import Timelines, build_timelines, transition_matrix
from agent.settings import CollabSettings
from agent.types import FeedbackEvent
from retrieval.blas import one_blas_thread

__all__ = ["CollabModel", "new_als"]

log = logging.getLogger(__name__)


def new_als(cfg: CollabSettings) -> Any:
    """An unfitted ``implicit`` ALS model with these settings (CPU)."""
    from implicit.cpu.als import AlternatingLeastSquares

    # implicit runs its own threads; a multi-threaded BLAS under it only oversubscribes the cores.
    with one_blas_thread():
        return AlternatingLeastSquares(
            factors=cfg.factors,
            regularization=cfg.regularization,
            iterations=cfg.iterations,
            num_threads=cfg.threads,
            random_state=cfg.seed,
        )


class CollabModel(UserSignals):
    """A fitted ALS model plus the ids that name its rows and columns, and the sessions.

    Item factors are fixed after the fit; user vectors are folded in from events on demand.
    """

    def __init__(
        self,
        als: Any,
        user_ids: Sequence[str],
        item_ids: Sequence[str],
        popularity: np.ndarray,
        meta: ModelMeta,
        cfg: CollabSettings,
        sessions: Sessions | None = None,
        timelines: Timelines | None = None,
    ) -> None:
        self._als = als
        self.user_ids = list(user_ids)
        self.item_ids = list(item_ids)
        self.popularity = np.asarray(popularity, dtype=np.float32)
        self.meta = meta
        self.cfg = cfg
        self._user_index = {u: n for n, u in enumerate(self.user_ids)}
        self._item_index = {i: n for n, i in enumerate(self.item_ids)}
        factors = np.asarray(als.item_factors, dtype=np.float32)
        norms = np.linalg.norm(factors, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        self._unit_items = factors / norms
        self._lock = threading.Lock()
        self._set_sessions(sessions or Sessions.empty(len(self.item_ids)))
        self._set_timelines(timelines or Timelines.empty())
        # what people took after asking for something like this (set by training, when the log
        # has conversation turns)
        self.requests: RequestIndex | None = None

    def _set_sessions(self, sessions: Sessions) -> None:
        """Keep the sessions and what the scores read from them: per video, the sessions that
        liked it, and the video x video co-occurrence counts (diagonal 0)."""
        self.sessions = sessions
        m = sessions.matrix
        self.session_popularity = np.asarray(m.sum(axis=0), dtype=np.float32).ravel()
        cooc = (m.T @ m).tocsr()
        cooc.setdiag(0)
        cooc.eliminate_zeros()
        self._cooc = cooc

    def _set_timelines(self, timelines: Timelines) -> None:
        """Keep the users' timelines and the transition counts drawn from them."""
        self.timelines = timelines
        self._next = transition_matrix(
            timelines, len(self.item_ids), self.cfg.next_window, self.cfg.next_gap_decay
        )

    # -- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        data: InteractionMatrix,
        cfg: CollabSettings,
        *,
        sessions: Sessions | None = None,
        blend: BlendWeights | None = None,
        validation: Mapping[str, float] | None = None,
        session_blend: SessionWeights | None = None,
        timelines: Timelines | None = None,
    ) -> CollabModel:
        """Fit ALS on a users x videos confidence matrix (CPU, ``cfg.threads`` threads).

        Raises:
            CollabError: no positive interactions to learn from.
        """
        if data.n_pairs == 0 or (data.matrix.data > 0).sum() == 0:
            raise CollabError(
                "There is nothing to learn from yet",
                expected="at least one like, watch or rating in the interaction log",
                got=f"{data.n_events} events",
                hint="Record feedback (`vidrec feedback`) or import a log "
                "(`vidrec import-interactions --movielens PATH`), then run `vidrec train`",
            )
        als = new_als(cfg)
        start = time.perf_counter()
        with one_blas_thread():
            als.fit(data.matrix, show_progress=False)
        elapsed = time.perf_counter() - start
        popularity = np.asarray((data.matrix > 0).astype(np.float32).sum(axis=0)).ravel()
        sessions = sessions or Sessions.empty(len(data.item_ids))
        meta = ModelMeta(
            version=0,
            fitted_at=datetime.now(UTC).isoformat(timespec="seconds"),
            n_users=len(data.user_ids),
            n_items=len(data.item_ids),
            n_events=data.n_events,
            n_pairs=data.n_pairs,
            fit_seconds=round(elapsed, 3),
            algorithm="implicit.als",
            settings=cfg.model_dump(mode="json"),
            blend=blend,
            validation=dict(validation or {}),
            n_sessions=len(sessions.users),
            session_blend=session_blend,
            n_timelines=len(timelines) if timelines else 0,
        )
        log.info(
            "fitted ALS: %d users, %d videos, %d pairs, %d sessions in %.2fs",
            meta.n_users,
            meta.n_items,
            meta.n_pairs,
            meta.n_sessions,
            elapsed,
        )
        return cls(als, data.user_ids, data.item_ids, popularity, meta, cfg, sessions, timelines)

    @classmethod
    def fit_events(
        cls, events: Iterable[FeedbackEvent], cfg: CollabSettings, **kwargs: Any
    ) -> CollabModel:
        """:meth:`fit` on the matrix and the sessions of an event log (keywords as for fit)."""
        events_list = list(events)
        data = build_matrix(events_list, cfg)
        sessions = build_sessions(events_list, cfg, data.item_ids)
        timelines = build_timelines(events_list, data.item_ids)
        return cls.fit(data, cfg, sessions=sessions, timelines=timelines, **kwargs)

    # -- lookups ---------------------------------------------------------------------------
    def has_user(self, user_id: str) -> bool:
        return user_id in self._user_index

    def has_item(self, video_id: str) -> bool:
        return video_id in self._item_index

    @property
    def item_index(self) -> Mapping[str, int]:
        """Video id -> its row in the model's per-video arrays (read-only)."""
        return self._item_index

    def user_row(self, user_id: str) -> int:
        """Row of a user in the stored factors (KeyError if not in the model)."""
        return self._user_index[user_id]

    def item_rows(self, video_ids: Sequence[str]) -> np.ndarray:
        """Model row of each video, -1 for a video the model has never seen."""
        return np.array([self._item_index.get(v, -1) for v in video_ids], dtype=np.int64)

    @property
    def user_factors(self) -> np.ndarray:
        return np.asarray(self._als.user_factors, dtype=np.float32)

    @property
    def item_factors(self) -> np.ndarray:
        return np.asarray(self._als.item_factors, dtype=np.float32)

    def stored_user_vector(self, user_id: str) -> np.ndarray | None:
        """The factors fitted for a user at training time (None if not in the model)."""
        row = self._user_index.get(user_id)
        return None if row is None else self.user_factors[row].copy()

    def save_als(self, path: str) -> None:
        """Write the ALS factors as ``implicit`` saves them."""
        self._als.save(path)

    def take(self, all_scores: np.ndarray, video_ids: Sequence[str]) -> np.ndarray:
        """``all_scores`` (one per model video) picked out for ``video_ids``; NaN if unknown."""
        rows = self.item_rows(video_ids)
        out = np.full(len(rows), np.nan)
        known = rows >= 0
        out[known] = all_scores[rows[known]]
        return out

    # -- fold-in ---------------------------------------------------------------------------
    def fold_in(
        self, events: Iterable[FeedbackEvent], extra_likes: Sequence[str] = ()
    ) -> np.ndarray | None:
        """User vector from these events (plus ``extra_likes`` as likes), the model unchanged.

        An extra like replaces a negative or missing history for that video (the user just said
        they like it) and adds nothing to a video the history already likes. This is
        ``implicit``'s ``recalculate_user``; None when no event touches a known video.
        """
        strengths: dict[str, float] = {}
        for event in events:
            s = event_strength(event, self.cfg)
            if s:
                strengths[event.video_id] = strengths.get(event.video_id, 0.0) + s
        for video_id in extra_likes:  # a like said in conversation, unless history has one
            if strengths.get(video_id, 0.0) <= 0.0:
                strengths[video_id] = self.cfg.like_strength
        cols = [(self._item_index[v], s) for v, s in strengths.items() if v in self._item_index]
        cols = [(c, s) for c, s in cols if s]
        if not cols or max(s for _, s in cols) <= 0:
            return None
        data = confidence(np.asarray([s for _, s in cols], dtype=np.float32), self.cfg.alpha)
        row = csr_matrix(
            (data, (np.zeros(len(cols), dtype=np.int64), np.array([c for c, _ in cols]))),
            shape=(1, len(self.item_ids)),
            dtype=np.float32,
        )
        with self._lock, one_blas_thread():
            vector = self._als.recalculate_user(0, row)
        return np.asarray(vector, dtype=np.float32).reshape(-1)

    # -- signals ---------------------------------------------------------------------------
    def raw_scores(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        """The folded-in user score of every model video (seeds added as likes), or None when no
        event or seed touches a video the model knows."""
        vector = self.fold_in(history, extra_likes=seeds)
        if vector is None:
            return None
        return (self.item_factors @ vector.astype(np.float32)).astype(np.float64)

    # -- recommendations -------------------------------------------------------------------
    def top(
        self, scores: np.ndarray, n: int, filter_items: Iterable[str] = ()
    ) -> tuple[list[str], np.ndarray]:
        """The ``n`` best videos by these scores (one per model video; NaN never), best first,
        without ``filter_items``; ties in model order."""
        row = np.array(scores, dtype=np.float64)
        row[self.item_rows([v for v in filter_items if v in self._item_index])] = np.nan
        order = top_k(row[None, :], n)[0]
        return [self.item_ids[i] for i in order], row[order]

    def recommend(
        self,
        history: Sequence[FeedbackEvent],
        seeds: Sequence[str] = (),
        n: int = 10,
        *,
        filter_items: Iterable[str] = (),
        filter_already_liked_items: bool = False,
    ) -> tuple[list[str], np.ndarray]:
        """The ``n`` best videos for the user these events and seeds describe, and their scores
        (:meth:`scores`); ``filter_already_liked_items`` also drops the videos they touched."""
        skip = set(filter_items)
        if filter_already_liked_items:
            skip.update(e.video_id for e in history)
            skip.update(seeds)
        return self.top(self.scores(history, seeds), n, skip)

    def similar_items(self, video_id: str, n: int = 10) -> tuple[list[str], np.ndarray]:
        """The ``n`` nearest videos by cosine over item factors, and the cosines."""
        row = self._item_index.get(video_id)
        if row is None:
            return [], np.zeros(0)
        sims = (self._unit_items @ self._unit_items[row]).astype(np.float64)
        sims[row] = np.nan
        return self.top(sims, n)

    def popular(self, k: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """Most popular videos (users with a positive pair), ties by id order."""
        ids, counts = self.top(self.popularity.astype(np.float64), k, exclude)
        return [(v, float(c)) for v, c in zip(ids, counts, strict=True)]

    # -- privacy ---------------------------------------------------------------------------
    def drop_user(self, user_id: str) -> bool:
        """Remove a user's stored factors, sessions and timeline from this in-memory model; True
        if there were any. The ALS object is rebuilt from its public factors (as ``implicit``'s own
        ``to_gpu`` does), so no cache computed from the old factors survives."""
        with self._lock:
            dropped = self._drop_sessions(user_id)
            timelines = self.timelines.without(user_id)
            if timelines is not None:
                self._set_timelines(timelines)
                self.meta = replace(self.meta, n_timelines=len(timelines))
                dropped = True
            if self.requests is not None and self.requests.drop_user(user_id):
                self.meta = replace(self.meta, n_requests=len(self.requests))
                dropped = True
            row = self._user_index.get(user_id)
            if row is None:
                return dropped
            keep = np.ones(len(self.user_ids), dtype=bool)
            keep[row] = False
            als = new_als(self.cfg)
            als.user_factors = np.ascontiguousarray(self.user_factors[keep])
            als.item_factors = self._als.item_factors
            self._als = als
            del self.user_ids[row]
            self._user_index = {u: n for n, u in enumerate(self.user_ids)}
            return True

    def _drop_sessions(self, user_id: str) -> bool:
        """Remove the user's session rows (and their co-occurrence counts); True if any."""
        mine = np.array([u == user_id for u in self.sessions.users], dtype=bool)
        if not mine.any():
            return False
        keep = ~mine
        users = [u for u, k in zip(self.sessions.users, keep, strict=True) if k]
        self._set_sessions(Sessions(users, self.sessions.matrix[keep]))
        self.meta = replace(self.meta, n_sessions=len(self.sessions.users))
        return True

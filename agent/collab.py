"""Collaborative signal from the interaction log: implicit ALS, item-item neighbours, fold-in.

What it learns from: every recorded event (``agent.users``) of every user. Each (user, video) pair
gets a *strength*, the sum over its events (weights from :class:`agent.settings.CollabSettings`):

* ``like`` +like_strength; ``dislike`` -dislike_strength;
* ``watched`` +watch_strength * fraction (fraction defaults to 1);
* ``rating`` r: +rating_strength * r / 5 when r >= rating_negative_below, else -dislike_strength;
* ``impression`` 0 (shown is not chosen).

The ALS confidence is ``1 + alpha * |strength|``, negative for a negative strength: the ``implicit``
library reads a negative confidence as "preference 0 with that confidence" (a known dislike), and a
missing pair as preference 0 with confidence 1 (Hu, Koren & Volinsky 2008).

Three scores come out of the fitted model:

* **user score** ``u · v_i``: the user's vector is *folded in* from their current events on every
  call (``implicit``'s ``recalculate_user``, one small least-squares solve), so a like or a watch
  changes the very next ranking without a retrain; stored factors are only a fallback;
* **recent-neighbour score**: cosine between the item's factors and a recency-weighted mean of
  the factors of the videos the user most recently liked, watched or rated well (videos liked in
  the conversation first; weight ``recent_decay ** position`` over the newest ``recent_items``),
  so what someone is into *now* counts most, and a new conversational user with no history
  benefits from the *seed* videos they named;
* **popularity**: number of users with a positive pair, for cold start.

The user and recent-neighbour scores are each z-scored over the catalogue and combined with the
weights tuned on a leave-last-out validation split (:func:`tune_blend`, stored with the model) into
one collaborative score; the ranker adds it to content relevance and profile similarity. A video
nobody has watched yet has no collaborative score (neutral, not a penalty) and stays reachable
through content.

Models are versioned on disk under ``<data_dir>/collab/vNNNN/`` (``als.npz`` as ``implicit`` saves
it, ``index.npz`` with the user and video ids and popularity, ``meta.json``); ``meta.json`` is
written last, so a version without it is incomplete and ignored. Loading picks the newest complete
version; the newest ``keep_versions`` are kept. :meth:`ModelStore.forget_user` removes a user's
factors from every stored version at once (right to be forgotten).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix

from agent.settings import AgentSettings, CollabSettings, Settings
from agent.types import FeedbackEvent
from retrieval.errors import InvalidInputError, NotReadyError, VidrecError

log = logging.getLogger(__name__)

MODEL_DIR_NAME = "collab"
MAX_COLLAB_RATIO = 20.0  # tuned collab weight at most this many times the profile weight
_META = "meta.json"
_ALS = "als.npz"
_INDEX = "index.npz"
IMPORTED_SESSION_PREFIX = "import:"  # session_id of imported logs (agent.interactions)


class CollabError(VidrecError):
    """The collaborative model cannot be fitted or read."""

    http_status = 500
    code = "collab_error"


# --- confidence weighting ---------------------------------------------------------------------
def event_strength(event: FeedbackEvent, cfg: CollabSettings) -> float:
    """Signed strength one event adds to its (user, video) pair (see the module docstring)."""
    if event.kind == "like":
        return cfg.like_strength
    if event.kind == "dislike":
        return -cfg.dislike_strength
    if event.kind == "watched":
        fraction = 1.0 if event.value is None else float(event.value)
        return cfg.watch_strength * min(max(fraction, 0.0), 1.0)
    if event.kind == "rating":
        if event.value is None:
            return 0.0
        rating = float(event.value)
        if rating < cfg.rating_negative_below:
            return -cfg.dislike_strength
        return cfg.rating_strength * rating / 5.0
    return 0.0  # impression


def pair_strengths(
    events: Iterable[FeedbackEvent], cfg: CollabSettings
) -> dict[tuple[str, str], float]:
    """Sum of event strengths per (user_id, video_id); pairs that sum to 0 are left out."""
    totals: dict[tuple[str, str], float] = {}
    for event in events:
        strength = event_strength(event, cfg)
        if strength:
            key = (event.user_id, event.video_id)
            totals[key] = totals.get(key, 0.0) + strength
    return {k: v for k, v in totals.items() if v}


def confidence(strength: np.ndarray | float, alpha: float) -> np.ndarray:
    """``sign(s) * (1 + alpha * |s|)``: the value ``implicit`` expects for each observed pair."""
    s = np.asarray(strength, dtype=np.float32)
    return np.sign(s) * (1.0 + alpha * np.abs(s))


@dataclass
class InteractionMatrix:
    """Users x videos confidence matrix with the ids of its rows and columns."""

    user_ids: list[str]
    item_ids: list[str]
    matrix: csr_matrix  # float32 confidences
    n_events: int

    @property
    def n_pairs(self) -> int:
        return int(self.matrix.nnz)


def build_matrix(
    events: Iterable[FeedbackEvent],
    cfg: CollabSettings,
    *,
    item_ids: Sequence[str] | None = None,
) -> InteractionMatrix:
    """Aggregate events into the confidence matrix (users and videos sorted by id).

    Args:
        item_ids: fix the column order (pairs with other videos are dropped); default: every
            video that has at least one non-zero pair.
    """
    counted = 0

    def _counting(items: Iterable[FeedbackEvent]) -> Iterable[FeedbackEvent]:
        nonlocal counted
        for item in items:
            counted += 1
            yield item

    strengths = pair_strengths(_counting(events), cfg)
    users = sorted({u for u, _ in strengths})
    items = list(item_ids) if item_ids is not None else sorted({i for _, i in strengths})
    u_index = {u: n for n, u in enumerate(users)}
    i_index = {i: n for n, i in enumerate(items)}
    rows, cols, vals = [], [], []
    for (user, item), s in strengths.items():
        col = i_index.get(item)
        if col is None:
            continue
        rows.append(u_index[user])
        cols.append(col)
        vals.append(s)
    data = confidence(np.asarray(vals, dtype=np.float32), cfg.alpha)
    matrix = csr_matrix(
        (data, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(len(users), len(items)),
        dtype=np.float32,
    )
    return InteractionMatrix(users, items, matrix, counted)


# --- blending ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BlendWeights:
    """Weights of the z-scored signals in the final score (see :func:`blend_scores`).

    ``content`` is relevance to the conversation (search), ``profile`` similarity to the user's
    history profile, ``collab`` the user's ALS score, ``recent`` the recent-neighbour score,
    ``popularity`` log popularity. ``source`` says where they come from ("settings" or "tuned
    on ...").
    """

    content: float = 1.0
    profile: float = 0.3
    collab: float = 0.2
    popularity: float = 0.0
    recent: float = 0.2
    source: str = "settings"

    @property
    def collab_side(self) -> float:
        """Total weight of the collaborative signals (ALS user score + recent neighbours)."""
        return self.collab + self.recent


@dataclass(frozen=True)
class SessionWeights:
    """Weights of the two conversation-session signals, as multiples of the collaborative side
    (``BlendWeights.collab + BlendWeights.recent``): ``session`` the co-occurrence of a video with
    the user's seeds in other users' sessions, ``popularity`` how many sessions liked it. Tuned by
    :func:`train` on held-out session items; 0 (unused) until then."""

    session: float = 0.0
    popularity: float = 0.0
    source: str = "settings"


@dataclass
class Sessions:
    """The videos each conversation session was positive about: one row per (user, session),
    ``matrix`` sessions x the model's videos (1 = liked / watched / rated well in that session).
    Imported logs (``session_id`` starting with ``import:``) are not sessions."""

    users: list[str]  # owner of each row (so a forgotten user's rows can be dropped)
    matrix: csr_matrix

    @classmethod
    def empty(cls, n_items: int) -> Sessions:
        return cls([], csr_matrix((0, n_items), dtype=np.float32))


def build_sessions(
    events: Iterable[FeedbackEvent], cfg: CollabSettings, item_ids: Sequence[str]
) -> Sessions:
    """Group the positive pairs of every non-imported session (videos outside ``item_ids`` are
    left out; a session with nothing left is dropped)."""
    index = {v: n for n, v in enumerate(item_ids)}
    totals: dict[tuple[str, str], dict[int, float]] = {}
    for event in events:
        sid = event.session_id
        col = index.get(event.video_id)
        if not sid or sid.startswith(IMPORTED_SESSION_PREFIX) or col is None:
            continue
        strength = event_strength(event, cfg)
        if strength:
            per = totals.setdefault((event.user_id, sid), {})
            per[col] = per.get(col, 0.0) + strength
    users: list[str] = []
    rows: list[int] = []
    cols: list[int] = []
    for user, sid in sorted(totals):
        liked = sorted(c for c, s in totals[(user, sid)].items() if s > 0)
        if liked:
            rows.extend([len(users)] * len(liked))
            cols.extend(liked)
            users.append(user)
    matrix = csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)),
        shape=(len(users), len(item_ids)),
        dtype=np.float32,
    )
    return Sessions(users, matrix)


def zscore(values: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """z-scores over the present values; missing (None/NaN) and constant signals give 0."""
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    out = np.zeros_like(arr)
    present = ~np.isnan(arr)
    if present.sum() >= 2:
        mean = arr[present].mean()
        std = arr[present].std()
        if std > 1e-12:
            out[present] = (arr[present] - mean) / std
    return out


def blend_scores(
    weights: BlendWeights,
    *,
    content: Sequence[float | None] | np.ndarray | None = None,
    profile: Sequence[float | None] | np.ndarray | None = None,
    collab: Sequence[float | None] | np.ndarray | None = None,
    popularity: Sequence[float | None] | np.ndarray | None = None,
) -> np.ndarray:
    """Weighted sum of z-scored signals over one candidate list (missing signal = average)."""
    parts = [
        (weights.content, content),
        (weights.profile, profile),
        (weights.collab, collab),
        (weights.popularity, popularity),
    ]
    n = next((len(v) for _, v in parts if v is not None), 0)
    total = np.zeros(n, dtype=np.float64)
    for weight, values in parts:
        if values is None or weight == 0.0:
            continue
        if len(values) != n:
            raise InvalidInputError(
                "Every blended signal needs one value per candidate",
                expected=f"{n} values",
                got=f"{len(values)} values",
            )
        total += weight * zscore(values)
    return total


# --- the fitted model -------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelMeta:
    """What ``meta.json`` records about one fitted version."""

    version: int
    fitted_at: str  # ISO 8601, UTC
    n_users: int
    n_items: int
    n_events: int
    n_pairs: int
    fit_seconds: float
    algorithm: str
    settings: dict[str, Any]  # the CollabSettings used (JSON of the settings section)
    blend: BlendWeights | None = None
    validation: dict[str, float] = field(default_factory=dict)  # tuning metrics, if tuned
    n_sessions: int = 0
    session_blend: SessionWeights | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelMeta:
        data = json.loads(text)
        blend = data.pop("blend", None)
        if blend is not None:
            blend.setdefault("recent", 0.0)  # versions tuned before the recent signal existed
        session = data.pop("session_blend", None)
        return cls(
            **data,
            blend=BlendWeights(**blend) if blend else None,
            session_blend=SessionWeights(**session) if session else None,
        )


def _als(cfg: CollabSettings) -> Any:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    # implicit runs its own threads; a multi-threaded BLAS under it only oversubscribes the cores.
    with threadpool_limits(1, "blas"):
        return AlternatingLeastSquares(
            factors=cfg.factors,
            regularization=cfg.regularization,
            iterations=cfg.iterations,
            num_threads=cfg.threads,
            random_state=cfg.seed,
        )


class CollabModel:
    """A fitted ALS model plus the ids that name its rows and columns.

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

    # -- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        events: Iterable[FeedbackEvent],
        cfg: CollabSettings,
        *,
        blend: BlendWeights | None = None,
        validation: Mapping[str, float] | None = None,
        session_blend: SessionWeights | None = None,
    ) -> CollabModel:
        """Fit ALS on the events (CPU, ``cfg.threads`` threads) and group their sessions.

        Raises:
            CollabError: no positive interactions to learn from.
        """
        import time

        from threadpoolctl import threadpool_limits

        events_list = list(events)
        data = build_matrix(events_list, cfg)
        if data.n_pairs == 0 or (data.matrix.data > 0).sum() == 0:
            raise CollabError(
                "There is nothing to learn from yet",
                expected="at least one like, watch or rating in the interaction log",
                got=f"{data.n_events} events",
                hint="Record feedback (`vidrec feedback`) or import a log "
                "(`vidrec import-interactions --movielens PATH`), then run `vidrec train`",
            )
        als = _als(cfg)
        start = time.perf_counter()
        with threadpool_limits(1, "blas"):
            als.fit(data.matrix, show_progress=False)
        elapsed = time.perf_counter() - start
        positive = (data.matrix > 0).astype(np.float32)
        popularity = np.asarray(positive.sum(axis=0)).ravel()
        sessions = build_sessions(events_list, cfg, data.item_ids)
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
        )
        log.info(
            "fitted ALS: %d users, %d videos, %d pairs, %d sessions in %.2fs",
            meta.n_users,
            meta.n_items,
            meta.n_pairs,
            meta.n_sessions,
            elapsed,
        )
        return cls(als, data.user_ids, data.item_ids, popularity, meta, cfg, sessions)

    # -- lookups ---------------------------------------------------------------------------
    def has_user(self, user_id: str) -> bool:
        return user_id in self._user_index

    def has_item(self, video_id: str) -> bool:
        return video_id in self._item_index

    def user_row(self, user_id: str) -> int:
        """Row of a user in the stored factors (KeyError if not in the model)."""
        return self._user_index[user_id]

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

    # -- fold-in ---------------------------------------------------------------------------
    def _row(self, strengths: Mapping[str, float]) -> csr_matrix | None:
        cols, vals = [], []
        for video_id, s in strengths.items():
            col = self._item_index.get(video_id)
            if col is not None and s:
                cols.append(col)
                vals.append(s)
        if not cols or max(vals) <= 0:
            return None
        data = confidence(np.asarray(vals, dtype=np.float32), self.cfg.alpha)
        return csr_matrix(
            (data, (np.zeros(len(cols), dtype=np.int64), np.asarray(cols, dtype=np.int64))),
            shape=(1, len(self.item_ids)),
            dtype=np.float32,
        )

    def fold_in(
        self, events: Iterable[FeedbackEvent], extra_likes: Sequence[str] = ()
    ) -> np.ndarray | None:
        """User vector from these events (plus ``extra_likes`` as likes), the model unchanged.

        An extra like replaces a negative or missing history for that video (the user just said
        they like it) and adds nothing to a video the history already likes.

        This is ``implicit``'s ``recalculate_user``: the exact ALS least-squares step for one user
        against the fixed item factors. None when no event touches a video the model knows.
        """
        strengths: dict[str, float] = {}
        for event in events:
            s = event_strength(event, self.cfg)
            if s:
                strengths[event.video_id] = strengths.get(event.video_id, 0.0) + s
        for video_id in extra_likes:  # a like said in conversation, unless history has one
            if strengths.get(video_id, 0.0) <= 0.0:
                strengths[video_id] = self.cfg.like_strength
        row = self._row(strengths)
        if row is None:
            return None
        from threadpoolctl import threadpool_limits

        with self._lock, threadpool_limits(1, "blas"):
            vector = self._als.recalculate_user(0, row)
        return np.asarray(vector, dtype=np.float32).reshape(-1)

    # -- scores ----------------------------------------------------------------------------
    def item_rows(self, video_ids: Sequence[str]) -> np.ndarray:
        """Model row of each video, -1 for a video the model has never seen."""
        return np.array([self._item_index.get(v, -1) for v in video_ids], dtype=np.int64)

    def user_scores(self, vector: np.ndarray, video_ids: Sequence[str] | None = None) -> np.ndarray:
        """``vector · v_i`` for the given videos (all model videos if None); NaN if unknown."""
        all_scores = (self.item_factors @ vector.astype(np.float32)).astype(np.float64)
        return all_scores if video_ids is None else self._at(all_scores, video_ids)

    def neighbour_scores(
        self, seeds: Sequence[str], video_ids: Sequence[str] | None = None
    ) -> np.ndarray:
        """Mean cosine (over item factors) to the known seed videos; NaN if no seed is known."""
        seed_rows = self.item_rows(seeds)
        seed_rows = seed_rows[seed_rows >= 0]
        n = len(self.item_ids) if video_ids is None else len(video_ids)
        if not len(seed_rows):
            return np.full(n, np.nan)
        all_scores = self._cosine_to_centre(seed_rows, np.ones(len(seed_rows), dtype=np.float32))
        return all_scores if video_ids is None else self._at(all_scores, video_ids)

    def _cosine_to_centre(self, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Cosine-like score of every model video to the weighted mean of these videos' unit
        factors (the item-item neighbour score)."""
        centre = (weights[:, None] * self._unit_items[rows]).sum(axis=0) / weights.sum()
        return (self._unit_items @ centre).astype(np.float64)

    def _at(self, all_scores: np.ndarray, video_ids: Sequence[str]) -> np.ndarray:
        """``all_scores`` (one per model video) picked out for ``video_ids``; NaN if unknown."""
        rows = self.item_rows(video_ids)
        out = np.full(len(rows), np.nan)
        known = rows >= 0
        out[known] = all_scores[rows[known]]
        return out

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
        by_time = sorted(latest, key=lambda v: (latest[v], v), reverse=True)
        for video_id in by_time:
            if video_id not in taken and strength[video_id] > 0 and video_id in self._item_index:
                ordered.append(video_id)
                taken.add(video_id)
        return ordered[: max(1, self.cfg.recent_items)]

    def recent_scores(
        self, history: Iterable[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        """Cosine of every model video to the recency-weighted centre of :meth:`recent_videos`.

        Position ``i`` (0 = newest) weighs ``recent_decay ** i``. None when the user has no
        known positive video.
        """
        recent = self.recent_videos(history, seeds)
        if not recent:
            return None
        weights = self.cfg.recent_decay ** np.arange(len(recent), dtype=np.float32)
        return self._cosine_to_centre(self.item_rows(recent), weights)

    def session_scores(
        self, history: Iterable[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        """Session co-occurrence ("liked in the same conversation"): for every model video,
        ``log1p`` of the number of other sessions that liked it together with each of the
        user's :meth:`recent_videos`, weighted ``recent_decay ** position`` as the recent
        neighbours are (item-to-item session kNN). None without sessions or co-occurrence."""
        if not self.sessions.users:
            return None
        recent = self.recent_videos(history, seeds)
        if not recent:
            return None
        weights = self.cfg.recent_decay ** np.arange(len(recent), dtype=np.float64)
        counts = self._cooc[self.item_rows(recent)].T @ weights
        raw = np.asarray(counts, dtype=np.float64).ravel()
        return np.log1p(raw) if raw.any() else None

    def popular_scores(self) -> np.ndarray | None:
        """``log1p`` of the number of sessions that liked each video (None without sessions):
        what people ask for in conversations, as opposed to all-time popularity, which only
        breaks ties (it adds less than 0.01)."""
        if not self.session_popularity.any():
            return None
        overall = np.log1p(self.popularity.astype(np.float64))
        ties = 0.01 * overall / (overall.max() or 1.0)
        return np.log1p(self.session_popularity.astype(np.float64)) + ties

    def similar(self, video_id: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` nearest videos by cosine over item factors (item-item neighbours)."""
        row = self._item_index.get(video_id)
        if row is None:
            return []
        sims = self._unit_items @ self._unit_items[row]
        sims[row] = -np.inf
        top = np.argsort(-sims)[:k]
        return [(self.item_ids[i], float(sims[i])) for i in top]

    def popular(self, k: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """Most popular videos (users with a positive pair), ties by id order."""
        skip = set(exclude)
        order = np.argsort(-self.popularity, kind="stable")
        out: list[tuple[str, float]] = []
        for i in order:
            if self.item_ids[i] not in skip:
                out.append((self.item_ids[i], float(self.popularity[i])))
                if len(out) >= k:
                    break
        return out

    def raw_scores(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> np.ndarray | None:
        """The folded-in user score of every model video (seeds added as likes), or None when no
        event or seed touches a video the model knows."""
        vector = self.fold_in(history, extra_likes=seeds)
        return None if vector is None else self.user_scores(vector)

    def signals(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str] = ()
    ) -> dict[str, np.ndarray]:
        """Each collaborative signal this user has, z-scored over all the model's videos:
        ``"collab"`` (the folded-in user score), ``"recent"`` (recent neighbours), and from
        conversation sessions ``"session"`` (co-occurrence with the recent videos) and
        ``"popular"`` (sessions that liked the video)."""
        out: dict[str, np.ndarray] = {}
        for name, raw in (
            ("collab", self.raw_scores(history, seeds)),
            ("recent", self.recent_scores(history, seeds)),
            ("session", self.session_scores(history, seeds)),
            ("popular", self.popular_scores()),
        ):
            if raw is not None:
                out[name] = row_zscore(raw[None, :])[0].astype(np.float64)
        return out

    def collab_scores(
        self,
        history: Sequence[FeedbackEvent],
        video_ids: Sequence[str] | None,
        seeds: Sequence[str] = (),
        weights: BlendWeights | None = None,
        session_weights: SessionWeights | None = None,
    ) -> np.ndarray:
        """Standardised collaborative score of each video for this user (NaN = no signal;
        ``video_ids`` None: every model video, in model order).

        The signals (:meth:`signals`: the user score and the recent-neighbour score, each
        z-scored over *all* the model's videos for this user, so a value says how far above this
        user's average a video sits whatever the scale of the fit) are averaged with the
        ``collab`` and ``recent`` weights (default: the model's tuned blend, else the settings'),
        and the session signals with ``session_weights`` times their sum (default: the model's
        tuned ones, else none), renormalised over the signals present; that is also how the
        weights are tuned.
        A video the model has never seen (no interactions yet) gets NaN, which the ranker reads
        as "no signal" (0).
        """
        w = weights or self.meta.blend or BlendWeights()
        sw = session_weights or self.meta.session_blend or SessionWeights()
        side = w.collab_side or 1.0
        weight_of = {
            "collab": w.collab,
            "recent": w.recent,
            "session": sw.session * side,
            "popular": sw.popularity * side,
        }
        parts = [
            (weight, z)
            for name, z in self.signals(history, seeds).items()
            if (weight := weight_of[name]) > 0
        ]
        n = len(self.item_ids) if video_ids is None else len(video_ids)
        if not parts:
            return np.full(n, np.nan)
        total = sum(weight for weight, _ in parts)
        z = np.sum([weight * values for weight, values in parts], axis=0) / total
        return z if video_ids is None else self._at(z, video_ids)

    # -- privacy ---------------------------------------------------------------------------
    def drop_user(self, user_id: str) -> bool:
        """Remove a user's stored factors and sessions from this in-memory model; True if
        there were any."""
        with self._lock:
            row = self._user_index.get(user_id)
            if row is None:
                return self._drop_sessions(user_id)
            keep = np.ones(len(self.user_ids), dtype=bool)
            keep[row] = False
            self._drop_sessions(user_id)
            self._als.user_factors = np.ascontiguousarray(self.user_factors[keep])
            self._als._user_norms = None
            self._als._XtX = None
            del self.user_ids[row]
            self._user_index = {u: n for n, u in enumerate(self.user_ids)}
            return True

    def _drop_sessions(self, user_id: str) -> bool:
        """Remove the user's session rows (and their co-occurrence counts); True if any."""
        mine = np.array([u == user_id for u in self.sessions.users], dtype=bool)
        if not mine.any():
            return False
        keep = ~mine
        self._set_sessions(
            Sessions(
                [u for u, k in zip(self.sessions.users, keep, strict=True) if k],
                self.sessions.matrix[keep],
            )
        )
        self.meta = replace(self.meta, n_sessions=len(self.sessions.users))
        return True

    # -- persistence -----------------------------------------------------------------------
    def save_to(self, folder: Path) -> None:
        """Write ``als.npz``, ``index.npz`` and finally ``meta.json`` into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self._als.save(str(folder / _ALS))
        np.savez(
            folder / _INDEX,
            user_ids=np.asarray(self.user_ids, dtype=np.str_),
            item_ids=np.asarray(self.item_ids, dtype=np.str_),
            popularity=self.popularity,
            session_users=np.asarray(self.sessions.users, dtype=np.str_),
            session_indptr=self.sessions.matrix.indptr,
            session_indices=self.sessions.matrix.indices,
        )
        (folder / _META).write_text(self.meta.to_json(), encoding="utf-8")

    @classmethod
    def load_from(cls, folder: Path) -> CollabModel:
        from implicit.cpu.als import AlternatingLeastSquares

        meta = ModelMeta.from_json((folder / _META).read_text(encoding="utf-8"))
        try:
            als = AlternatingLeastSquares.load(str(folder / _ALS))
            with np.load(folder / _INDEX, allow_pickle=False) as index:
                user_ids = [str(u) for u in index["user_ids"]]
                item_ids = [str(i) for i in index["item_ids"]]
                popularity = index["popularity"]
                sessions = Sessions.empty(len(item_ids))
                if "session_users" in index:  # versions saved before sessions have none
                    users = [str(u) for u in index["session_users"]]
                    indices = index["session_indices"]
                    matrix = csr_matrix(
                        (np.ones(len(indices), dtype=np.float32), indices, index["session_indptr"]),
                        shape=(len(users), len(item_ids)),
                    )
                    sessions = Sessions(users, matrix)
        except (OSError, KeyError, ValueError) as exc:
            raise CollabError(
                f"The collaborative model in {folder} cannot be read",
                expected=f"{_ALS} and {_INDEX} written by `vidrec train`",
                got=str(exc),
                hint=f"Delete {folder} and run `vidrec train` again",
            ) from exc
        cfg = CollabSettings(**meta.settings)
        als.num_threads = cfg.threads
        return cls(als, user_ids, item_ids, popularity, meta, cfg, sessions)


# --- versions on disk -------------------------------------------------------------------------
class ModelStore:
    """Versioned collaborative models under one folder (``<data_dir>/collab``)."""

    def __init__(self, root: Path, keep_versions: int = 3) -> None:
        self.root = Path(root)
        self.keep_versions = max(1, keep_versions)

    def versions(self) -> list[Path]:
        """Complete versions (with ``meta.json``), oldest first."""
        if not self.root.is_dir():
            return []
        found = [
            p
            for p in self.root.iterdir()
            if p.is_dir()
            and p.name.startswith("v")
            and p.name[1:].isdigit()
            and (p / _META).is_file()
        ]
        return sorted(found, key=lambda p: int(p.name[1:]))

    def latest(self) -> Path | None:
        versions = self.versions()
        return versions[-1] if versions else None

    def load_latest(self) -> CollabModel | None:
        """The newest complete version, or None when nothing was trained yet."""
        path = self.latest()
        return None if path is None else CollabModel.load_from(path)

    def save(self, model: CollabModel) -> Path:
        """Write ``model`` as the next version (atomically: a temp folder renamed), prune old ones."""
        self.root.mkdir(parents=True, exist_ok=True)
        existing = [int(p.name[1:]) for p in self.root.glob("v[0-9]*") if p.name[1:].isdigit()]
        version = max(existing, default=0) + 1
        model.meta = replace(model.meta, version=version)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            model.save_to(tmp)
            target = self.root / f"v{version:04d}"
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in self.versions()[: -self.keep_versions]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.root.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        log.info("saved collaborative model %s", target)
        return target

    def user_factors(self, user_id: str) -> dict[str, list[float]]:
        """The user's stored factors in each version that has them (for export)."""
        out: dict[str, list[float]] = {}
        for path in self.versions():
            model = CollabModel.load_from(path)
            vector = model.stored_user_vector(user_id)
            if vector is not None:
                out[path.name] = [round(float(x), 6) for x in vector]
        return out

    def forget_user(self, user_id: str) -> int:
        """Drop the user's factors and id from every stored version; returns versions changed.

        Each version is rewritten in a temp folder and swapped in, so a crash leaves either the
        old or the new files, never half of them. (Their interactions are gone from SQL, so the
        next ``vidrec train`` does not see them either.)
        """
        changed = 0
        for path in self.versions():
            model = CollabModel.load_from(path)
            if not model.drop_user(user_id):
                continue
            model.meta = replace(model.meta, n_users=len(model.user_ids))
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
            try:
                model.save_to(tmp)
                for name in (_ALS, _INDEX, _META):
                    os.replace(tmp / name, path / name)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            changed += 1
        return changed


def model_root(data_dir: Path) -> Path:
    """Where versions live: next to the Chroma index, under the data dir."""
    return Path(data_dir) / MODEL_DIR_NAME


def require_model(model: CollabModel | None) -> CollabModel:
    if model is None:
        raise NotReadyError(
            "No collaborative model has been trained yet",
            hint="Run `vidrec train` after recording feedback or importing interactions",
        )
    return model


# --- tuning the blend on held-out data ---------------------------------------------------------
def row_zscore(matrix: np.ndarray) -> np.ndarray:
    """z-score each row (one user's scores over the catalogue); NaN -> 0 (average)."""
    arr = np.asarray(matrix, dtype=np.float32)
    mask = np.isnan(arr)
    filled = np.where(mask, 0.0, arr)
    count = np.maximum((~mask).sum(axis=1, keepdims=True), 1)
    mean = filled.sum(axis=1, keepdims=True) / count
    centred = np.where(mask, 0.0, arr - mean)
    std = np.sqrt((centred**2).sum(axis=1, keepdims=True) / count)
    std[std < 1e-12] = np.inf  # constant row: no information, all zeros
    return (centred / std).astype(np.float32)


def hits_gains(
    scores: np.ndarray, targets: np.ndarray, k: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: hit@k (0/1) and NDCG@k of its one held-out target (excluded items must be -inf
    already).

    Ties are broken as a top-k list breaks them (the lower column first), never in the target's
    favour: sparse signals (item-item neighbours) tie often, and counting only strictly better
    items would rank a target first among hundreds of equal scores.
    """
    rows = np.arange(len(targets))
    target_scores = scores[rows, targets][:, None]
    cols = np.arange(scores.shape[1])[None, :]
    ahead = (scores > target_scores) | ((scores == target_scores) & (cols < targets[:, None]))
    rank = ahead.sum(axis=1)
    hit = rank < k
    return hit.astype(np.float64), np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)


def hit_ndcg(scores: np.ndarray, targets: np.ndarray, k: int = 10) -> tuple[float, float]:
    """HR@k and NDCG@k over the rows (see :func:`hits_gains`)."""
    hit, ndcg = hits_gains(scores, targets, k)
    return float(hit.mean()), float(ndcg.mean())


@dataclass(frozen=True)
class TuningResult:
    """Blend weights chosen on validation data and what they scored."""

    weights: BlendWeights
    metric: str  # what was maximised, e.g. "ndcg@10"
    scores: dict[str, float]  # "<signal or blend>:hr@10" / ":ndcg@10" on the validation split
    n_users: int
    candidates_tried: int


def _simplex(names: Sequence[str], step: float) -> list[dict[str, float]]:
    units = round(1.0 / step)
    out: list[dict[str, float]] = []

    def rec(i: int, left: int, acc: list[int]) -> None:
        if i == len(names) - 1:
            out.append({n: a * step for n, a in zip(names, [*acc, left], strict=True)})
            return
        for a in range(left + 1):
            rec(i + 1, left - a, [*acc, a])

    rec(0, units, [])
    return out


# collab : profile ratios tried when tuning the ranker's blend: log-spaced, since the raw profile
# cosine varies far less across a catalogue than the standardised collab score does
RATIOS = (0.0, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.35, 0.5, 1.0, 2.0, 5.0)


def ratio_grid(
    first: str = "profile",
    others: Sequence[str] = ("collab",),
    ratios: Sequence[float] = RATIOS,
) -> list[dict[str, float]]:
    """Weights proportional to ``{first: 1, other_j: r_j}`` for every combination of ratios
    ``r_j``, and to ``{first: 0, other_j: r_j}`` (the others alone), normalised to sum to 1,
    each distinct combination once."""
    grid: list[dict[str, float]] = []
    seen: set[tuple[float, ...]] = set()
    for head in (1.0, 0.0):
        for combo in itertools.product(ratios, repeat=len(others)):
            raw = (head, *combo)
            total = sum(raw)
            if total <= 0:
                continue
            key = tuple(round(x / total, 9) for x in raw)
            if key not in seen:
                seen.add(key)
                grid.append(dict(zip((first, *others), key, strict=True)))
    return grid


def tune_blend(
    signals: Mapping[str, np.ndarray],
    targets: np.ndarray,
    exclude: csr_matrix | None = None,
    *,
    k: int = 10,
    step: float = 0.1,
    source: str = "validation",
    standardise: bool = True,
    weight_grid: Sequence[Mapping[str, float]] | None = None,
) -> TuningResult:
    """Grid search over the simplex of weights for the given signals, maximising NDCG@k.

    Args:
        signals: name ("profile", "collab", "popularity", "content") -> (users x items) raw
            scores, NaN where a signal has nothing to say; every matrix the same shape.
        targets: the held-out item (column) of each user.
        exclude: users x items, non-zero where an item must not be ranked (already seen).
        source: recorded in the weights, e.g. "tuned on movielens validation".
        standardise: z-score each signal per user first; False when the signals are already
            in the form the ranker combines them (raw profile cosine, standardised collab).
        weight_grid: the weight combinations to try (default: the simplex at ``step``).
    """
    if not signals:
        raise InvalidInputError("Nothing to tune", expected="at least one signal", got="none")
    names = list(signals)
    z = {
        n: row_zscore(m) if standardise else np.nan_to_num(np.asarray(m, dtype=np.float32))
        for n, m in signals.items()
    }
    shape = next(iter(z.values())).shape
    mask = np.zeros(shape, dtype=bool)
    if exclude is not None:
        coo = exclude.tocoo()
        mask[coo.row, coo.col] = True
        mask[np.arange(len(targets)), targets] = False

    def evaluate(weights: Mapping[str, float]) -> tuple[float, float]:
        total = np.zeros(shape, dtype=np.float32)
        for name, w in weights.items():
            if w:
                total += np.float32(w) * z[name]
        total[mask] = -np.inf
        return hit_ndcg(total, targets, k)

    scores: dict[str, float] = {}
    for name in names:
        hr, ndcg = evaluate({name: 1.0})
        scores[f"{name}:hr@{k}"] = round(hr, 4)
        scores[f"{name}:ndcg@{k}"] = round(ndcg, 4)
    grid: list[Mapping[str, float]] = (
        list(weight_grid) if weight_grid is not None else list(_simplex(names, step))
    )
    best: tuple[float, float, Mapping[str, float]] = (-1.0, -1.0, {})
    for weights in grid:
        hr, ndcg = evaluate(weights)
        if (ndcg, hr) > best[:2]:
            best = (ndcg, hr, weights)
    ndcg, hr, chosen = best
    scores[f"blend:hr@{k}"] = round(hr, 4)
    scores[f"blend:ndcg@{k}"] = round(ndcg, 4)
    chosen_weights = BlendWeights(
        content=round(chosen.get("content", 0.0), 6),
        profile=round(chosen.get("profile", 0.0), 6),
        collab=round(chosen.get("collab", 0.0), 6),
        popularity=round(chosen.get("popularity", 0.0), 6),
        recent=round(chosen.get("recent", 0.0), 6),
        source=source,
    )
    log.info("tuned blend %s: ndcg@%d %.4f hr@%d %.4f", chosen_weights, k, ndcg, k, hr)
    return TuningResult(chosen_weights, f"ndcg@{k}", scores, len(targets), len(grid))


# --- leave-last-out on the interaction log -------------------------------------------------------
def leave_last_out(
    events: Sequence[FeedbackEvent], cfg: CollabSettings, *, min_positive: int = 3
) -> tuple[list[FeedbackEvent], dict[str, str]]:
    """Hold out each user's most recent positive video (users with >= ``min_positive`` of them).

    Returns the events without the held-out pairs, and user -> held-out video id.
    """
    latest: dict[str, dict[str, datetime]] = {}
    for event in events:
        if event_strength(event, cfg) > 0:
            per_user = latest.setdefault(event.user_id, {})
            seen = per_user.get(event.video_id)
            if seen is None or event.timestamp > seen:
                per_user[event.video_id] = event.timestamp
    held: dict[str, str] = {}
    for user, items in latest.items():
        if len(items) >= min_positive:
            held[user] = max(items.items(), key=lambda kv: (kv[1], kv[0]))[0]
    train = [e for e in events if held.get(e.user_id) != e.video_id]
    return train, held


def profile_scores(
    users: Sequence[str],
    events: Iterable[FeedbackEvent],
    item_ids: Sequence[str],
    item_vectors: Mapping[str, np.ndarray],
    agent: AgentSettings,
) -> np.ndarray:
    """The ranker's profile score of every item for every user (users x items, NaN: no vector).

    Exactly what ``agent.ranking`` uses: ``agent.profile.build_profile`` over the user's events
    (recency measured from their latest event) and ``UserProfile.score`` (cosine to the positive
    taste minus ``negative_weight`` times cosine to the negative one); 0 for a user without one.
    """
    from agent.profile import ProfileWeights, build_profile

    by_user: dict[str, list[FeedbackEvent]] = {u: [] for u in users}
    for event in events:
        bucket = by_user.get(event.user_id)
        if bucket is not None:
            bucket.append(event)
    dim = len(next(iter(item_vectors.values())))
    matrix = np.zeros((len(item_ids), dim), dtype=np.float32)
    has = np.zeros(len(item_ids), dtype=bool)
    for col, video_id in enumerate(item_ids):
        vec = item_vectors.get(video_id)
        if vec is not None:
            matrix[col] = vec
            has[col] = True
    weights = ProfileWeights(
        half_life_days=agent.profile_half_life_days, negative_weight=agent.negative_weight
    )
    out = np.zeros((len(users), len(item_ids)), dtype=np.float32)
    for row, user in enumerate(users):
        history = by_user[user]
        if not history:
            continue
        now = max(e.timestamp for e in history)
        profile = build_profile(history, item_vectors, now=now, weights=weights)
        if profile.positive is not None:
            out[row] += matrix @ profile.positive
        if profile.negative is not None:
            out[row] -= profile.negative_weight * (matrix @ profile.negative)
    out[:, ~has] = np.nan
    return out


def recent_matrix(
    model: CollabModel, users: Sequence[str], events: Iterable[FeedbackEvent]
) -> np.ndarray:
    """Each user's z-scored recent-neighbour score over the model's videos (users x videos),
    exactly as :meth:`CollabModel.signals` computes it at ranking time; 0 for a user without
    a known positive video."""
    by_user: dict[str, list[FeedbackEvent]] = {u: [] for u in users}
    for event in events:
        bucket = by_user.get(event.user_id)
        if bucket is not None:
            bucket.append(event)
    out = np.zeros((len(users), len(model.item_ids)), dtype=np.float32)
    for row, user in enumerate(users):
        raw = model.recent_scores(by_user[user])
        if raw is not None:
            out[row] = row_zscore(raw[None, :])[0]
    return out


@dataclass(frozen=True)
class HeldSession:
    """One session's latest liked video, held out, and the ones liked before it (newest first)."""

    user_id: str
    seeds: list[str]
    target: str


def leave_last_in_session(
    events: Sequence[FeedbackEvent], cfg: CollabSettings, *, min_items: int = 2
) -> tuple[list[FeedbackEvent], list[HeldSession]]:
    """Hold out the latest positive video of every conversation session that has at least
    ``min_items`` of them; returns the events without the held-out ones."""
    latest: dict[tuple[str, str], dict[str, datetime]] = {}
    for event in events:
        sid = event.session_id
        if sid and not sid.startswith(IMPORTED_SESSION_PREFIX) and event_strength(event, cfg) > 0:
            per = latest.setdefault((event.user_id, sid), {})
            seen = per.get(event.video_id)
            if seen is None or event.timestamp > seen:
                per[event.video_id] = event.timestamp
    held: list[HeldSession] = []
    dropped: set[tuple[str, str, str]] = set()
    for (user, sid), items in sorted(latest.items()):
        if len(items) < min_items:
            continue
        order = sorted(items, key=lambda v: (items[v], v), reverse=True)
        held.append(HeldSession(user, order[1:], order[0]))
        dropped.add((user, sid, order[0]))
    train = [e for e in events if (e.user_id, e.session_id or "", e.video_id) not in dropped]
    return train, held


SESSION_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def tune_sessions(
    events: Sequence[FeedbackEvent],
    cfg: CollabSettings,
    blend: BlendWeights | None,
    *,
    k: int = 10,
    max_sessions: int = 2000,
    min_sessions: int = 10,
) -> tuple[SessionWeights, dict[str, float]] | None:
    """Choose the session weights (:class:`SessionWeights`, in units of the collaborative side)
    that rank each held-out session's latest liked video best (NDCG@k over every video, the
    user's known videos excluded), given the videos liked before it in that session as the
    conversation's seeds and the user's other events as history: the situation of a user
    mid-conversation. None with fewer than ``min_sessions`` sessions of 2+ liked videos."""
    train_events, held = leave_last_in_session(events, cfg)
    if len(held) < min_sessions:
        log.info("too few sessions with 2+ liked videos (%d) to tune session weights", len(held))
        return None
    model = CollabModel.fit(train_events, cfg, blend=blend)
    held = [h for h in held if model.has_item(h.target)]
    if len(held) > max_sessions:
        rng = np.random.default_rng(cfg.seed)
        held = [held[i] for i in sorted(rng.choice(len(held), max_sessions, replace=False))]
    if len(held) < min_sessions:
        return None
    by_user: dict[str, list[FeedbackEvent]] = {}
    for event in train_events:
        by_user.setdefault(event.user_id, []).append(event)
    w = blend or BlendWeights()
    side = w.collab_side or 1.0
    combos = [(s, p) for s in SESSION_GRID for p in SESSION_GRID]
    weights = np.array([[w.collab, w.recent, s * side, p * side] for s, p in combos])
    names = ("collab", "recent", "session", "popular")
    hits = np.zeros(len(combos))
    gains = np.zeros(len(combos))
    for case in held:
        history = by_user.get(case.user_id, [])
        found = model.signals(history, case.seeds)
        z = np.array([found.get(n, np.zeros(len(model.item_ids))) for n in names])
        present = np.array([n in found for n in names], dtype=np.float64)
        total = (
            (weights * present) @ z / np.maximum((weights * present).sum(axis=1), 1e-12)[:, None]
        )
        seen = model.item_rows([*case.seeds, *(e.video_id for e in history)])
        seen = seen[seen >= 0]
        target = model.item_rows([case.target])[0]
        seen = seen[seen != target]
        total[:, seen] = -np.inf
        hit, gain = hits_gains(total, np.full(len(combos), target), k)
        hits += hit
        gains += gain
    n = len(held)
    best = max(range(len(combos)), key=lambda i: (gains[i], hits[i], -sum(combos[i])))
    scores = {
        "sessions": float(n),
        f"session:none:ndcg@{k}": round(float(gains[0] / n), 4),
        f"session:none:hr@{k}": round(float(hits[0] / n), 4),
        f"session:blend:ndcg@{k}": round(float(gains[best] / n), 4),
        f"session:blend:hr@{k}": round(float(hits[best] / n), 4),
    }
    chosen = SessionWeights(
        *combos[best], source="tuned on the interaction log (last liked video of each session)"
    )
    log.info("tuned session weights %s: %s", chosen, scores)
    return chosen, scores


@dataclass(frozen=True)
class TrainReport:
    path: Path
    meta: ModelMeta
    tuning: TuningResult | None
    session_tuning: dict[str, float] | None = None


def train(
    events: Sequence[FeedbackEvent],
    cfg: CollabSettings,
    store: ModelStore,
    *,
    item_vectors: Mapping[str, np.ndarray] | None = None,
    tune: bool = True,
    max_tune_users: int = 2000,
    agent: AgentSettings | None = None,
) -> TrainReport:
    """Fit, tune the blend on a leave-last-out split of the same log, refit on all, save a version.

    Tuning (when at least 10 users have 3+ positive videos): fit on the log minus each user's
    latest positive video, then choose the weights of collab, popularity and (when
    ``item_vectors`` are given) profile similarity that rank the held-out video best (NDCG@10).
    Then, when the log has conversation sessions with 2+ liked videos, :func:`tune_sessions`
    weighs the session signals. The weights are recorded in ``meta.json``; the content-relevance
    weight is not tunable from a log without conversations and stays a setting.
    """
    tuning: TuningResult | None = None
    sessions: tuple[SessionWeights, dict[str, float]] | None = None
    if tune:
        tuning = _tune_on_log(events, cfg, agent or AgentSettings(), item_vectors, max_tune_users)
        sessions = tune_sessions(events, cfg, tuning.weights if tuning else None)
    validation = {**(tuning.scores if tuning else {}), **(sessions[1] if sessions else {})}
    model = CollabModel.fit(
        events,
        cfg,
        blend=tuning.weights if tuning else None,
        validation=validation or None,
        session_blend=sessions[0] if sessions else None,
    )
    path = store.save(model)
    return TrainReport(path, model.meta, tuning, sessions[1] if sessions else None)


def _tune_on_log(
    events: Sequence[FeedbackEvent],
    cfg: CollabSettings,
    agent: AgentSettings,
    item_vectors: Mapping[str, np.ndarray] | None,
    max_users: int,
) -> TuningResult | None:
    if not item_vectors or len({np.asarray(v).shape[-1] for v in item_vectors.values()}) != 1:
        log.info("no content vectors for the videos: nothing to blend the collab score with")
        return None
    train_events, held = leave_last_out(events, cfg)
    if len(held) < 10:
        log.info("too few users with 3+ positive videos (%d) to tune the blend", len(held))
        return None
    model = CollabModel.fit(train_events, cfg)
    users = [u for u in model.user_ids if u in held and model.has_item(held[u])]
    if len(users) > max_users:
        rng = np.random.default_rng(cfg.seed)
        users = sorted(rng.choice(users, size=max_users, replace=False).tolist())
    if len(users) < 10:
        return None
    rows = np.array([model.user_row(u) for u in users])
    targets = model.item_rows([held[u] for u in users])
    matrix = build_matrix(train_events, cfg, item_ids=model.item_ids)
    user_pos = {u: n for n, u in enumerate(matrix.user_ids)}
    seen = matrix.matrix[[user_pos[u] for u in users]]
    profile = profile_scores(users, train_events, model.item_ids, item_vectors, agent)
    signals = {
        "profile": profile,
        "collab": row_zscore(model.user_factors[rows] @ model.item_factors.T),
        "recent": recent_matrix(model, users, train_events),
    }
    return tune_blend(
        signals,
        targets,
        seen,
        standardise=False,
        weight_grid=ratio_grid("profile", ("collab", "recent")),
        source="tuned on the interaction log (leave-last-out)",
    )


# --- the handle the agent uses ------------------------------------------------------------------
class Collaborative:
    """Process-wide access to the newest model: scores for ranking, popularity, privacy.

    Cheap to create (nothing loads until the first call). A version saved by ``vidrec train`` in
    another process is picked up on the next call. Thread-safe.
    """

    def __init__(self, data_dir: Path, cfg: CollabSettings) -> None:
        self.cfg = cfg
        self.store = ModelStore(model_root(data_dir), cfg.keep_versions)
        self._model: CollabModel | None = None
        self._loaded_from: Path | None = None
        self._lock = threading.Lock()
        # the last user state scored: (model, (history, seeds), score of every model video)
        self._last: tuple[CollabModel, tuple[Any, ...], np.ndarray] | None = None

    @property
    def model(self) -> CollabModel | None:
        """The newest complete version on disk (reloaded when a newer one appears)."""
        latest = self.store.latest()
        with self._lock:
            if latest is None:
                self._model, self._loaded_from = None, None
            elif latest != self._loaded_from:
                self._model = CollabModel.load_from(latest)
                self._loaded_from = latest
                log.info("loaded collaborative model %s", latest)
            return self._model

    def collab_scores(
        self,
        history: Sequence[FeedbackEvent],
        video_ids: Sequence[str],
        seeds: Sequence[str] = (),
    ) -> np.ndarray:
        """Standardised collaborative score per video (NaN: no signal; no model yet: all NaN).

        ``history`` is the user's *current* events (the fold-in makes the newest like count at
        once); ``seeds`` are video ids liked in this conversation. This is the
        ``agent.ranking.CollabScorer`` protocol.
        """
        model = self.model
        if model is None or not video_ids:
            return np.full(len(video_ids), np.nan)
        return model._at(self._all_scores(model, history, seeds), video_ids)

    def _all_scores(
        self, model: CollabModel, history: Sequence[FeedbackEvent], seeds: Sequence[str]
    ) -> np.ndarray:
        """The score of every model video for this user state. A turn asks twice (the
        candidates, then the pool's scores), so the last state's scores are kept."""
        key = (tuple(history), tuple(seeds))
        with self._lock:
            last = self._last
            if last is not None and last[0] is model and last[1] == key:
                return last[2]
        if self.cfg.use_tuned_weights:
            scores = model.collab_scores(history, None, seeds)
        else:
            scores = model.collab_scores(
                history, None, seeds, weights=BlendWeights(), session_weights=SessionWeights()
            )
        with self._lock:
            self._last = (model, key, scores)
        return scores

    def collab_candidates(
        self, history: Sequence[FeedbackEvent], seeds: Sequence[str], k: int
    ) -> list[str]:
        """The ``k`` videos with the best collaborative score for this user (the model's videos,
        best first; [] before any training or without any signal)."""
        model = self.model
        if model is None or k <= 0:
            return []
        scores = self._all_scores(model, history, seeds)
        present = np.flatnonzero(~np.isnan(scores))
        order = present[np.argsort(-scores[present], kind="stable")][:k]
        return [model.item_ids[i] for i in order]

    def collab_weight(self, profile_weight: float, default: float) -> float:
        """Weight of the collaborative score in a ranking where the profile cosine has weight
        ``profile_weight`` (the ranker's ``h``).

        When the model carries tuned weights (profile w_p, ALS w_c, recent neighbours w_r, chosen
        on held-out data by :func:`tune_blend` in the ranker's own terms: raw profile cosine +
        standardised collaborative scores), their ratio is kept: ``profile_weight * (w_c + w_r) /
        w_p`` (the ratio capped at ``MAX_COLLAB_RATIO``); :meth:`collab_scores` already mixes the
        two signals by ``w_c : w_r``. Without a profile (``profile_weight == 0``: a new
        conversational user whose liked videos are the only seeds) there is no ratio to keep and
        ``default`` applies; so it does without tuned weights or with ``use_tuned_weights`` off.
        """
        model = self.model
        tuned = model.meta.blend if model is not None else None
        if tuned is None or not self.cfg.use_tuned_weights or profile_weight <= 0:
            return default
        side = tuned.collab_side
        if side <= 0:
            return 0.0
        ratio = MAX_COLLAB_RATIO if tuned.profile <= 0 else side / tuned.profile
        return profile_weight * min(ratio, MAX_COLLAB_RATIO)

    def popularity(self) -> dict[str, float]:
        """Users with a positive pair per video, from the newest model ({} before any training)."""
        model = self.model
        if model is None:
            return {}
        return {v: float(p) for v, p in zip(model.item_ids, model.popularity, strict=True) if p > 0}

    def export_user(self, user_id: str) -> dict[str, list[float]]:
        """The user's stored factors per model version (empty when none holds them)."""
        return self.store.user_factors(user_id)

    def forget_user(self, user_id: str) -> int:
        """Drop the user's factors from every stored version and from memory now."""
        with self._lock:
            changed = self.store.forget_user(user_id)
            self._last = None  # it may hold this user's history and scores
            if self._model is not None:
                self._model.drop_user(user_id)
        return changed


def train_from_log(
    settings: Settings, *, tune: bool = True, item_vectors: Mapping[str, np.ndarray] | None = None
) -> TrainReport:
    """``vidrec train``: fit on every event in the SQL log, tune, save the next version.

    ``item_vectors`` default to the library's video vectors (``Library.video_vectors``) when
    tuning and the library has indexed any of the videos; without them the blend is not tuned
    and the ranker keeps ``AgentSettings.collab_weight``.
    """
    from agent.interactions import all_events
    from agent.users import UserStore

    store = UserStore(settings.sql_url)
    try:
        events = all_events(store)
    finally:
        store.close()
    if tune and item_vectors is None:
        item_vectors = _library_vectors(settings, {e.video_id for e in events})
    cfg = settings.agent.collab
    return train(
        events,
        cfg,
        ModelStore(model_root(settings.data_dir), cfg.keep_versions),
        item_vectors=item_vectors,
        tune=tune,
        agent=settings.agent,
    )


def _library_vectors(settings: Settings, video_ids: set[str]) -> dict[str, np.ndarray]:
    """The library's content vectors for these videos ({} when nothing is indexed)."""
    if not settings.chroma_dir.exists():
        return {}
    from retrieval.library import Library

    library = Library(settings)
    try:
        return library.video_vectors(sorted(video_ids))
    except VidrecError as exc:
        log.warning("no content vectors for tuning: %s", exc)
        return {}
    finally:
        library.close()


def collab_of(scorer: object) -> Collaborative | None:
    """The :class:`Collaborative` behind a ranker's scorer (None for any other scorer)."""
    return scorer if isinstance(scorer, Collaborative) else None

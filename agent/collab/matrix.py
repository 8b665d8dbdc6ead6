"""The interaction matrix and the conversation sessions, built from the event log.

Each (user, video) pair gets a *strength*, the sum over its events (weights from
:class:`agent.settings.CollabSettings`, signs from ``agent.feedback.polarity``):

* ``like`` +like_strength; ``dislike`` -dislike_strength;
* ``watched`` +watch_strength * fraction (fraction defaults to 1);
* ``rating`` r: +rating_strength * r / 5 when positive (r >= 2.5), else -dislike_strength;
* ``impression`` 0 (shown is not chosen).

The ALS confidence is ``1 + alpha * |strength|``, negative for a negative strength: the ``implicit``
library reads a negative confidence as "preference 0 with that confidence" (a known dislike), and a
missing pair as preference 0 with confidence 1 (Hu, Koren & Volinsky 2008).

A *session* is one conversation's positive videos (imported logs are not conversations).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from agent.feedback import polarity
from agent.settings import CollabSettings
from agent.types import FeedbackEvent
from retrieval.errors import VidrecError

__all__ = [
    "IMPORTED_SESSION_PREFIX",
    "CollabError",
    "InteractionMatrix",
    "Sessions",
    "build_matrix",
    "build_sessions",
    "confidence",
    "event_strength",
    "pair_strengths",
]

IMPORTED_SESSION_PREFIX = "import:"  # session_id of imported logs (agent.interactions)


class CollabError(VidrecError):
    """The collaborative model cannot be fitted or read."""

    http_status = 500
    code = "collab_error"


def event_strength(event: FeedbackEvent, cfg: CollabSettings) -> float:
    """Signed strength one event adds to its (user, video) pair (see the module docstring);
    its sign is the event's ``agent.feedback.polarity``."""
    sign = polarity(event)
    if sign == 0:
        return 0.0
    if event.kind == "watched":
        fraction = 1.0 if event.value is None else float(event.value)
        return cfg.watch_strength * min(fraction, 1.0)
    if event.kind == "rating" and sign > 0:
        return cfg.rating_strength * float(event.value or 0.0) / 5.0
    return cfg.like_strength if sign > 0 else -cfg.dislike_strength


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

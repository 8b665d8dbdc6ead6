"""How the collaborative signals are weighed: the blend weights, the per-user z-score, and the
rule that turns the tuned weights into the ranker's collaborative weight.

Every signal is z-scored over all the model's videos for one user (:func:`row_zscore`), so a value
says how far above this user's average a video sits whatever the scale of the fit; the signals
present are then averaged with their weights (:func:`combine`), renormalised over the ones present.
That is how the weights are tuned (``agent.collab.tuning``) and how they are applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_COLLAB_RATIO",
    "SIGNALS",
    "BlendWeights",
    "SessionWeights",
    "collab_weight",
    "combine",
    "row_zscore",
    "signal_weights",
]

MAX_COLLAB_RATIO = 20.0  # tuned collab weight at most this many times the profile weight
SIGNALS = ("collab", "recent", "session", "popular", "next")  # the collaborative signals, in order


@dataclass(frozen=True)
class BlendWeights:
    """Weights of the z-scored signals, as tuned on held-out data (``agent.collab.tuning``).

    ``content`` is relevance to the conversation (search), ``profile`` similarity to the user's
    history profile, ``collab`` the user's ALS score, ``recent`` the recent-neighbour score,
    ``popularity`` log popularity, ``next`` what people went on to after the user's recent
    videos (``agent.collab.transitions``; 0, unused, until tuned). ``source`` says where they come
    from ("settings" or "tuned on ...").
    """

    content: float = 1.0
    profile: float = 0.3
    collab: float = 0.2
    popularity: float = 0.0
    recent: float = 0.2
    source: str = "settings"
    next: float = 0.0

    @property
    def collab_side(self) -> float:
        """Total weight of the collaborative signals (ALS user score, recent neighbours, what
        people watch next)."""
        return self.collab + self.recent + self.next


@dataclass(frozen=True)
class SessionWeights:
    """Weights of the two conversation-session signals, as multiples of the collaborative side
    (``BlendWeights.collab + BlendWeights.recent``): ``session`` the co-occurrence of a video with
    the user's seeds in other users' sessions, ``popularity`` how many sessions liked it. Tuned by
    ``agent.collab.training.train`` on held-out session items; 0 (unused) until then."""

    session: float = 0.0
    popularity: float = 0.0
    source: str = "settings"


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


def signal_weights(weights: BlendWeights, session: SessionWeights) -> dict[str, float]:
    """Weight of each of :data:`SIGNALS`: ``collab``, ``recent`` and ``next`` as tuned, the
    session signals as multiples of their sum (the collaborative side)."""
    side = weights.collab_side or 1.0
    return {
        "collab": weights.collab,
        "recent": weights.recent,
        "session": session.session * side,
        "popular": session.popularity * side,
        "next": weights.next,
    }


def combine(signals: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray | None:
    """Weighted mean of the (z-scored) signals present with a positive weight; None if none."""
    parts = [(w, values) for name, values in signals.items() if (w := weights.get(name, 0.0)) > 0]
    if not parts:
        return None
    total = sum(w for w, _ in parts)
    return np.asarray(np.sum([w * values for w, values in parts], axis=0) / total)


def collab_weight(tuned: BlendWeights | None, profile_weight: float, default: float) -> float:
    """Weight of the collaborative score in a ranking where the profile cosine has weight
    ``profile_weight`` (the ranker's ``h``).

    With tuned weights (profile w_p, ALS w_c, recent neighbours w_r, chosen on held-out data in the
    ranker's own terms: raw profile cosine + standardised collaborative scores), their ratio is
    kept: ``profile_weight * (w_c + w_r) / w_p`` (the ratio capped at :data:`MAX_COLLAB_RATIO`).
    Without a profile (``profile_weight == 0``: a new conversational user whose liked videos are
    the only seeds) there is no ratio to keep and ``default`` applies; so it does without tuned
    weights.
    """
    if tuned is None or profile_weight <= 0:
        return default
    side = tuned.collab_side
    if side <= 0:
        return 0.0
    ratio = MAX_COLLAB_RATIO if tuned.profile <= 0 else side / tuned.profile
    return profile_weight * min(ratio, MAX_COLLAB_RATIO)

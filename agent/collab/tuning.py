"""Tuning the blend on held-out data: the weights of the profile and the collaborative signals
(:func:`tune_blend` over the ranker's own scores), and the session weights
(:func:`tune_sessions`), each chosen for the best NDCG@k of a held-out video."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.sparse import csr_matrix

from agent.collab.blend import SIGNALS, BlendWeights, SessionWeights, row_zscore
from agent.collab.metrics import hit_ndcg, hits_gains
from agent.collab.model import CollabModel
from agent.collab.splits import leave_last_in_session
from agent.settings import AgentSettings, CollabSettings
from agent.types import FeedbackEvent
from retrieval.errors import InvalidInputError

__all__ = [
    "NEXT_GRID",
    "RATIOS",
    "SESSION_GRID",
    "TuningResult",
    "profile_scores",
    "ratio_grid",
    "recent_matrix",
    "tune_blend",
    "tune_next",
    "tune_sessions",
]

log = logging.getLogger(__name__)


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
        next=round(chosen.get("next", 0.0), 6),
    )
    log.info("tuned blend %s: ndcg@%d %.4f hr@%d %.4f", chosen_weights, k, ndcg, k, hr)
    return TuningResult(chosen_weights, f"ndcg@{k}", scores, len(targets), len(grid))


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
    model: CollabModel,
    users: Sequence[str],
    events: Iterable[FeedbackEvent],
    signal: str = "recent",
) -> np.ndarray:
    """Each user's z-scored ``signal`` (``recent``: the recent neighbours; ``next``: what people
    watch next) over the model's videos (users x videos), exactly as
    :meth:`CollabModel.signals` computes it at ranking time; 0 for a user without one."""
    by_user: dict[str, list[FeedbackEvent]] = {u: [] for u in users}
    for event in events:
        bucket = by_user.get(event.user_id)
        if bucket is not None:
            bucket.append(event)
    scores = model.next_scores if signal == "next" else model.recent_scores
    out = np.zeros((len(users), len(model.item_ids)), dtype=np.float32)
    for row, user in enumerate(users):
        raw = scores(by_user[user])
        if raw is not None:
            out[row] = row_zscore(raw[None, :])[0]
    return out


# weights of the next-video signal tried beside the tuned blend (whose weights sum to 1)
NEXT_GRID = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 4.0)


def tune_next(
    signals: Mapping[str, np.ndarray],
    tuned: TuningResult,
    next_signal: np.ndarray,
    targets: np.ndarray,
    exclude: csr_matrix | None = None,
    *,
    k: int = 10,
) -> TuningResult:
    """Add the next-video signal to a tuned blend: each weight of :data:`NEXT_GRID` beside the
    tuned ones (the same signals, in the same form :func:`tune_blend` scored them), the best
    NDCG@k kept (0 when none beats the blend), the weights renormalised to sum to 1."""
    w = tuned.weights
    base = {"profile": w.profile, "collab": w.collab, "recent": w.recent}
    grid = [{**base, "next": x} for x in NEXT_GRID if x == 0 or next_signal.any()]
    found = tune_blend(
        {**{n: signals[n] for n in base if n in signals}, "next": next_signal},
        targets,
        exclude,
        k=k,
        standardise=False,
        weight_grid=grid,
        source=w.source,
    )
    chosen = found.weights
    total = chosen.profile + chosen.collab_side or 1.0
    weights = replace(
        chosen,
        profile=round(chosen.profile / total, 6),
        collab=round(chosen.collab / total, 6),
        recent=round(chosen.recent / total, 6),
        next=round(chosen.next / total, 6),
    )
    scores = {**tuned.scores, **{key: v for key, v in found.scores.items() if "next" in key}}
    scores.update(
        {
            f"blend+next:{key.split(':')[1]}": v
            for key, v in found.scores.items()
            if key.startswith("blend:")
        }
    )
    return TuningResult(
        weights, found.metric, scores, tuned.n_users, tuned.candidates_tried + len(grid)
    )


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
    model = CollabModel.fit_events(train_events, cfg, blend=blend)
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
    weights = np.array([[w.collab, w.recent, s * side, p * side, w.next] for s, p in combos])
    names = SIGNALS
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

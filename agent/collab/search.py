"""Choosing the collaborative model's own settings on the interaction log (``vidrec train
--search``): ALS ``factors`` / ``regularization`` / ``alpha`` from a grid, then ``recent_decay``,
each by the NDCG@10 of every user's latest positive video held out of the same log
(:func:`agent.collab.splits.leave_last_out`), the user's other videos excluded from the ranking.

This is how the ``CollabSettings`` defaults were chosen on MovieLens; on an operator's own log it
picks settings for that log. The chosen settings are what the model is then fitted with, and
``meta.json`` records them (``settings``) and what each candidate scored (``validation``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix

from agent.collab.blend import row_zscore
from agent.collab.matrix import build_matrix
from agent.collab.metrics import hit_ndcg
from agent.collab.model import CollabModel
from agent.collab.splits import leave_last_out
from agent.collab.tuning import recent_matrix
from agent.settings import CollabSettings
from agent.types import FeedbackEvent

__all__ = ["ALS_GRID", "RECENT_DECAYS", "HeldOut", "SearchResult", "held_out", "search_settings"]

log = logging.getLogger(__name__)

ALS_GRID: tuple[dict[str, float], ...] = tuple(
    {"factors": f, "regularization": r, "alpha": a}
    for f in (32, 64, 128)
    for r in (0.05, 1.0)
    for a in (2.0, 10.0, 40.0)
)
RECENT_DECAYS = (0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class HeldOut:
    """The users scored on a held-out split: their model rows, target columns and the videos
    already seen (users x model videos, non-zero = excluded from their ranking)."""

    users: list[str]
    rows: np.ndarray
    targets: np.ndarray
    seen: csr_matrix

    def ndcg(self, scores: np.ndarray, k: int = 10) -> float:
        """NDCG@k of the held-out videos under ``scores`` (users x model videos)."""
        masked = np.array(scores, dtype=np.float64, copy=True)
        rows, cols = self.seen.nonzero()
        masked[rows, cols] = -np.inf
        return hit_ndcg(masked, self.targets, k)[1]


def held_out(
    model: CollabModel,
    train_events: Sequence[FeedbackEvent],
    held: Mapping[str, str],
    cfg: CollabSettings,
    max_users: int = 2000,
) -> HeldOut | None:
    """The users of ``held`` the model can score (a sample of ``max_users``, seeded), or None
    when fewer than 10 are left."""
    users = [u for u in model.user_ids if u in held and model.has_item(held[u])]
    if len(users) > max_users:
        rng = np.random.default_rng(cfg.seed)
        users = sorted(rng.choice(users, size=max_users, replace=False).tolist())
    if len(users) < 10:
        return None
    matrix = build_matrix(train_events, cfg, item_ids=model.item_ids)
    position = {u: n for n, u in enumerate(matrix.user_ids)}
    return HeldOut(
        users,
        np.array([model.user_row(u) for u in users]),
        model.item_rows([held[u] for u in users]),
        matrix.matrix[[position[u] for u in users]],
    )


@dataclass(frozen=True)
class SearchResult:
    """The settings chosen, and the held-out NDCG@10 of every candidate tried."""

    settings: CollabSettings
    scores: dict[str, float] = field(default_factory=dict)


def search_settings(
    events: Sequence[FeedbackEvent],
    cfg: CollabSettings,
    *,
    grid: Sequence[Mapping[str, float]] = ALS_GRID,
    decays: Sequence[float] = RECENT_DECAYS,
    max_users: int = 2000,
) -> SearchResult:
    """The ALS settings of ``grid`` (over ``cfg``) whose plain ALS score ranks the held-out
    videos best, then the ``recent_decay`` of ``decays`` whose recent-neighbour score does (see
    the module docstring). ``cfg`` unchanged when the log has fewer than 10 such users."""
    train_events, held = leave_last_out(events, cfg)
    scores: dict[str, float] = {}
    if len(held) < 10 or not grid:
        log.info("too few users with 3+ positive videos (%d) to search the settings", len(held))
        return SearchResult(cfg, scores)
    best: tuple[float, CollabSettings, CollabModel | None] = (-1.0, cfg, None)
    for params in grid:
        tried = cfg.model_copy(update=dict(params))
        model = CollabModel.fit_events(train_events, tried)
        split = held_out(model, train_events, held, tried, max_users)
        if split is None:
            log.info("too few users with 3+ positive videos to search the settings")
            return SearchResult(cfg, scores)
        ndcg = split.ndcg(row_zscore(model.user_factors[split.rows] @ model.item_factors.T))
        scores["als:" + ",".join(f"{k}={v:g}" for k, v in params.items())] = round(ndcg, 4)
        if ndcg > best[0]:
            best = (ndcg, tried, model)
    chosen, fitted = best[1], best[2]
    if fitted is not None and decays:
        model = fitted
        split = held_out(model, train_events, held, chosen, max_users)
        assert split is not None  # the same users scored above
        by_decay: dict[float, float] = {}
        for decay in decays:
            model.cfg = chosen.model_copy(update={"recent_decay": decay})
            by_decay[decay] = split.ndcg(recent_matrix(model, split.users, train_events))
            scores[f"recent_decay={decay:g}"] = round(by_decay[decay], 4)
        decay = max(by_decay, key=lambda d: (by_decay[d], -abs(d - cfg.recent_decay)))
        chosen = chosen.model_copy(update={"recent_decay": decay})
    log.info("searched collaborative settings: %s", scores)
    return SearchResult(chosen, scores)

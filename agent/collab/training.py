"""Training: fit on the whole log, tune the blend on held-out parts of the same log, save a
version (``vidrec train``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.collab.blend import SessionWeights, row_zscore
from agent.collab.meta import ModelMeta
from agent.collab.model import CollabModel
from agent.collab.requests import Request, RequestIndex, conversation_text
from agent.collab.search import held_out, search_settings
from agent.collab.splits import leave_last_out
from agent.collab.store import ModelStore, model_root
from agent.collab.tuning import (
    TuningResult,
    profile_scores,
    ratio_grid,
    recent_matrix,
    tune_blend,
    tune_next,
    tune_sessions,
)
from agent.settings import AgentSettings, CollabSettings, Settings
from agent.types import FeedbackEvent
from retrieval.errors import VidrecError

if TYPE_CHECKING:
    from agent.users import UserStore

__all__ = ["TrainReport", "train", "train_from_log"]

log = logging.getLogger(__name__)


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
    search: bool = False,
    requests: RequestIndex | None = None,
) -> TrainReport:
    """Fit, tune the blend on a leave-last-out split of the same log, refit on all, save a version.

    Tuning (when at least 10 users have 3+ positive videos): fit on the log minus each user's
    latest positive video, then choose the weights of collab, recent neighbours and (when
    ``item_vectors`` are given) profile similarity that rank the held-out video best (NDCG@10),
    then the weight of what people watch next beside them (:func:`tune_next`).
    Then, when the log has conversation sessions with 2+ liked videos, :func:`tune_sessions`
    weighs the session signals. The weights are recorded in ``meta.json``; the content-relevance
    weight is not tunable from a log without conversations and stays a setting.

    ``requests``: the log's conversation turns and what was taken after each
    (:mod:`agent.collab.requests`, :func:`logged_requests`), saved with the model for the
    ranker's similar-requests signal.

    ``search``: first choose the ALS settings and the recent decay on the same kind of split
    (:func:`agent.collab.search.search_settings`); the model is fitted with them.
    """
    searched: dict[str, float] = {}
    if search:
        found = search_settings(events, cfg, max_users=max_tune_users)
        cfg, searched = found.settings, found.scores
    tuning: TuningResult | None = None
    sessions: tuple[SessionWeights, dict[str, float]] | None = None
    if tune:
        tuning = _tune_on_log(events, cfg, agent or AgentSettings(), item_vectors, max_tune_users)
        sessions = tune_sessions(events, cfg, tuning.weights if tuning else None)
    validation = {
        **searched,
        **(tuning.scores if tuning else {}),
        **(sessions[1] if sessions else {}),
    }
    model = CollabModel.fit_events(
        events,
        cfg,
        blend=tuning.weights if tuning else None,
        validation=validation or None,
        session_blend=sessions[0] if sessions else None,
    )
    model.requests = requests
    model.meta = replace(model.meta, n_requests=len(requests) if requests else 0)
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
    model = CollabModel.fit_events(train_events, cfg)
    split = held_out(model, train_events, held, cfg, max_users)
    if split is None:
        return None
    users, rows, targets, seen = split.users, split.rows, split.targets, split.seen
    profile = profile_scores(users, train_events, model.item_ids, item_vectors, agent)
    signals = {
        "profile": profile,
        "collab": row_zscore(model.user_factors[rows] @ model.item_factors.T),
        "recent": recent_matrix(model, users, train_events),
    }
    tuned = tune_blend(
        signals,
        targets,
        seen,
        standardise=False,
        weight_grid=ratio_grid("profile", ("collab", "recent")),
        source="tuned on the interaction log (leave-last-out)",
    )
    return tune_next(
        signals, tuned, recent_matrix(model, users, train_events, "next"), targets, seen
    )


def train_from_log(
    settings: Settings,
    *,
    tune: bool = True,
    item_vectors: Mapping[str, np.ndarray] | None = None,
    search: bool = False,
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
        requests = logged_requests(store)
    finally:
        store.close()
    if tune and item_vectors is None:
        item_vectors = _library_vectors(settings, {e.video_id for e in events})
    index = _embedded_requests(settings, requests) if requests else None
    cfg = settings.agent.collab
    return train(
        events,
        cfg,
        ModelStore(model_root(settings.data_dir), cfg.keep_versions),
        item_vectors=item_vectors,
        tune=tune,
        agent=settings.agent,
        search=search,
        requests=index,
    )


def logged_requests(store: UserStore) -> list[Request]:
    """Every logged conversation turn after which the user took videos, as a request."""
    from agent.learn.cases import logged_cases

    return [
        Request(c.user_id, conversation_text(c.case.context), c.case.targets)
        for c in logged_cases(store)
    ]


def _embedded_requests(settings: Settings, requests: Sequence[Request]) -> RequestIndex | None:
    """The requests embedded by the library's embedder (what a turn embeds its conversation
    with)."""
    from retrieval.library import Library, query_embedder_id

    library = Library(settings)
    try:
        return RequestIndex.fit(
            requests, library.embedder.encode_queries, query_embedder_id(settings.embedding)
        )
    finally:
        library.close()


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

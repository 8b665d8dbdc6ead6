"""Training the learned ranker (``vidrec train``, after the collaborative model).

Each logged case (:func:`agent.learn.cases.logged_cases`) is replayed through the product's own
ranking (``Recommender.rank(stage="rows")``: the turn's understanding, retrieval, the blend) with
the history the user had then; its candidates are labelled 1 when the user liked them after that
answer (:func:`case_rows`). The collaborative features must not have seen the case's own
conversation, or the ranker would learn to trust them more than they deserve at serving time: the
cases are split into folds by session and each fold is replayed with a collaborative model fitted
on the log without that fold's sessions (cross-fitting, as the evaluation does with dialogues).

With fewer than ``LearnedSettings.min_turns`` usable turns nothing is saved and the hand-tuned
blend keeps ranking (the fallback).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.learn.cases import LoggedCase, RankingCase, logged_cases
from agent.learn.model import GATE_PERCENTILE, LearnedRanker, TrainingData
from agent.learn.store import RankerStore, ranker_root
from agent.settings import LearnedSettings, Settings
from agent.types import FeedbackEvent
from retrieval.types import SearchFilters

if TYPE_CHECKING:
    from agent.recommender import Recommender

__all__ = ["RankerTrainReport", "case_rows", "fit_ranker", "train_ranker"]

log = logging.getLogger(__name__)

FOLDS = 3


@dataclass(frozen=True)
class RankerTrainReport:
    """What ``vidrec train`` did with the learned ranker."""

    model: LearnedRanker | None  # None: too little data, the blend keeps ranking
    path: Path | None
    cases: int  # logged cases replayed
    turns: int  # of them with a liked video among their candidates (the training data)
    rows: int
    reason: str = ""  # why there is no model


def case_rows(
    recommender: Recommender,
    case: RankingCase,
    user_id: str,
    history: list[FeedbackEvent] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The case's candidates as feature rows (the product's ranking, ``stage="rows"``) and their
    labels (1: a target of the case)."""
    turn = recommender.rank(
        list(case.context),
        user_id,
        filters=SearchFilters(exclude_ids=case.excluded),
        stage="rows",
        history=history,
    )
    if turn.features is None:  # nothing asked and nothing known: cold-start picks, no stage
        return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
    targets = set(case.targets)
    labels = np.array([1.0 if c.video.id in targets else 0.0 for c in turn.candidates], np.float32)
    return turn.features, labels


def fit_ranker(
    turns: Sequence[tuple[np.ndarray, np.ndarray]],
    cfg: LearnedSettings,
    *,
    source: str,
    seed: int = 0,
    gate: bool = True,
) -> tuple[LearnedRanker | None, TrainingData, str]:
    """Fit on the turns' rows, or say why not: fewer than ``cfg.min_turns`` usable turns, or
    (``gate``) the learned order not ahead of the blend's on turns ranked by rankers fitted
    without them (cross-validation)."""
    data = TrainingData.stack([t for t in turns if t[0].size])
    if data.turns < cfg.min_turns:
        reason = (
            f"{data.turns} turns with a liked video among their candidates, fewer than "
            f"agent.learned.min_turns = {cfg.min_turns}: the hand-tuned blend keeps ranking"
        )
        return None, data, reason
    model = LearnedRanker.fit(data, source=source, seed=seed)
    meta = model.meta
    if gate and cfg.gate_turns and meta.gate_turns < cfg.gate_turns:
        reason = (
            f"{meta.gate_turns} turns to check it against the blend by cross-validation, fewer "
            f"than agent.learned.gate_turns = {cfg.gate_turns}: the hand-tuned blend keeps ranking"
        )
        return None, data, reason
    if gate and cfg.gate_turns and not meta.beats_blend:
        reason = (
            f"on {meta.gate_turns} turns, each ranked by a ranker fitted without it "
            f"(cross-validation), the learned order's Recall@10 "
            f"{meta.gate_recall10_learned} is not above the blend's {meta.gate_recall10_blend} "
            f"beyond chance (paired bootstrap, {GATE_PERCENTILE:g}th percentile of the gain "
            f"{meta.gate_gain_low}): the hand-tuned blend keeps ranking"
        )
        return None, data, reason
    return model, data, ""


def _fold(session_id: str, folds: int) -> int:
    return int(hashlib.sha256(session_id.encode()).hexdigest(), 16) % folds


def train_ranker(settings: Settings, *, folds: int = FOLDS) -> RankerTrainReport:
    """Replay the logged cases (cross-fitted collaborative features), fit, save a version."""
    from agent.collab import CollabError, Collaborative, ModelStore, model_root, train
    from agent.interactions import all_events
    from agent.recommender import Recommender
    from agent.users import UserStore
    from retrieval.library import Library, query_embedder_id

    cfg = settings.agent.learned
    store = UserStore(settings.sql_url)
    try:
        cases = logged_cases(store)
    except BaseException:
        store.close()
        raise
    if len(cases) < cfg.min_turns:
        store.close()
        reason = (
            f"{len(cases)} logged turns with a liked pick, fewer than agent.learned.min_turns"
            f" = {cfg.min_turns}: the hand-tuned blend keeps ranking"
        )
        return RankerTrainReport(None, None, len(cases), 0, 0, reason)
    library = Library(settings)
    try:
        events = all_events(store)
        by_user: dict[str, list[FeedbackEvent]] = {}
        for event in events:
            by_user.setdefault(event.user_id, []).append(event)
        turns: list[tuple[np.ndarray, np.ndarray]] = []
        collab_cfg = settings.agent.collab
        for fold in range(folds):
            chosen = [c for c in cases if _fold(c.case.dialogue_id, folds) == fold]
            if not chosen:
                continue
            held = {c.case.dialogue_id for c in chosen}
            with tempfile.TemporaryDirectory(prefix="vidrec-ranker-") as scratch:
                kept = [e for e in events if e.session_id not in held]
                try:
                    train(kept, collab_cfg, ModelStore(model_root(Path(scratch))), tune=False)
                except CollabError as exc:
                    # every positive event is in this fold's sessions: its turns are replayed
                    # with no collaborative model, as the product runs before `vidrec train`
                    log.info("fold %d: no collaborative model (%s)", fold, exc)
                recommender = Recommender(
                    settings,
                    library=library,
                    users=store,
                    collab=Collaborative(Path(scratch), collab_cfg),
                )
                turns.extend(_replay(recommender, chosen, by_user))
    finally:
        store.close()
        library.close()
    model, data, reason = fit_ranker(
        turns, cfg, source="logged conversations (vidrec train)", seed=collab_cfg.seed
    )
    path = None
    if model is not None:
        model.meta = replace(model.meta, embedder=query_embedder_id(settings.embedding))
        path = RankerStore(ranker_root(settings.data_dir), cfg.keep_versions).save(model)
    return RankerTrainReport(model, path, len(cases), data.turns, len(data.labels), reason)


def _replay(
    recommender: Recommender,
    cases: Sequence[LoggedCase],
    events: dict[str, list[FeedbackEvent]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        case_rows(recommender, c.case, c.user_id, c.history(events.get(c.user_id, [])))
        for c in cases
    ]

"""The learned ranker: LightGBM ``lambdarank`` over the features of :mod:`agent.learn.features`.

Why LightGBM ``lambdarank``: it optimises NDCG of each turn's list directly (the candidates of one
turn are one query group), trains in seconds on a CPU from a few thousand turns, predicts a
hundred candidates in well under a millisecond, saves to one text file, and handles features on
very different scales (ranks, cosines, counts) and the 0 of a missing signal without
standardising. XGBoost's ``rank:ndcg`` would do the same job; LightGBM's wheel is smaller, has no
GPU runtime to pull in and is the common choice in the learning-to-rank literature.

The boosting starts from the blend's order (``init_score`` = ``-BASE_ALPHA x log1p(blend rank)``,
added back when scoring): the trees learn corrections to the blend, not an order from nothing,
and shallow trees with at least 100 rows a leaf keep them to what many turns share. On ReDial's
2,478 cases (rows of the eval's folds, each fold's ranker fitted on the others) that turned the
learned order's gain over the blend from +0.009 [-0.002, 0.019] to +0.015 [0.007, 0.024]
Recall@10.

``fit`` stops boosting when NDCG@10 of a tenth of the turns stops improving, and judges the
ranker against the blend by 5-fold cross-validation over the turns: each turn is ranked by a
ranker fitted without it, and the learned order's per-turn Recall@10 is compared with the blend's
(``RankerMeta.beats_blend``: the :data:`GATE_PERCENTILE` th percentile of a paired bootstrap of
the gain above 0, i.e. a gain with 80 % confidence; on ReDial's folds, ~1,035 turns each, the
5th percentile turned away the two folds whose rankers gained most on the scored cases). A
ranker that does not beat the blend there is not used (:func:`agent.learn.training.fit_ranker`):
on ReDial the learned stage without its base ranked below the blend (Recall@10 0.115 against
0.131 on 1,000 cases), so the gate is what keeps the stage from costing quality. ``importances``
are total gains per feature, as shares.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from agent.learn.features import FEATURES
from agent.versions import unreadable
from retrieval.errors import VidrecError

__all__ = ["LearnedRanker", "RankerMeta", "TrainingData"]

log = logging.getLogger(__name__)

MODEL_FILE = "model.txt"
META_FILE = "meta.json"
PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "learning_rate": 0.02,
    "num_leaves": 8,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.9,
    "lambdarank_truncation_level": 20,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
ROUNDS = 400
EARLY_STOP = 30
BASE_ALPHA = 1.0  # the blend's order as the boosting's start: -BASE_ALPHA * log1p(blend rank)
GATE_FOLDS = 5  # cross-validation folds judging the learned order against the blend's
GATE_MIN_TURNS = 20  # fewer turns: no judging (``gate_turns`` 0)
STOP_SHARE = 0.1  # turns of each fit held out to stop the boosting
GATE_PERCENTILE = 20.0  # of the bootstrap gain that must be above 0 (80 % one-sided)


class LearnedRankerError(VidrecError):
    """The learned ranker could not be trained or read."""

    http_status = 500
    code = "learned_ranker_error"


@dataclass
class TrainingData:
    """Feature rows of many turns: ``groups[i]`` rows belong to turn i, in order."""

    features: np.ndarray  # rows x len(FEATURES)
    labels: np.ndarray  # 1 where the candidate is a target of its turn
    groups: list[int] = field(default_factory=list)

    @classmethod
    def stack(cls, turns: Sequence[tuple[np.ndarray, np.ndarray]]) -> TrainingData:
        """Turns as (features, labels); turns without a positive or a negative are dropped
        (they carry no ranking information)."""
        kept = [(x, y) for x, y in turns if len(y) and 0 < float(np.sum(y)) < len(y)]
        if not kept:
            return cls(np.zeros((0, len(FEATURES)), np.float32), np.zeros(0, np.float32), [])
        return cls(
            np.vstack([x for x, _ in kept]).astype(np.float32),
            np.concatenate([y for _, y in kept]).astype(np.float32),
            [len(y) for _, y in kept],
        )

    @property
    def turns(self) -> int:
        return len(self.groups)


@dataclass(frozen=True)
class RankerMeta:
    """What is recorded with a trained ranker (``meta.json``)."""

    features: tuple[str, ...]
    importances: dict[str, float]  # feature -> share of the total gain
    turns: int
    rows: int
    positives: int
    rounds: int
    validation_ndcg10: float | None
    source: str
    trained_at: str
    version: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    gate_turns: int = 0  # turns each ranked by a ranker fitted without them (cross-validation)
    gate_recall10_learned: float | None = None
    gate_recall10_blend: float | None = None
    # the lower end of a one-sided 80 % paired bootstrap of (learned - blend) Recall@10 over the
    # cross-validated turns: above 0 only when the learned order is better beyond their noise
    gate_gain_low: float | None = None
    base_alpha: float = 0.0  # the blend's order the trees correct (0: versions saved before)
    # the query vectors its content features were computed with (retrieval.library's
    # query_embedder_id: the model and any query encoder); "" in versions saved before
    embedder: str = ""

    @property
    def beats_blend(self) -> bool:
        """Whether the learned order found more targets in the top 10 of the judged turns (each
        ranked by a ranker fitted without it; a held-out fifth in versions saved before) than the
        blend's order, beyond chance (``gate_gain_low`` above 0; True when there were too few
        turns to judge). A version saved before the bootstrap: more targets."""
        if not self.gate_turns or self.gate_recall10_learned is None:
            return True
        if self.gate_gain_low is not None:
            return self.gate_gain_low > 0.0
        return self.gate_recall10_learned > (self.gate_recall10_blend or 0.0)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RankerMeta:
        data = json.loads(text)
        data["features"] = tuple(data["features"])
        return cls(**data)


class LearnedRanker:
    """A fitted booster and its meta; ``score`` gives one number per feature row."""

    def __init__(self, booster: Any, meta: RankerMeta) -> None:
        self.booster = booster
        self.meta = meta

    def current(self) -> LearnedRanker:
        """The model to rank with (this one: see :class:`agent.learn.stage.RankingModel`)."""
        return self

    def score(self, features: np.ndarray) -> np.ndarray:
        if features.shape[1] != len(self.meta.features):
            raise LearnedRankerError(
                "The learned ranker was trained on other features",
                expected=f"{len(self.meta.features)} features ({', '.join(self.meta.features)})",
                got=f"{features.shape[1]}",
                hint="Run `vidrec train` again to retrain it on this version's features",
            )
        raw = np.asarray(self.booster.predict(features, num_threads=1), dtype=np.float64)
        return raw + base_scores(features, self.meta.base_alpha)

    @classmethod
    def fit(
        cls, data: TrainingData, *, source: str, seed: int = 0, rounds: int = ROUNDS
    ) -> LearnedRanker:
        """Fit on ``data`` (see the module docstring)."""
        if data.turns < 2:
            raise LearnedRankerError(
                "Too few turns to train a ranker",
                expected="at least 2 turns with a target among their candidates",
                got=str(data.turns),
            )
        params = {**PARAMS, "seed": seed}
        bounds = np.cumsum([0, *data.groups])
        rows = [np.arange(bounds[i], bounds[i + 1]) for i in range(data.turns)]
        base = base_scores(data.features, BASE_ALPHA)
        rng = np.random.default_rng(seed)
        learned_recall = blend_recall = gain_low = None
        judged = 0
        if data.turns >= GATE_MIN_TURNS:
            fold = rng.permutation(data.turns) % GATE_FOLDS
            scores = np.zeros(len(data.labels))
            for k in range(GATE_FOLDS):
                booster = _boost(data, rows, fold != k, base, params, rounds, rng)
                out = np.concatenate([r for r, f in zip(rows, fold == k, strict=True) if f])
                stop_at = booster.best_iteration or None
                scores[out] = booster.predict(data.features[out], num_iteration=stop_at) + base[out]
            blend_col = FEATURES.index("blend_rank")
            learned = _recall_at_10(rows, scores, data.labels)
            blend = _recall_at_10(rows, -data.features[:, blend_col], data.labels)
            learned_recall, blend_recall = float(learned.mean()), float(blend.mean())
            gain_low = paired_gain_low(learned - blend, seed)
            judged = data.turns
        booster = _boost(data, rows, np.ones(data.turns, bool), base, params, rounds, rng)
        best = booster.best_score.get("valid_0", {}).get("ndcg@10")
        gains = booster.feature_importance(importance_type="gain")
        total = float(np.sum(gains)) or 1.0
        meta = RankerMeta(
            features=FEATURES,
            importances={
                n: round(float(g) / total, 4) for n, g in zip(FEATURES, gains, strict=True)
            },
            turns=data.turns,
            rows=len(data.labels),
            positives=int(np.sum(data.labels > 0)),
            rounds=int(booster.best_iteration or booster.current_iteration()),
            validation_ndcg10=None if best is None else round(float(best), 4),
            source=source,
            trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
            params={k: v for k, v in params.items() if k != "eval_at"},
            gate_turns=judged,
            gate_recall10_learned=None if learned_recall is None else round(learned_recall, 4),
            gate_recall10_blend=None if blend_recall is None else round(blend_recall, 4),
            gate_gain_low=None if gain_low is None else round(gain_low, 4),
            base_alpha=BASE_ALPHA,
        )
        return cls(booster, meta)

    def save(self, folder: Path) -> None:
        """``model.txt`` (LightGBM's text format), then ``meta.json`` (written last)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / MODEL_FILE), num_iteration=self.meta.rounds or None)
        (folder / META_FILE).write_text(self.meta.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LearnedRanker:
        import lightgbm as lgb

        try:
            meta = RankerMeta.from_json((folder / META_FILE).read_text(encoding="utf-8"))
            booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
        except (OSError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as exc:
            raise unreadable(
                LearnedRankerError, "learned ranker", folder, f"{MODEL_FILE} and {META_FILE}", exc
            ) from exc
        return cls(booster, meta)

    def importance_lines(self, top: int = 10) -> list[str]:
        ranked = sorted(self.meta.importances.items(), key=lambda kv: -kv[1])[:top]
        return [f"{name} {share:.1%}" for name, share in ranked]


def base_scores(features: np.ndarray, alpha: float) -> np.ndarray:
    """The blend's order as a score the trees correct: ``-alpha * log1p(blend rank)``."""
    if not alpha or not len(features):
        return np.zeros(len(features))
    return -alpha * np.log1p(features[:, FEATURES.index("blend_rank")].astype(np.float64))


def _boost(
    data: TrainingData,
    rows: list[np.ndarray],
    chosen: np.ndarray,
    base: np.ndarray,
    params: dict[str, Any],
    rounds: int,
    rng: np.random.Generator,
) -> Any:
    """A booster fitted on the ``chosen`` turns from ``base``; a tenth of them (from 20 on)
    stop the boosting when their NDCG@10 stops improving."""
    import lightgbm as lgb

    turns = np.flatnonzero(chosen)
    stop = rng.random(len(turns)) < STOP_SHARE if len(turns) >= 20 else np.zeros(len(turns), bool)

    def dataset(picked: np.ndarray, reference: Any = None) -> Any:
        at = np.concatenate([rows[t] for t in picked])
        return lgb.Dataset(
            data.features[at],
            data.labels[at],
            group=[data.groups[t] for t in picked],
            init_score=base[at],
            feature_name=list(FEATURES),
            reference=reference,
            free_raw_data=False,
        )

    train_set = dataset(turns[~stop])
    valid_sets: list[Any] = []
    callbacks: list[Any] = []
    if stop.any():
        valid_sets.append(dataset(turns[stop], train_set))
        callbacks.append(lgb.early_stopping(EARLY_STOP, verbose=False))
    return lgb.train(
        params, train_set, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks
    )


def _recall_at_10(turns: list[np.ndarray], scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per turn (row indices), the share of its targets among its 10 best scores (ties: the
    earlier row first, as the blend's order)."""
    shares = []
    for rows in turns:
        top = rows[np.argsort(-scores[rows], kind="stable")[:10]]
        shares.append(float(labels[top].sum()) / max(1.0, float(labels[rows].sum())))
    return np.asarray(shares, dtype=np.float64)


def paired_gain_low(gains: np.ndarray, seed: int = 0, draws: int = 2000) -> float:
    """The :data:`GATE_PERCENTILE` th percentile of the bootstrap means of per-turn ``gains``
    (learned minus blend): the learned order is better beyond chance only when it is above 0."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(gains), size=(draws, len(gains)))
    return float(np.percentile(gains[picks].mean(axis=1), GATE_PERCENTILE))

"""Tuning the collaborative model's settings on MovieLens validation splits (ALS grid, recent
decay, blend), with the per-signal rows behind them.

``python -m evaluation.collab_eval --data ../shared/data/movielens/ml-latest-small [--tune-als]``

This is a research tool for choosing ``CollabSettings`` defaults; the product's numbers come from
``vidrec eval TASK`` (the row ``vidrec`` runs the shipped Recommender). ``--task redial`` /
``--task inspired`` simply run ``vidrec eval TASK --cross-fit``.

Protocol: the harness's (``evaluation.movielens``): each user's latest rating (by time) is the
test target, every movie of the ratings file is ranked except the user's training movies, HR@10
and NDCG@10. Validation applies the same leave-last-out split once more to the training part;
everything tuned (blend weights, ALS parameters with ``--tune-als``) is chosen there, and the test
split is touched once. Ratings are read as the product reads them (``agent.feedback``: 2.5 and
above positive, below a dislike; confidence ``1 + alpha * |strength|``, see ``agent.collab``). ``--limit N`` scores N
sampled test users (models are always fitted on everybody's training part). Content vectors are
the ones the library indexes for the movies (metadata-only manifest rows: title, year, genres,
tags), from the harness's cached eval workspace, i.e. exactly what the product ranks with.

Systems (same split, same run):

- ``popularity``: users who rated the movie in training.
- ``content``: vidrec's own profile score, exactly as the ranker computes it
  (``agent.profile.build_profile`` over the user's rating events, ``UserProfile.score``) on the
  library's vectors of the movies.
- ``als``: ``implicit`` ALS with the ``CollabSettings`` of the run (optionally tuned, ``--tune-als``).
- ``bpr``: ``implicit`` BPR, same factors.
- ``item-knn``: ``implicit``'s item-item cosine neighbours (K=100) of the user's whole history.
- ``recent``: the recent-neighbour score alone (``CollabModel.recent_scores``: cosine of ALS item
  factors to the recency-weighted centre of the user's newest videos).
- ``hybrid``: what the ranker computes, ``w_p * profile cosine + w_c * z(ALS) + w_r * z(recent)``,
  with the weights chosen on the validation split (ALS refitted without the validation targets)
  by ``agent.collab.tune_blend``; then applied once to the test split.
- ``cold-start``: what a user with no history is shown: the popularity top 50 re-ordered by MMR
  (``CollabSettings.cold_start_lambda``), for the diversity it buys against popularity.
- ``hybrid+mmr``: the hybrid's top 50 re-ordered by MMR (``agent.diversity``, lambda from
  settings or ``--mmr-lambda``), top 10 kept.

Beside accuracy: intra-list diversity of the top 10 (mean pairwise cosine distance of content
vectors) and catalogue coverage (share of movies in at least one top 10). The hybrid's margin over
the best single baseline (by HR@10 and by NDCG@10) comes with a 95 % paired bootstrap interval
over the test users.
"""

from __future__ import annotations

import argparse
import copy
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse import vstack as sparse_vstack

from agent.collab import (
    CollabModel,
    TuningResult,
    build_matrix,
    hit_ndcg,
    profile_scores,
    ratio_grid,
    recent_matrix,
    row_zscore,
    top_k,
    tune_blend,
)
from agent.diversity import catalogue_coverage, intra_list_diversity, mmr_order
from agent.settings import AgentSettings, CollabSettings, Settings
from agent.types import FeedbackEvent
from evaluation.baselines import bpr_scorer, itemknn_scorer
from evaluation.cache import file_sha256
from evaluation.metrics import hit_at_k, ndcg_at_k
from evaluation.movielens import Ratings, load_ratings, ratings_file
from evaluation.movielens import Split as HarnessSplit
from evaluation.movielens import leave_last_out as leave_last_out_ratings
from evaluation.report import EvalReport, SystemResult
from evaluation.runner import EvalOptions, sample
from evaluation.tasks import run_eval

log = logging.getLogger(__name__)

K = 10
MMR_POOL = 50


@dataclass
class Split:
    """Training events, the held-out target per user, and the item columns."""

    train: list[FeedbackEvent]
    targets: dict[str, str]
    item_ids: list[str]


@dataclass
class Signals:
    """Raw score matrices (users x items) for the evaluated users of one split."""

    users: list[str]
    targets: np.ndarray  # column of each user's target
    seen: csr_matrix  # users x items, training history (excluded from ranking)
    popularity: np.ndarray
    content: np.ndarray | None
    als: np.ndarray
    bpr: np.ndarray | None
    recent: np.ndarray  # z-scored recent-neighbour score (agent.collab.recent_matrix)
    knn: np.ndarray | None
    model: CollabModel  # the ALS fit the scores come from


def compute_signals(
    split: Split,
    cfg: CollabSettings,
    vectors: Mapping[str, np.ndarray] | None,
    *,
    with_bpr: bool = True,
    agent: AgentSettings | None = None,
) -> Signals:
    """Fit on ``split.train`` and score every item for every user with a target."""
    data = build_matrix(split.train, cfg, item_ids=split.item_ids)
    row_of = {u: n for n, u in enumerate(data.user_ids)}
    users = [u for u in sorted(split.targets) if u in row_of]
    rows = np.array([row_of[u] for u in users], dtype=np.int64)
    col_of = {v: n for n, v in enumerate(split.item_ids)}
    targets = np.array([col_of[split.targets[u]] for u in users], dtype=np.int64)
    seen = data.matrix[rows]

    model = CollabModel.fit_events(split.train, cfg)
    model_cols = model.item_rows(split.item_ids)  # -1 for movies with no training interaction
    als = np.zeros((len(users), len(split.item_ids)), dtype=np.float32)
    known = model_cols >= 0
    user_vecs = np.stack([model.user_factors[model.user_row(u)] for u in users])
    als[:, known] = user_vecs @ model.item_factors[model_cols[known]].T
    recent = recent_signal(model, users, split)

    bpr_scores = knn = None
    if with_bpr:
        bpr_scores = np.asarray(bpr_scorer(data.matrix, cfg)(rows), dtype=np.float32)
        knn = itemknn_scorer(data.matrix, cfg)(rows)

    positive = (data.matrix > 0).astype(np.float32)
    popularity = np.log1p(np.asarray(positive.sum(axis=0)).ravel()).astype(np.float32)
    content = None
    agent = agent or AgentSettings()
    if vectors:
        content = profile_scores(users, split.train, split.item_ids, vectors, agent)
    return Signals(users, targets, seen, popularity, content, als, bpr_scores, recent, knn, model)


def recent_signal(
    model: CollabModel, users: Sequence[str], split: Split, decay: float | None = None
) -> np.ndarray:
    """The z-scored recent-neighbour score on the split's item columns (0: movie not in the fit),
    with ``decay`` in place of the model's ``recent_decay`` when given."""
    if decay is not None:
        model = copy.copy(model)
        model.cfg = model.cfg.model_copy(update={"recent_decay": decay})
    cols = model.item_rows(split.item_ids)
    known = cols >= 0
    out = np.zeros((len(users), len(split.item_ids)), dtype=np.float32)
    out[:, known] = recent_matrix(model, users, split.train)[:, cols[known]]
    return out


def _mask(scores: np.ndarray, seen: csr_matrix) -> np.ndarray:
    """Scores with every training item of the user set to -inf (never recommended again)."""
    out = np.array(scores, dtype=np.float32, copy=True)
    rows, cols = seen.nonzero()
    out[rows, cols] = -np.inf
    return out


def _per_user(top: Sequence[np.ndarray], targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hit (0/1) and NDCG of each user's top list for their one target (evaluation.metrics)."""
    lists = [[str(i) for i in items] for items in top]
    wanted = [{str(t)} for t in targets]
    hits = np.array([hit_at_k(lst, t, K) for lst, t in zip(lists, wanted, strict=True)])
    ndcg = np.array([ndcg_at_k(lst, t, K) for lst, t in zip(lists, wanted, strict=True)])
    return hits, ndcg


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, *, resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``a - b`` over users and its 95 % percentile interval (users resampled)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[idx].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(diff.mean()), float(low), float(high)


def evaluate(
    name: str,
    description: str,
    scores: np.ndarray,
    signals: Signals,
    item_ids: Sequence[str],
    unit_vectors: np.ndarray | None,
    *,
    wall_s: float = 0.0,
    mmr_lambda: float | None = None,
    per_user: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> SystemResult:
    """HR@10, NDCG@10, ILD@10 and coverage@10 of a users x items score matrix."""
    masked = _mask(scores, signals.seen)
    if mmr_lambda is not None and unit_vectors is not None:
        top = [
            pool[mmr_order(masked[u, pool], unit_vectors[pool], K, mmr_lambda)]
            for u, pool in enumerate(top_k(masked, MMR_POOL))
        ]
    else:
        top = top_k(masked, K)
    hits, ndcg = _per_user(top, signals.targets)
    if per_user is not None:
        per_user[name] = (hits, ndcg)
    metrics = {f"HR@{K}": float(hits.mean()), f"NDCG@{K}": float(ndcg.mean())}
    if unit_vectors is not None:
        metrics[f"ILD@{K}"] = float(np.mean([intra_list_diversity(unit_vectors[t]) for t in top]))
    metrics[f"Coverage@{K}"] = catalogue_coverage(
        ([item_ids[i] for i in t] for t in top), len(item_ids)
    )
    return SystemResult(
        name, description, {k: round(v, 4) for k, v in metrics.items()}, len(top), wall_s
    )


BASELINES = ("popularity", "content", "als", "bpr")  # the single baselines


def _margins(
    hybrid: tuple[np.ndarray, np.ndarray],
    singles: Mapping[str, tuple[np.ndarray, np.ndarray]],
    seed: int,
    what: str,
) -> list[str]:
    """The hybrid against the best of ``singles`` by each metric, with a bootstrap interval."""
    notes = []
    for m, label in ((0, f"HR@{K}"), (1, f"NDCG@{K}")):
        best = max(singles, key=lambda name: float(singles[name][m].mean()))
        mean, low, high = paired_bootstrap(hybrid[m], singles[best][m], seed=seed)
        notes.append(
            f"hybrid - best {what} ({best}) {label}: {mean:+.4f} "
            f"(95% paired bootstrap interval {low:+.4f} .. {high:+.4f}, 2000 resamples of users)"
        )
    return notes


def movie_vectors(
    data: Path, ratings: Ratings, settings: Settings, limit: int | None, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, float | int | str]]:
    """The library's vectors of the movies (``ml:<id>``), from the harness's eval workspace.

    The first run ingests the movies' metadata-only manifest into a cached eval library (the
    same one ``vidrec eval movielens`` uses); later runs find every row unchanged.
    """
    from evaluation.movielens import _movie_library
    from evaluation.runner import make_progress

    scratch = EvalReport(
        task="movielens",
        data=str(data),
        data_sha256="",
        n_cases=0,
        n_cases_total=0,
        seed=seed,
        limit=limit,
    )
    movies_dir = ratings_file(data).parent
    with make_progress(enabled=False) as progress:
        found = _movie_library(settings, movies_dir, ratings, progress, scratch)
    if found is None:
        return {}, scratch.dataset
    vectors = found[0].video_vectors([f"ml:{int(m)}" for m in ratings.item_ids])
    found[0].close()
    return vectors, scratch.dataset


def harness_split(ratings: Ratings, split: HarnessSplit, test: np.ndarray) -> Split:
    """The harness's split as events (the product's input) + held-out target per user."""
    item_keys = [f"ml:{int(m)}" for m in ratings.item_ids]
    user_keys = [f"ml-user:{int(u)}" for u in ratings.user_ids]
    train = [
        FeedbackEvent(
            user_keys[int(ratings.users[i])],
            item_keys[int(ratings.items[i])],
            "rating",
            float(ratings.values[i]),
            datetime.fromtimestamp(int(ratings.timestamps[i]), UTC),
        )
        for i in split.train
    ]
    targets = {user_keys[int(ratings.users[i])]: item_keys[int(ratings.items[i])] for i in test}
    return Split(train, targets, item_keys)


def validation_split(split: HarnessSplit) -> HarnessSplit:
    """Leave-last-out once more, on the training part only (the test ratings never seen)."""
    r = split.ratings
    t = split.train
    inner = Ratings(
        users=r.users[t],
        items=r.items[t],
        values=r.values[t],
        timestamps=r.timestamps[t],
        user_ids=r.user_ids,
        item_ids=r.item_ids,
    )
    return leave_last_out_ratings(inner)


def tune_als(
    split: Split, base: CollabSettings, grid: Sequence[dict[str, float]]
) -> tuple[CollabSettings, dict[str, float]]:
    """Pick ALS hyper-parameters by validation NDCG@10 (pure ALS ranking)."""
    best: tuple[float, CollabSettings] = (-1.0, base)
    results: dict[str, float] = {}
    for params in grid:
        cfg = base.model_copy(update=params)
        sig = compute_signals(split, cfg, None, with_bpr=False)
        _, ndcg = hit_ndcg(_mask(sig.als, sig.seen), sig.targets, K)
        results[",".join(f"{k}={v:g}" for k, v in params.items())] = round(ndcg, 4)
        if ndcg > best[0]:
            best = (ndcg, cfg)
    return best[1], results


RECENT_DECAYS = (0.5, 0.6, 0.7, 0.8, 0.9)


def validation_folds(outer: HarnessSplit, folds: int) -> list[Split]:
    """``folds`` validation splits: the training part's last rating per user held out, then
    (on what remains) the one before it, and so on; the test ratings are never seen."""
    out = []
    current = outer
    for n in range(max(1, folds)):
        current = validation_split(current)
        fold = harness_split(current.ratings, current, current.test)
        if not fold.targets and n > 0:
            break  # nobody has enough ratings left for another fold
        out.append(fold)
    return out


def tune_hybrid(
    folds: Sequence[Split],
    cfg: CollabSettings,
    vectors: Mapping[str, np.ndarray],
    agent: AgentSettings,
    decays: Sequence[float] = RECENT_DECAYS,
) -> tuple[float, TuningResult, dict[str, float]]:
    """Choose ``recent_decay`` and the blend weights together on the stacked validation folds
    (every (user, fold) is one case), maximising NDCG@10. Returns the decay, the blend, and the
    validation NDCG@10 of the best blend for each decay tried."""
    signals = [compute_signals(f, cfg, vectors, with_bpr=False, agent=agent) for f in folds]
    content = np.vstack([np.nan_to_num(s.content) for s in signals if s.content is not None])
    als = np.vstack([row_zscore(s.als) for s in signals])
    targets = np.concatenate([s.targets for s in signals])
    seen = sparse_vstack([s.seen for s in signals]).tocsr()
    best: tuple[float, float, TuningResult] | None = None
    by_decay: dict[str, float] = {}
    for decay in decays:
        recent = np.vstack(
            [
                s.recent  # already computed with the model's own decay
                if decay == s.model.cfg.recent_decay
                else recent_signal(s.model, s.users, f, decay)
                for s, f in zip(signals, folds, strict=True)
            ]
        )
        result = tune_blend(
            {"profile": content, "collab": als, "recent": recent},
            targets,
            seen,
            standardise=False,
            weight_grid=ratio_grid("profile", ("collab", "recent")),
            source=f"tuned on MovieLens validation ({len(folds)} leave-last-out folds)",
        )
        ndcg = result.scores["blend:ndcg@10"]
        by_decay[f"{decay:g}"] = ndcg
        if best is None or ndcg > best[0]:
            best = (ndcg, decay, result)
    assert best is not None
    return best[1], best[2], by_decay


ALS_GRID: tuple[dict[str, float], ...] = tuple(
    {"factors": f, "regularization": r, "alpha": a}
    for f in (32, 64, 128)
    for r in (0.05, 1.0)
    for a in (2.0, 10.0, 40.0)
)


def run(
    data: Path,
    settings: Settings,
    *,
    limit: int | None = None,
    seed: int = 0,
    content: bool = True,
    tune_als_params: bool = False,
    mmr_lambda: float | None = None,
    folds: int = 3,
    decays: Sequence[float] = RECENT_DECAYS,
) -> EvalReport:
    """The whole comparison; returns a report (``print()`` / ``write_json()``)."""
    started = time.perf_counter()
    cfg = settings.agent.collab
    ratings = load_ratings(data)
    outer = leave_last_out_ratings(ratings)
    test_idx = np.array(sample(list(outer.test), limit, seed), dtype=np.int64)
    test_split = harness_split(ratings, outer, test_idx)
    val_folds = validation_folds(outer, folds)
    val_split = val_folds[0]
    item_ids = test_split.item_ids
    val_targets = val_split.targets
    notes = [
        "the harness's leave-last-out split (evaluation.movielens); validation = the same split "
        f"of the training part, repeated {len(val_folds)} times (each user's last {len(val_folds)} "
        "training ratings, one per fold); full ranking over every movie of the ratings file"
    ]

    als_grid: dict[str, float] = {}
    if tune_als_params:
        cfg, als_grid = tune_als(val_split, cfg, ALS_GRID)
        notes.append(
            "ALS tuned on validation: "
            + ", ".join(f"{k}={getattr(cfg, k)}" for k in ("factors", "regularization", "alpha"))
        )

    vectors: dict[str, np.ndarray] = {}
    index_stats: dict[str, float | int | str] = {}
    if content:
        vectors, index_stats = movie_vectors(data, ratings, settings, limit, seed)
    unit = None
    if vectors:
        dim = len(next(iter(vectors.values())))
        unit = np.zeros((len(item_ids), dim), dtype=np.float32)
        for n, v in enumerate(item_ids):
            if v in vectors:
                unit[n] = vectors[v]
        norms = np.linalg.norm(unit, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        unit /= norms

    # validation: tune the blend in the ranker's terms
    tuning: TuningResult | None = None
    by_decay: dict[str, float] = {}
    t0 = time.perf_counter()
    if vectors:
        decay, tuning, by_decay = tune_hybrid(val_folds, cfg, vectors, settings.agent, decays)
        cfg = cfg.model_copy(update={"recent_decay": decay})
        notes.append(
            f"recent_decay {decay:g} chosen on validation (blend NDCG@10 by decay: "
            + ", ".join(f"{d}: {v:.4f}" for d, v in by_decay.items())
            + ")"
        )
    tune_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    test = compute_signals(test_split, cfg, vectors, agent=settings.agent)
    fit_s = time.perf_counter() - t0
    per_user: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    popularity = np.tile(test.popularity, (len(test.users), 1))
    results: list[SystemResult] = []
    systems: list[tuple[str, str, np.ndarray | None, float]] = [
        ("popularity", "users who rated the movie in training", popularity, 0.0),
        (
            "content",
            "vidrec's profile score (agent.profile over rating events) on the library's "
            f"{settings.embedding.model} vectors of the movies' metadata",
            None if test.content is None else np.nan_to_num(test.content, nan=-1.0),
            0.0,
        ),
        (
            "als",
            f"implicit ALS factors={cfg.factors} reg={cfg.regularization} alpha={cfg.alpha}",
            test.als,
            fit_s,
        ),
        ("bpr", f"implicit BPR factors={cfg.factors}", test.bpr, 0.0),
        (
            "item-knn",
            "implicit item-item cosine neighbours (K=100) of the whole history",
            test.knn,
            0.0,
        ),
        (
            "recent",
            f"recent neighbours alone: ALS item cosine to the newest {cfg.recent_items} videos, "
            f"weights {cfg.recent_decay:g}^position",
            test.recent,
            0.0,
        ),
    ]
    for name, description, scores, wall_s in systems:
        if scores is not None:
            results.append(
                evaluate(
                    name,
                    description,
                    scores,
                    test,
                    item_ids,
                    unit,
                    wall_s=wall_s,
                    per_user=per_user,
                )
            )
        if name == "popularity" and unit is not None:
            results.append(
                evaluate(
                    "cold-start",
                    f"what a new user sees: popularity top {MMR_POOL} re-ordered by MMR "
                    f"lambda={cfg.cold_start_lambda} (agent.coldstart)",
                    popularity,
                    test,
                    item_ids,
                    unit,
                    mmr_lambda=cfg.cold_start_lambda,
                )
            )
    if tuning is not None and test.content is not None:
        w = tuning.weights
        hybrid = (
            w.profile * np.nan_to_num(test.content)
            + w.collab * row_zscore(test.als)
            + w.recent * test.recent
        )
        desc = (
            f"{w.profile:.4f} * profile + {w.collab:.4f} * z(ALS) + {w.recent:.4f} * z(recent), "
            "tuned on validation"
        )
        results.append(
            evaluate("hybrid", desc, hybrid, test, item_ids, unit, wall_s=tune_s, per_user=per_user)
        )
        lam = settings.agent.diversity_lambda if mmr_lambda is None else mmr_lambda
        results.append(
            evaluate(
                "hybrid+mmr",
                f"hybrid top {MMR_POOL} re-ordered by MMR lambda={lam}",
                hybrid,
                test,
                item_ids,
                unit,
                mmr_lambda=lam,
            )
        )

    report = EvalReport(
        task="movielens-collab",
        data=str(data),
        data_sha256=file_sha256(ratings_file(data)),
        n_cases=len(test.users),
        n_cases_total=len(outer.test),
        seed=seed,
        limit=limit,
        systems=results,
        dataset={
            "users": ratings.n_users,
            "movies": ratings.n_items,
            "ratings": len(ratings),
            "validation users": len(val_targets),
            **index_stats,
        },
        settings={"collab": cfg.model_dump(mode="json"), "als_grid_validation_ndcg": als_grid},
        model={"embedder": settings.embedding.model if vectors else "none"},
        notes=notes,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if tuning is not None:
        report.settings["blend"] = {
            "profile": tuning.weights.profile,
            "collab": tuning.weights.collab,
            "recent": tuning.weights.recent,
            "validation": tuning.scores,
        }
        report.notes.append(
            f"blend tuned on validation: profile {tuning.weights.profile:.4f}, "
            f"ALS {tuning.weights.collab:.4f}, recent {tuning.weights.recent:.4f} "
            f"(validation NDCG@10 {tuning.scores['blend:ndcg@10']:.4f} vs ALS alone "
            f"{tuning.scores['collab:ndcg@10']:.4f}, recent alone "
            f"{tuning.scores['recent:ndcg@10']:.4f}, content alone "
            f"{tuning.scores['profile:ndcg@10']:.4f})"
        )
        if "hybrid" in per_user:
            singles = {k: v for k, v in per_user.items() if k != "hybrid"}
            baselines = {k: v for k, v in singles.items() if k in BASELINES}
            report.notes.extend(_margins(per_user["hybrid"], baselines, seed, "baseline"))
            report.notes.extend(_margins(per_user["hybrid"], singles, seed, "single system"))
    report.wall_s = round(time.perf_counter() - started, 1)
    return report


# --- conversational tasks: Recall@10 with and without the collaborative signal -----------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.collab_eval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--task",
        choices=("movielens", "redial", "inspired"),
        default="movielens",
        help="movielens: all systems; redial/inspired: Recall@10 with and without collab",
    )
    parser.add_argument("--data", type=Path, help="the task's data (MovieLens folder, jsonl, tsv)")
    parser.add_argument(
        "--movielens", type=Path, default=None, help="MovieLens folder (default: shared)"
    )
    parser.add_argument("--limit", type=int, default=None, help="sample N users (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-content", action="store_true", help="skip the text embeddings")
    parser.add_argument("--tune-als", action="store_true", help="grid-search ALS on validation")
    parser.add_argument("--mmr-lambda", type=float, default=None)
    parser.add_argument(
        "--folds", type=int, default=3, help="validation folds the hybrid is tuned on"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings()
    movielens = args.movielens or settings.data.shared_dir / "movielens" / "ml-latest-small"
    if args.task == "movielens":
        report = run(
            args.data or movielens,
            settings,
            limit=args.limit,
            seed=args.seed,
            content=not args.no_content,
            tune_als_params=args.tune_als,
            mmr_lambda=args.mmr_lambda,
            folds=args.folds,
        )
    else:  # the conversational tasks are `vidrec eval TASK --cross-fit` (the shipped Recommender)
        default = {"redial": "redial/valid_data.jsonl", "inspired": "inspired/dev.tsv"}[args.task]
        report = run_eval(
            EvalOptions(
                task=args.task,
                data=args.data or settings.data.shared_dir / default,
                limit=args.limit,
                seed=args.seed,
                movielens=movielens,
                systems=("popularity", "hybrid", "vidrec"),
                cross_fit=True,
            ),
            settings,
        )
    from rich.console import Console

    report.print(Console(width=160))
    if args.out:
        report.write_json(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

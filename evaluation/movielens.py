"""MovieLens: leave-last-out top-N recommendation and rating prediction.

Protocol: each user's ratings are sorted by time (ties by movie id); the last one is the test
item, the rest is training. Ranking is over ALL items of the ratings file, minus the user's
training items; HR@10 and NDCG@10 (one relevant item, so HR@10 = Recall@10). Rating prediction is
scored on the same held-out ratings with MAE and RMSE.

Systems (all fitted on the training part only):
- ``popularity``: items by training-ratings count.
- ``itemknn``: item-item cosine kNN (``implicit`` CosineRecommender, K=100) on binary interactions.
- ``als``: implicit-feedback ALS (``implicit``, Hu et al. 2008), binary interactions.
- ``bpr``: Bayesian personalised ranking (``implicit``).
- ``profile``: vidrec's own content profile (``agent.profile.build_profile``): the user's
  training ratings as rating events over the movie metadata embeddings that ``Library`` indexed
  (title, year, genres, tags), scored by ``UserProfile.score`` exactly as the Recommender does.
Rating predictors: global mean, user + item biases (regularised, alternating least squares), and
a biased matrix factorisation (``r = mu + b_u + b_i + p_u . q_i``, trained by alternating ridge
regressions in numpy), in :mod:`evaluation.rating_prediction`.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.progress import Progress

from agent.collab import top_k
from agent.settings import CollabSettings, Settings
from evaluation import baselines
from evaluation.baselines import Scorer
from evaluation.cache import file_sha256
from evaluation.metrics import (
    add_intervals,
    catalogue_coverage,
    intra_list_diversity,
    mean,
    per_case_recall,
    ranking_metrics,
)
from evaluation.movielens_data import Ratings, Split, leave_last_out, load_ratings, ratings_file
from evaluation.movies import Catalogue, MovieLens
from evaluation.rating_prediction import rating_prediction
from evaluation.report import EvalReport, SystemResult
from evaluation.runner import EvalOptions, choose_systems, index_library, new_report, sample
from evaluation.shipped import rank_shipped
from evaluation.workspace import EvalError, prepare_workspace, workspace_name
from retrieval.library import Library

log = logging.getLogger(__name__)

SYSTEMS = ("popularity", "itemknn", "als", "bpr", "markov", "sasrec", "profile", "vidrec")
TOP_K = 10


def _groups(keys: np.ndarray, n: int) -> list[tuple[int, np.ndarray]]:
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n + 1))
    return [(k, order[bounds[k] : bounds[k + 1]]) for k in range(n) if bounds[k + 1] > bounds[k]]


# --- top-N scorers: (split, eval users) -> score matrix (len(users) x n_items) ---------------------


def profile_scorer(split: Split, vectors: dict[str, np.ndarray], settings: Settings) -> Scorer:
    """vidrec's content profile: ``build_profile`` over rating events, ``UserProfile.score``."""
    from agent.profile import ProfileWeights, build_profile
    from agent.types import FeedbackEvent

    r = split.ratings
    dim = len(next(iter(vectors.values())))
    item_keys = [f"ml:{int(m)}" for m in r.item_ids]
    item_matrix = np.zeros((r.n_items, dim), dtype=np.float32)
    for i, key in enumerate(item_keys):
        vec = vectors.get(key)
        if vec is not None:
            item_matrix[i] = vec
    by_user = dict(_groups(r.users[split.train], r.n_users))
    weights = ProfileWeights(
        half_life_days=settings.agent.profile_half_life_days,
        negative_weight=settings.agent.negative_weight,
    )

    def score(users: np.ndarray) -> np.ndarray:
        out = np.zeros((len(users), r.n_items), dtype=np.float32)
        for row, u in enumerate(users):
            idx = split.train[by_user.get(int(u), np.array([], dtype=np.int64))]
            if len(idx) == 0:
                continue
            stamps = r.timestamps[idx]
            now = datetime.fromtimestamp(int(stamps.max()), UTC)
            events = [
                FeedbackEvent(
                    user_id=str(int(r.user_ids[u])),
                    video_id=item_keys[int(i)],
                    kind="rating",
                    value=float(v),
                    timestamp=datetime.fromtimestamp(int(t), UTC),
                )
                for i, v, t in zip(r.items[idx], r.values[idx], stamps, strict=True)
            ]
            profile = build_profile(events, vectors, now=now, weights=weights)
            if profile.positive is not None:
                out[row] += item_matrix @ profile.positive
            if profile.negative is not None:
                out[row] -= profile.negative_weight * (item_matrix @ profile.negative)
        return out

    return score


def top_k_lists(split: Split, users: np.ndarray, scores: np.ndarray, k: int) -> list[list[int]]:
    """Top ``k`` item indices per user, the user's training items removed (full ranking)."""
    train = split.train_matrix()
    scores = scores.astype(np.float64, copy=True)
    for row, u in enumerate(users):
        scores[row, train.indices[train.indptr[u] : train.indptr[u + 1]]] = -np.inf
    return [[int(i) for i in top] for top in top_k(scores, k)]


# --- the task --------------------------------------------------------------------------------------


def run_movielens(options: EvalOptions, settings: Settings, progress: Progress) -> EvalReport:
    ratings = load_ratings(options.data)
    split = leave_last_out(ratings, tie_seed=options.seed if options.random_ties else None)
    if len(split.test) == 0:
        raise EvalError(
            "No user has two ratings to split",
            expected="users with at least 2 ratings",
            got=f"{ratings.n_users} users, {len(ratings)} ratings",
        )
    wanted = choose_systems(options, SYSTEMS)
    test = np.array(sample(list(split.test), options.limit, options.seed), dtype=np.int64)
    users = ratings.users[test]
    test_items = ratings.items[test]
    report = new_report(
        options, file_sha256(ratings_file(options.data)), len(test), len(split.test), settings
    )
    report.dataset = {
        "users": ratings.n_users,
        "items": ratings.n_items,
        "ratings": len(ratings),
        "train_ratings": len(split.train),
        "test_users": len(split.test),
    }
    report.notes.append(
        "leave-last-out by timestamp; full ranking over every item of the ratings file minus the "
        "user's training items; HR@10 = Recall@10 (one held-out item); ratings with equal "
        "timestamps ordered "
        + (
            f"at random (--random-ties, seed {options.seed})"
            if options.random_ties
            else "by movieId ascending (the larger id is held out)"
        )
    )
    relevant = [[int(i)] for i in test_items]

    vectors: dict[str, np.ndarray] = {}
    library: Library | None = None
    ev_settings = settings
    movies_dir = ratings_file(options.data).parent
    if "profile" in wanted or "vidrec" in wanted:
        found = _movie_library(settings, movies_dir, ratings, progress, report)
        if found is not None:
            library, ev_settings = found
            vectors = library.video_vectors([f"ml:{int(m)}" for m in ratings.item_ids])
            report.dataset["items_with_metadata"] = len(vectors)

    cfg = settings.agent.collab.model_copy(update={"seed": options.seed})
    descriptions = {
        **baselines.DESCRIPTIONS,
        **baselines.SEQUENTIAL_DESCRIPTIONS,
        "profile": "vidrec content profile (agent.profile.build_profile over rating events; "
        f"movie metadata embeddings {settings.embedding.backend}/{settings.embedding.model})",
        "vidrec": "the product as shipped: vidrec import-interactions, vidrec train (tuned on the "
        "log), Recommender.rank of 'Recommend me something.' with the shipped settings "
        "(evaluation.shipped)",
    }
    all_lists: dict[str, list[list[int]]] = {}
    for name in wanted:
        if name in ("profile", "vidrec") and (library is None or not vectors):
            report.notes.append(
                f"{name}: skipped, no movie metadata (movies.csv) beside the ratings"
            )
            continue
        start = time.perf_counter()
        if name == "vidrec" and library is not None:
            shipped = rank_shipped(
                split,
                users.tolist(),
                ev_settings,
                library,
                vectors,
                progress,
                search=options.search,
            )
            lists = shipped.lists
            report.notes.extend(shipped.notes)
        else:
            lists = _baseline_lists(name, split, users, vectors, settings, cfg, progress)
        wall = time.perf_counter() - start
        str_lists = [[str(i) for i in lst] for lst in lists]
        str_relevant = [[str(i) for i in rel] for rel in relevant]
        metrics = add_intervals(
            ranking_metrics(str_lists, str_relevant, hit_ks=(TOP_K,), ndcg_ks=(TOP_K,)),
            str_lists,
            str_relevant,
            hit_ks=(TOP_K,),
            ndcg_ks=(TOP_K,),
        )
        metrics[f"Coverage@{TOP_K}"] = catalogue_coverage(str_lists, ratings.n_items, TOP_K)
        per_case = per_case_recall([str(u) for u in users], str_lists, str_relevant, TOP_K)
        report.systems.append(
            SystemResult(name, descriptions[name], metrics, len(users), wall, per_case)
        )
        all_lists[name] = lists
    if vectors:
        _add_diversity(report, all_lists, ratings, vectors)
    rating_prediction(report, split, test, options.seed, progress)
    return report


def _baseline_lists(
    name: str,
    split: Split,
    users: np.ndarray,
    vectors: dict[str, np.ndarray],
    settings: Settings,
    cfg: CollabSettings,
    progress: Progress,
) -> list[list[int]]:
    """A baseline's (or the content profile's) top 10 per user, by full ranking."""
    task_id = progress.add_task(name, total=len(users))
    if name == "profile":
        scorer = profile_scorer(split, vectors, settings)
    elif name in baselines.SEQUENTIAL:
        scorer = baselines.fit_sequential(name, split.train_sequences(), split.ratings.n_items, cfg)
    else:
        scorer = baselines.fit(name, split.train_matrix(), cfg)
    lists: list[list[int]] = []
    for lo in range(0, len(users), 256):
        chunk = users[lo : lo + 256]
        lists.extend(top_k_lists(split, chunk, scorer(chunk), TOP_K))
        progress.advance(task_id, len(chunk))
    return lists


def _movie_library(
    settings: Settings,
    movies_dir: Path,
    ratings: Ratings,
    progress: Progress,
    report: EvalReport,
) -> tuple[Library, Settings] | None:
    """The movies' metadata ingested into an eval library (ids ``ml:<movieId>``), and the
    workspace's settings; None without a movies.csv."""
    if not (movies_dir / "movies.csv").is_file():
        return None
    movielens = MovieLens.load(movies_dir)
    wanted = {int(m) for m in ratings.item_ids}
    catalogue = Catalogue(
        items={m.id: m for mid, m in sorted(movielens.items.items()) if mid in wanted}
    )
    name = workspace_name("movielens", catalogue.sha256, settings)
    lines = catalogue.manifest_lines()
    ev_settings = prepare_workspace(settings, name, lines)
    library = index_library(report, ev_settings, lines, progress, f"{len(catalogue)} movies")
    return library, ev_settings


def _add_diversity(
    report: EvalReport,
    lists: dict[str, list[list[int]]],
    ratings: Ratings,
    vectors: dict[str, np.ndarray],
) -> None:
    for result in report.systems:
        values = []
        for lst in lists.get(result.name, []):
            rows = [vectors[k] for i in lst if (k := f"ml:{int(ratings.item_ids[i])}") in vectors]
            if len(rows) >= 2:
                values.append(intra_list_diversity(np.array(rows)))
        result.metrics[f"ILD@{TOP_K}"] = mean(values)

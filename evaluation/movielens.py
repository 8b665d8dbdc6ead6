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
regressions in numpy).
"""

from __future__ import annotations

import csv
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.progress import Progress
from scipy import sparse

from agent.collab import top_k
from agent.settings import Settings
from evaluation import baselines
from evaluation.baselines import Scorer
from evaluation.cache import file_sha256
from evaluation.metrics import (
    catalogue_coverage,
    intra_list_diversity,
    mae,
    mean,
    ranking_metrics,
    rmse,
)
from evaluation.movies import Catalogue, MovieLens
from evaluation.report import EvalReport, SystemResult
from evaluation.runner import EvalOptions, choose_systems, ingest_progress, new_report, sample
from evaluation.workspace import EvalError, open_library, prepare_workspace, workspace_name

log = logging.getLogger(__name__)

SYSTEMS = ("popularity", "itemknn", "als", "bpr", "profile")
TOP_K = 10


@dataclass(frozen=True)
class Ratings:
    """Parallel arrays, one entry per rating, with dense 0-based user and item indices."""

    users: np.ndarray  # int32 user index
    items: np.ndarray  # int32 item index
    values: np.ndarray  # float32 rating
    timestamps: np.ndarray  # int64 unix seconds
    user_ids: np.ndarray  # index -> original userId
    item_ids: np.ndarray  # index -> original movieId

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.values)


def ratings_file(path: Path) -> Path:
    """``path`` itself, or the ratings.csv / ratings.dat inside a folder."""
    if path.is_dir():
        for name in ("ratings.csv", "ratings.dat"):
            if (path / name).is_file():
                return path / name
        raise EvalError(
            f"No ratings file in {path}",
            expected="ratings.csv (userId,movieId,rating,timestamp) or ratings.dat (u::m::r::t)",
            got=", ".join(sorted(p.name for p in path.iterdir())) or "an empty folder",
        )
    return path


def load_ratings(path: str | Path) -> Ratings:
    """Read a MovieLens ratings file: ``ratings.csv`` with a header, or ``::``-separated ``.dat``."""
    path = ratings_file(Path(path))
    raw_users: list[int] = []
    raw_items: list[int] = []
    values: list[float] = []
    stamps: list[int] = []
    with path.open(newline="", encoding="utf-8") as fh:
        dat = path.suffix == ".dat"
        rows = (line.rstrip("\n").split("::") for line in fh) if dat else csv.reader(fh)
        for lineno, rec in enumerate(rows, start=1):
            if not rec or not "".join(rec).strip():
                continue
            if lineno == 1 and not dat and rec[0].strip().lower() in ("userid", "user_id", "user"):
                continue
            try:
                raw_users.append(int(rec[0]))
                raw_items.append(int(rec[1]))
                values.append(float(rec[2]))
                stamps.append(int(float(rec[3])) if len(rec) > 3 and rec[3] else 0)
            except (ValueError, IndexError):
                raise EvalError(
                    f"{path}:{lineno}: not a MovieLens rating",
                    expected="userId,movieId,rating,timestamp (numbers)",
                    got=",".join(rec)[:80],
                    hint="Pass a MovieLens ratings.csv (e.g. ml-latest-small/ratings.csv)",
                ) from None
    if not values:
        raise EvalError(f"No ratings in {path}", expected="at least one rating", got="none")
    user_ids, users = np.unique(np.array(raw_users, dtype=np.int64), return_inverse=True)
    item_ids, items = np.unique(np.array(raw_items, dtype=np.int64), return_inverse=True)
    return Ratings(
        users=users.astype(np.int32),
        items=items.astype(np.int32),
        values=np.array(values, dtype=np.float32),
        timestamps=np.array(stamps, dtype=np.int64),
        user_ids=user_ids,
        item_ids=item_ids,
    )


@dataclass(frozen=True)
class Split:
    """Leave-last-out: rating indices for training, and one test rating per eligible user."""

    ratings: Ratings
    train: np.ndarray  # indices into ratings
    test: np.ndarray  # indices into ratings, one per test user, in user order

    @property
    def test_users(self) -> np.ndarray:
        return self.ratings.users[self.test]

    def train_matrix(self, values: np.ndarray | None = None) -> sparse.csr_matrix:
        """Users x items CSR of the training part (binary unless ``values`` given)."""
        r = self.ratings
        data = np.ones(len(self.train), dtype=np.float32) if values is None else values
        return sparse.csr_matrix(
            (data, (r.users[self.train], r.items[self.train])), shape=(r.n_users, r.n_items)
        )


def leave_last_out(ratings: Ratings, min_train: int = 1) -> Split:
    """Hold out each user's latest rating (ties: larger movie id last); users need ``min_train`` more."""
    order = np.lexsort((ratings.item_ids[ratings.items], ratings.timestamps, ratings.users))
    users_sorted = ratings.users[order]
    last = np.r_[users_sorted[1:] != users_sorted[:-1], True]
    counts = np.bincount(ratings.users, minlength=ratings.n_users)
    eligible = counts[users_sorted] > min_train
    test_mask = last & eligible
    test = order[test_mask]
    train = np.sort(order[~test_mask])
    return Split(ratings=ratings, train=train, test=test)


# --- rating predictors ---------------------------------------------------------------------------


class BiasedMF:
    """``r = mu + b_u + b_i + p_u . q_i`` fitted by alternating ridge regressions (numpy).

    Args:
        factors: latent dimensions (0 = the user + item bias baseline only).
        reg: L2 weight on the factors; ``reg_bias`` on the biases.
        iterations: alternating sweeps (users then items).
    """

    def __init__(
        self,
        factors: int = 20,
        reg: float = 5.0,
        reg_bias: float = 5.0,
        iterations: int = 15,
        seed: int = 0,
    ) -> None:
        self.factors = factors
        self.reg = reg
        self.reg_bias = reg_bias
        self.iterations = iterations
        self.seed = seed
        self.mu = 0.0
        self.bu = np.zeros(0)
        self.bi = np.zeros(0)
        self.P = np.zeros((0, factors))
        self.Q = np.zeros((0, factors))

    def fit(
        self, users: np.ndarray, items: np.ndarray, values: np.ndarray, n_users: int, n_items: int
    ) -> BiasedMF:
        rng = np.random.default_rng(self.seed)
        self.mu = float(values.mean())
        self.bu = np.zeros(n_users)
        self.bi = np.zeros(n_items)
        self.P = rng.normal(0, 0.1, (n_users, self.factors))
        self.Q = rng.normal(0, 0.1, (n_items, self.factors))
        resid = values.astype(np.float64) - self.mu
        ones = np.ones(len(values))
        by_user = _indicator(users, n_users)
        by_item = _indicator(items, n_items)
        lam = np.diag([self.reg_bias] + [self.reg] * self.factors)
        for _ in range(self.iterations):
            w = _ridge(by_user, np.c_[ones, self.Q[items]], resid - self.bi[items], lam)
            self.bu, self.P = w[:, 0], w[:, 1:]
            w = _ridge(by_item, np.c_[ones, self.P[users]], resid - self.bu[users], lam)
            self.bi, self.Q = w[:, 0], w[:, 1:]
        return self

    def predict(
        self, users: np.ndarray, items: np.ndarray, lo: float = 0.5, hi: float = 5.0
    ) -> np.ndarray:
        raw = (
            self.mu
            + self.bu[users]
            + self.bi[items]
            + np.sum(self.P[users] * self.Q[items], axis=1)
        )
        return np.clip(raw, lo, hi)


def _indicator(keys: np.ndarray, n: int) -> sparse.csc_matrix:
    """``n x len(keys)`` 0/1 matrix: row g selects the ratings of group g."""
    m = len(keys)
    return sparse.csc_matrix((np.ones(m), (keys, np.arange(m))), shape=(n, m))


def _ridge(
    groups: sparse.csc_matrix, x: np.ndarray, y: np.ndarray, lam: np.ndarray, chunk: int = 16384
) -> np.ndarray:
    """Per group g, the ridge solution ``(X_g'X_g + lam)^-1 X_g'y_g`` (all groups at once)."""
    n, d = groups.shape[0], x.shape[1]
    gram = np.zeros((n, d * d))
    rhs = np.zeros((n, d))
    for lo in range(0, x.shape[0], chunk):
        xs = x[lo : lo + chunk]
        sel = groups[:, lo : lo + chunk]
        gram += sel @ (xs[:, :, None] * xs[:, None, :]).reshape(len(xs), d * d)
        rhs += sel @ (xs * y[lo : lo + chunk, None])
    solved = np.linalg.solve(gram.reshape(n, d, d) + lam, rhs[:, :, None])
    return np.asarray(solved[:, :, 0])


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
    split = leave_last_out(ratings)
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
        "user's training items; HR@10 = Recall@10 (one held-out item)"
    )
    relevant = [[int(i)] for i in test_items]

    vectors: dict[str, np.ndarray] = {}
    movies_dir = ratings_file(options.data).parent
    need_vectors = "profile" in wanted
    if need_vectors:
        vectors = _movie_vectors(options, settings, movies_dir, ratings, progress, report)

    cfg = settings.agent.collab.model_copy(update={"seed": options.seed})
    descriptions = {
        **baselines.DESCRIPTIONS,
        "profile": "vidrec content profile (agent.profile.build_profile over rating events; "
        f"movie metadata embeddings {settings.embedding.backend}/{settings.embedding.model})",
    }
    all_lists: dict[str, list[list[int]]] = {}
    for name in wanted:
        if name == "profile" and not vectors:
            report.notes.append(
                "profile: skipped, no movie metadata (movies.csv) beside the ratings"
            )
            continue
        task_id = progress.add_task(name, total=len(users))
        start = time.perf_counter()
        scorer = (
            profile_scorer(split, vectors, settings)
            if name == "profile"
            else baselines.fit(name, split.train_matrix(), cfg)
        )
        lists: list[list[int]] = []
        for lo in range(0, len(users), 256):
            chunk = users[lo : lo + 256]
            lists.extend(top_k_lists(split, chunk, scorer(chunk), TOP_K))
            progress.advance(task_id, len(chunk))
        wall = time.perf_counter() - start
        str_lists = [[str(i) for i in lst] for lst in lists]
        metrics = ranking_metrics(
            str_lists,
            [[str(i) for i in rel] for rel in relevant],
            hit_ks=(TOP_K,),
            ndcg_ks=(TOP_K,),
        )
        metrics[f"Coverage@{TOP_K}"] = catalogue_coverage(str_lists, ratings.n_items, TOP_K)
        report.systems.append(SystemResult(name, descriptions[name], metrics, len(users), wall))
        all_lists[name] = lists
    if vectors:
        _add_diversity(report, all_lists, ratings, vectors)
    _rating_prediction(report, split, test, options.seed, progress)
    return report


def _movie_vectors(
    options: EvalOptions,
    settings: Settings,
    movies_dir: Path,
    ratings: Ratings,
    progress: Progress,
    report: EvalReport,
) -> dict[str, np.ndarray]:
    """Ingest the movies' metadata into an eval library and return their vectors by ``ml:<id>``."""
    if not (movies_dir / "movies.csv").is_file():
        return {}
    movielens = MovieLens.load(movies_dir)
    wanted = {int(m) for m in ratings.item_ids}
    catalogue = Catalogue(
        items={m.id: m for mid, m in sorted(movielens.items.items()) if mid in wanted}
    )
    name = workspace_name("movielens", catalogue.sha256, settings)
    lines = catalogue.manifest_lines()
    ev_settings = prepare_workspace(settings, name, lines)
    with ingest_progress(progress, f"{len(catalogue)} movies") as on_progress:
        library, ingest = open_library(ev_settings, lines, on_progress)
    report.dataset["index_ingested"] = len(ingest.ingested)
    report.dataset["index_unchanged"] = len(ingest.unchanged)
    vectors = library.video_vectors(list(catalogue.items))
    report.dataset["items_with_metadata"] = len(vectors)
    return vectors


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


def _rating_prediction(
    report: EvalReport, split: Split, test: np.ndarray, seed: int, progress: Progress
) -> None:
    r = split.ratings
    tr = split.train
    actual = r.values[test]
    task_id = progress.add_task("rating predictors", total=3)
    start = time.perf_counter()
    mu = float(r.values[tr].mean())
    rows = [("global-mean", "mean of the training ratings", np.full(len(test), mu))]
    progress.advance(task_id)
    for name, description, factors in (
        ("bias", "user + item biases (ridge, alternating least squares)", 0),
        ("biased-mf", "biased MF r = mu + b_u + b_i + p_u.q_i (20 factors, ALS, numpy)", 20),
    ):
        model = BiasedMF(factors=factors, seed=seed).fit(
            r.users[tr], r.items[tr], r.values[tr], r.n_users, r.n_items
        )
        rows.append((name, description, model.predict(r.users[test], r.items[test])))
        progress.advance(task_id)
    wall = time.perf_counter() - start
    for name, description, predicted in rows:
        report.systems.append(
            SystemResult(
                name,
                description,
                {"MAE": mae(predicted, actual), "RMSE": rmse(predicted, actual)},
                len(test),
                wall / len(rows),
            )
        )

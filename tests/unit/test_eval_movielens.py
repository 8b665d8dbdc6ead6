"""MovieLens leave-last-out split, full ranking and rating predictors on tiny data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.settings import Settings
from evaluation.baselines import popularity_scorer
from evaluation.movielens import Ratings, leave_last_out, load_ratings, top_k_lists
from evaluation.rating_prediction import BiasedMF
from evaluation.runner import EvalOptions
from evaluation.tasks import run_eval
from evaluation.workspace import EvalError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
RATINGS = FIXTURES / "movielens" / "ratings.csv"


def _movie(ratings: Ratings, index: int) -> int:
    return int(ratings.item_ids[ratings.items[index]])


def test_leave_last_out_holds_out_each_users_latest_rating() -> None:
    ratings = load_ratings(RATINGS)
    assert (ratings.n_users, ratings.n_items, len(ratings)) == (4, 7, 10)
    split = leave_last_out(ratings)
    held = {int(ratings.user_ids[ratings.users[i]]): _movie(ratings, int(i)) for i in split.test}
    # user 1: latest is movie 6 (t=400); user 2: movies 2 and 4 tie at t=150, the larger id is
    # last; user 3: movie 8 (t=600); user 4 has one rating only, so nothing to hold out
    assert held == {1: 6, 2: 4, 3: 8}
    assert len(split.train) + len(split.test) == len(ratings)
    assert not set(split.train) & set(split.test)
    train = split.train_matrix()
    u1 = int(np.searchsorted(ratings.user_ids, 1))
    m6 = int(np.searchsorted(ratings.item_ids, 6))
    assert train[u1, m6] == 0 and train[u1].nnz == 3


def test_folder_and_dat_formats(tmp_path: Path) -> None:
    assert len(load_ratings(RATINGS.parent)) == 10
    dat = tmp_path / "ratings.dat"
    dat.write_text("1::10::5::100\n1::11::3::200\n2::10::4::50\n")
    ratings = load_ratings(dat)
    assert list(ratings.item_ids) == [10, 11] and ratings.values.tolist() == [5.0, 3.0, 4.0]


def test_bad_rating_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "ratings.csv"
    bad.write_text("userId,movieId,rating,timestamp\n1,2,4.0,100\n1,two,4.0,100\n")
    with pytest.raises(EvalError, match=r"ratings\.csv:3: not a MovieLens rating"):
        load_ratings(bad)


def test_full_ranking_excludes_training_items_only() -> None:
    ratings = load_ratings(RATINGS)
    split = leave_last_out(ratings)
    users = ratings.users[split.test]
    lists = top_k_lists(split, users, popularity_scorer(split.train_matrix())(users), k=10)
    train = split.train_matrix()
    for u, ranked in zip(users, lists, strict=True):
        seen = set(train[u].indices)
        assert not seen & set(ranked)
        assert len(ranked) == ratings.n_items - len(seen)  # every other item is ranked
    # popularity: movie 1 and 2 have two training ratings each, so they lead for user 3
    u3_list = lists[2]
    top_two = {int(ratings.item_ids[i]) for i in u3_list[:2]}
    assert top_two == {1, 2}


def test_bias_model_recovers_additive_ratings() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 20
    user_bias = rng.normal(0, 0.5, n_users)
    item_bias = rng.normal(0, 0.5, n_items)
    pairs = [(u, i) for u in range(n_users) for i in range(n_items) if rng.random() < 0.6]
    users = np.array([p[0] for p in pairs])
    items = np.array([p[1] for p in pairs])
    values = 3.0 + user_bias[users] + item_bias[items]
    model = BiasedMF(factors=0, reg_bias=0.01, iterations=10).fit(
        users, items, values, n_users, n_items
    )
    predicted = model.predict(users, items)
    assert np.max(np.abs(predicted - np.clip(values, 0.5, 5.0))) < 0.05
    low_rank = BiasedMF(factors=2, reg=0.01, reg_bias=0.01, iterations=10).fit(
        users, items, values, n_users, n_items
    )
    assert np.sqrt(np.mean((low_rank.predict(users, items) - values) ** 2)) < 0.05


def test_collaborative_baselines_run_end_to_end(settings: Settings) -> None:
    report = run_eval(
        EvalOptions(
            task="movielens", data=RATINGS, systems=("popularity", "itemknn", "als", "bpr")
        ),
        settings,
    )
    assert report.n_cases == 3
    for name in ("popularity", "itemknn", "als", "bpr"):
        metrics = report.system(name).metrics
        assert 0.0 <= metrics["NDCG@10"] <= metrics["HR@10"] <= 1.0
    # 7 items, at most 3 training items per user: the held-out item is always in the top 10
    assert report.system("popularity").metrics["HR@10"] == 1.0
    assert list(report.system("popularity").per_case.values()) == [1.0, 1.0, 1.0]  # per user
    for name in ("global-mean", "bias", "biased-mf"):
        assert report.system(name).metrics["MAE"] <= report.system(name).metrics["RMSE"]


def test_unknown_system_is_refused(settings: Settings) -> None:
    with pytest.raises(EvalError, match="Unknown system for movielens: svd"):
        run_eval(EvalOptions(task="movielens", data=RATINGS, systems=("svd",)), settings)


def test_training_ratings_are_written_with_each_users_latest_at_now(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from agent.interactions import read_movielens_ratings
    from evaluation.shipped import write_training_ratings

    split = leave_last_out(load_ratings(RATINGS))
    now = datetime(2030, 1, 1, tzinfo=UTC)
    path = tmp_path / "ratings.csv"
    assert write_training_ratings(split, path, now) == len(split.train)
    events, skipped = read_movielens_ratings(path)
    assert not skipped and len(events) == len(split.train)
    user1 = sorted((e.timestamp, e.video_id) for e in events if e.user_id == "ml-user:1")
    # user 1 rated movies 1, 2, 3 at t=100, 200, 300 (6 at 400 is held out): gaps kept
    assert [v for _, v in user1] == ["ml:1", "ml:2", "ml:3"]
    assert user1[-1][0] == now and (user1[-1][0] - user1[0][0]).total_seconds() == 200
    assert all(e.video_id != "ml:6" or e.user_id != "ml-user:1" for e in events)


def test_the_shipped_product_is_a_row_of_the_movielens_task(settings: Settings) -> None:
    report = run_eval(
        EvalOptions(task="movielens", data=RATINGS, systems=("popularity", "vidrec")), settings
    )
    vidrec = report.system("vidrec")
    assert vidrec.n == 3 and 0.0 <= vidrec.metrics["NDCG@10"] <= vidrec.metrics["HR@10"] <= 1.0
    assert "Recommender.rank" in vidrec.description
    assert any(n.startswith("vidrec: imported") for n in report.notes)
    assert any("seconds per stage" in n and "rank" in n for n in report.notes)


def test_equal_timestamps_follow_the_tie_rule_or_a_seeded_random_order() -> None:
    ratings = load_ratings(RATINGS)
    user2 = int(np.searchsorted(ratings.user_ids, 2))

    def held(split: object) -> int:
        test = split.test  # type: ignore[attr-defined]
        return next(_movie(ratings, int(i)) for i in test if ratings.users[i] == user2)

    assert held(leave_last_out(ratings)) == 4  # movies 2 and 4 tie: movieId ascending
    drawn = {held(leave_last_out(ratings, tie_seed=seed)) for seed in range(20)}
    assert drawn == {2, 4}  # either may be last under a random order
    assert held(leave_last_out(ratings, tie_seed=7)) == held(leave_last_out(ratings, tie_seed=7))
    # the training sequences keep the split's order and leave the held-out rating out
    split = leave_last_out(ratings)
    sequences = split.train_sequences()
    assert sum(len(s) for s in sequences) == len(split.train)
    assert [int(ratings.item_ids[i]) for i in sequences[user2]][-1] == 2


def test_next_item_baselines_run_end_to_end(settings: Settings) -> None:
    report = run_eval(
        EvalOptions(task="movielens", data=RATINGS, systems=("markov",), random_ties=True),
        settings,
    )
    assert 0.0 <= report.system("markov").metrics["HR@10"] <= 1.0
    assert any("at random (--random-ties, seed 0)" in n for n in report.notes)

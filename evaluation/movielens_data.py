"""MovieLens ratings as parallel arrays, and the harness's leave-last-out split of them.

Each user's ratings are sorted by time (ties by movie id); the last one is the test item, the rest
is training (``leave_last_out``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import sparse

from agent.collab.splits import latest_per_group
from agent.interactions import movielens_user_id
from agent.types import FeedbackEvent
from evaluation.workspace import EvalError

__all__ = [
    "EventSplit",
    "Ratings",
    "Split",
    "as_events",
    "leave_last_out",
    "load_ratings",
    "ratings_file",
]


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
    order: np.ndarray | None = None  # every rating index by (user, time, tie rule)

    @property
    def test_users(self) -> np.ndarray:
        return self.ratings.users[self.test]

    def train_sequences(self) -> list[np.ndarray]:
        """Each user's training items in the split's order (time, then the tie rule)."""
        r = self.ratings
        order = self.order if self.order is not None else np.sort(self.train)
        users = r.users[order]
        bounds = np.searchsorted(users, np.arange(r.n_users + 1))
        items = r.items[order]
        return [items[bounds[u] : bounds[u + 1]] for u in range(r.n_users)]

    def train_matrix(self, values: np.ndarray | None = None) -> sparse.csr_matrix:
        """Users x items CSR of the training part (binary unless ``values`` given)."""
        r = self.ratings
        data = np.ones(len(self.train), dtype=np.float32) if values is None else values
        return sparse.csr_matrix(
            (data, (r.users[self.train], r.items[self.train])), shape=(r.n_users, r.n_items)
        )


def leave_last_out(ratings: Ratings, min_train: int = 1, tie_seed: int | None = None) -> Split:
    """Hold out each user's latest rating (as :func:`agent.collab.splits.latest_per_group`
    decides); users need ``min_train`` more.

    Ratings with the same timestamp (about half of MovieLens's consecutive ones) are ordered by
    movie id ascending (the larger id last: held out), or, with ``tie_seed``, in a random order
    drawn with that seed.
    """
    if tie_seed is None:
        tie = ratings.item_ids[ratings.items]
    else:
        tie = np.random.default_rng(tie_seed).permutation(len(ratings))
    last = latest_per_group(ratings.users, ratings.timestamps, tie)
    counts = np.bincount(ratings.users, minlength=ratings.n_users)
    test = last[counts[ratings.users[last]] > min_train]
    keep = np.ones(len(ratings), dtype=bool)
    keep[test] = False
    order = np.lexsort((tie, ratings.timestamps, ratings.users))
    return Split(ratings=ratings, train=np.flatnonzero(keep), test=test, order=order[keep[order]])


@dataclass(frozen=True)
class EventSplit:
    """A split as the product reads it: the training ratings as feedback events, the held-out
    movie of each test user, and every movie id (``ml:<movieId>``) in the ratings' order."""

    train: list[FeedbackEvent]
    targets: dict[str, str]
    item_ids: list[str]


def as_events(split: Split) -> EventSplit:
    """The training ratings as ``rating`` events of ``ml-user:<id>`` (the ids
    ``vidrec import-interactions`` gives them) and each test user's held-out movie."""
    r = split.ratings
    items = [f"ml:{int(m)}" for m in r.item_ids]
    users = [movielens_user_id(int(u)) for u in r.user_ids]
    train = [
        FeedbackEvent(
            users[int(r.users[i])],
            items[int(r.items[i])],
            "rating",
            float(r.values[i]),
            datetime.fromtimestamp(int(r.timestamps[i]), UTC),
        )
        for i in split.train
    ]
    targets = {users[int(r.users[i])]: items[int(r.items[i])] for i in split.test}
    return EventSplit(train, targets, items)

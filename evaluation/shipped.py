"""The product as shipped, on MovieLens: the row named ``vidrec`` of ``vidrec eval movielens``.

Nothing of the product is re-implemented here; a run goes through the product's own steps:

1. ``import``: the training ratings are written as a MovieLens ``ratings.csv`` and imported with
   ``agent.interactions.import_movielens`` (what ``vidrec import-interactions`` does) into a
   scratch SQL store;
2. ``train``: ``agent.collab.train`` fits the collaborative model on that log and tunes its blend
   against the library's content vectors (what ``vidrec train`` does), into a scratch model
   folder;
3. ``rank``: for each test user, ``Recommender.rank`` answers the turn "Recommend me something."
   (no content words: the turn that asks for taste alone) with the shipped ``AgentSettings``,
   no LLM rerank, so the understanding is given instead of generated.

Each user's ratings are shifted in time so that their latest training rating happened at the
start of the run: the product measures recency from *now*, and MovieLens ratings are years old.
Order and gaps within a user's history are kept.
"""

from __future__ import annotations

import csv
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.progress import Progress

from agent.collab import Collaborative, ModelStore, model_root, train
from agent.interactions import RATINGS_HEADER, all_events, import_movielens, movielens_user_id
from agent.recommender import Recommender
from agent.settings import Settings, SQLSettings
from agent.types import Message, TurnUnderstanding
from agent.users import UserStore
from evaluation.movielens_data import Split
from retrieval.library import Library

__all__ = ["PROMPT", "ShippedRun", "rank_shipped", "write_training_ratings"]

log = logging.getLogger(__name__)

PROMPT = "Recommend me something."


@dataclass
class ShippedRun:
    """The ranked item indices per test user, and seconds per stage."""

    lists: list[list[int]]
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def write_training_ratings(split: Split, path: Path, now: datetime) -> int:
    """The training ratings as a MovieLens ``ratings.csv``, each user's shifted so that their
    latest one is at ``now``; returns how many rows were written."""
    r = split.ratings
    users = r.users[split.train]
    stamps = r.timestamps[split.train].astype(np.int64)
    latest = np.full(r.n_users, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, users, stamps)
    shifted = stamps + (int(now.timestamp()) - latest[users])
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(RATINGS_HEADER)
        for row, i in enumerate(split.train):
            out.writerow(
                (
                    int(r.user_ids[r.users[i]]),
                    int(r.item_ids[r.items[i]]),
                    f"{float(r.values[i]):g}",
                    int(shifted[row]),
                )
            )
    return len(split.train)


def rank_shipped(
    split: Split,
    users: Sequence[int],
    settings: Settings,
    library: Library,
    vectors: dict[str, np.ndarray],
    progress: Progress,
    *,
    k: int = 10,
    search: bool = False,
) -> ShippedRun:
    """Import, train and rank as the product does (see the module docstring).

    Args:
        split: the harness's leave-last-out split (the test ratings are never imported).
        users: the test users' indices, in report order.
        settings: the eval workspace's settings (its library; SQL and the model go to a scratch
            folder).
        vectors: the library's content vectors of the movies, for tuning the blend.
        search: train as ``vidrec train --search`` does (the ALS settings and the recent decay
            chosen on a held-out split of the training ratings first).
    """
    run = ShippedRun([])
    index_of = {f"ml:{int(m)}": n for n, m in enumerate(split.ratings.item_ids)}
    with tempfile.TemporaryDirectory(prefix="vidrec-eval-") as scratch:
        folder = Path(scratch)
        run_settings = settings.model_copy(
            update={"sql": SQLSettings(url=f"sqlite:///{folder / 'vidrec.db'}")}
        )
        store = UserStore(run_settings.sql_url)
        try:
            clock = time.perf_counter()
            ratings_csv = folder / "ratings.csv"
            write_training_ratings(split, ratings_csv, datetime.now(UTC))
            imported = import_movielens(store, ratings_csv, folder / "movies.jsonl")
            run.seconds["import"] = time.perf_counter() - clock

            clock = time.perf_counter()
            cfg = run_settings.agent.collab
            report = train(
                all_events(store),
                cfg,
                ModelStore(model_root(folder), cfg.keep_versions),
                item_vectors=vectors,
                agent=run_settings.agent,
                search=search,
            )
            run.seconds["train"] = time.perf_counter() - clock
            blend = report.meta.blend
            if search:
                chosen = report.meta.settings
                run.notes.append(
                    "vidrec: settings searched on a held-out split of the training ratings: "
                    + ", ".join(
                        f"{key} {chosen[key]:g}"
                        for key in ("factors", "regularization", "alpha", "recent_decay")
                    )
                )
            run.notes.append(
                f"vidrec: imported {imported.events} training ratings of {imported.users} users; "
                f"trained {report.meta.n_users} users x {report.meta.n_items} movies; blend "
                + (
                    f"profile {blend.profile:g}, collab {blend.collab:g}, recent {blend.recent:g}"
                    f", next {blend.next:g}" + _validation(report.meta.validation)
                    if blend
                    else "not tuned (settings)"
                )
            )

            recommender = Recommender(
                run_settings,
                library=library,
                users=store,
                collab=Collaborative(folder, cfg),
            )
            turn = [Message("user", PROMPT)]
            understanding = TurnUnderstanding(search_text="")
            task_id = progress.add_task("vidrec", total=len(users))
            clock = time.perf_counter()
            for user in users:
                user_id = movielens_user_id(int(split.ratings.user_ids[user]))
                ranked = recommender.rank(
                    turn, user_id, k=k, rerank=False, understanding=understanding
                )
                run.lists.append(
                    [index_of[c.video.id] for c in ranked.candidates if c.video.id in index_of]
                )
                progress.advance(task_id)
            run.seconds["rank"] = time.perf_counter() - clock
        finally:
            store.close()
    per_case = run.seconds.get("rank", 0.0) / max(1, len(users))
    run.notes.append(
        "vidrec: seconds per stage "
        + ", ".join(f"{name} {s:.1f}" for name, s in run.seconds.items())
        + f" ({per_case * 1000:.0f} ms per case)"
    )
    log.info("%s", run.notes[-1])
    return run


def _validation(scores: dict[str, float]) -> str:
    """The tuning's held-out NDCG@10 of the blend without and with what people watch next."""
    keys = ("blend:ndcg@10", "next:ndcg@10", "blend+next:ndcg@10")
    found = [f"{key} {scores[key]:g}" for key in keys if key in scores]
    return f" (validation {', '.join(found)})" if found else ""

"""The learned ranking stage in ``vidrec eval redial|inspired``: fitted on the other folds' cases
only (cross-fitting), never on the cases it scores.

Nothing of the product is re-implemented: each training case's rows come from
``agent.learn.training.case_rows`` (the shipped ``Recommender.rank(stage="rows")``) run by the
recommender of the case's own fold, whose collaborative model did not see the case's dialogue;
``agent.learn.training.fit_ranker`` fits (what ``vidrec train`` fits); the fitted ranker is plugged
into the recommenders of the fold it scores. Training cases are the cases of the whole file (the
scored ones included: a scored case trains only the rankers of the other folds), at most
``max_cases`` of them drawn with the seed.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rich.progress import Progress

from agent.learn.cases import RankingCase
from agent.learn.model import LearnedRanker
from agent.learn.training import case_rows, fit_ranker
from agent.recommender import Recommender
from agent.settings import LearnedSettings
from evaluation.systems import VidrecSystem, eval_user_id

__all__ = ["LearnedFolds", "fit_learned_folds"]

log = logging.getLogger(__name__)


@dataclass
class LearnedFolds:
    """The ranker fitted for each fold (None: too little data, the blend ranks) and notes."""

    rankers: dict[int, LearnedRanker | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fit_learned_folds(
    cases: Sequence[RankingCase],
    systems: dict[int, VidrecSystem],
    fold_of_case: Callable[[RankingCase], int],
    cfg: LearnedSettings,
    progress: Progress,
    *,
    max_cases: int | None,
    seed: int = 0,
) -> LearnedFolds:
    """Fit one ranker per fold of ``systems`` and plug it into that fold's recommender.

    Args:
        cases: every case of the file (the training pool).
        systems: the shipped recommender of each fold (its collaborative model cross-fitted).
        fold_of_case: the fold whose recommender (and so collaborative model) a case belongs to.
    """
    start = time.perf_counter()
    out = LearnedFolds()
    pool = list(cases)
    if max_cases is not None and len(pool) > max_cases:
        pool = random.Random(seed).sample(pool, max_cases)
    task = progress.add_task("learned ranker rows", total=len(pool))
    rows: list[tuple[int, tuple[np.ndarray, np.ndarray]]] = []
    for n, case in enumerate(pool, start=1):
        fold = fold_of_case(case)
        system = systems.get(fold)
        progress.advance(task)
        if system is None:  # no collaborative model left this case's dialogue out: not used
            continue
        rows.append((fold, _rows(system.recommender, case)))
        if n % max(1, len(pool) // 10) == 0:
            log.info("learned ranker rows: %d/%d cases", n, len(pool))
    for fold, system in systems.items():
        turns = [r for f, r in rows if f != fold]
        ranker, data, reason = fit_ranker(
            turns, cfg, source=f"eval cross-fit: cases outside fold {fold}", seed=seed
        )
        system.recommender.learned = ranker
        out.rankers[fold] = ranker
        if ranker is None:
            out.notes.append(f"fold {fold}: no learned ranker ({reason})")
            continue
        out.notes.append(
            f"fold {fold}: {data.turns} training turns ({len(data.labels)} rows), "
            f"{ranker.meta.rounds} rounds; top features " + ", ".join(ranker.importance_lines(5))
        )
    out.seconds = time.perf_counter() - start
    return out


def _rows(recommender: Recommender, case: RankingCase) -> tuple[np.ndarray, np.ndarray]:
    return case_rows(recommender, case, eval_user_id(case.id))

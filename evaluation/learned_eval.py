"""The learned ranking stage in ``vidrec eval redial|inspired``: fitted on the other folds' cases
only (cross-fitting), never on the cases it scores.

Nothing of the product is re-implemented: each training case's rows come from
``agent.learn.training.case_rows`` (the shipped ``Recommender.rank(stage="rows")``) run by the
recommender of the case's own fold, whose collaborative model did not see the case's dialogue;
``agent.learn.training.fit_ranker`` fits (what ``vidrec train`` fits); the fitted ranker is plugged
into the recommenders of the fold it scores. Training cases are the cases of the whole file (the
scored ones included: a scored case trains only the rankers of the other folds), at most
``max_cases`` of them drawn with the seed; a case whose fold has no recommender (no scored case in
it, so no collaborative model left its dialogue out) is not used.

The rows are collected once; :func:`fit_folds` can fit again without some features (their columns
zeroed, exactly what the stage computes with them switched off), for an ablation row in the same
run.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from rich.progress import Progress

from agent.learn.cases import RankingCase
from agent.learn.features import FEATURES, READING_FEATURES
from agent.learn.model import LearnedRanker
from agent.learn.training import case_rows, fit_ranker
from agent.settings import LearnedSettings, Settings
from evaluation.conv_collab import FoldModels
from evaluation.runner import EvalOptions
from evaluation.systems import RoutedSystem, System, VidrecSystem, eval_user_id

__all__ = ["FoldRows", "LearnedFolds", "collect_rows", "fit_folds", "learned_stage"]

log = logging.getLogger(__name__)

Rows = tuple[np.ndarray, np.ndarray]


@dataclass
class FoldRows:
    """Training rows, each with the fold of the case it came from."""

    rows: list[tuple[int, Rows]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class LearnedFolds:
    """The ranker fitted for each fold (None: too little data, the blend ranks) and notes."""

    rankers: dict[int, LearnedRanker | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def collect_rows(
    cases: Sequence[RankingCase],
    systems: dict[int, VidrecSystem],
    fold_of_case: Callable[[RankingCase], int],
    progress: Progress,
    *,
    max_cases: int | None,
    seed: int = 0,
) -> FoldRows:
    """Each training case's rows from its own fold's recommender (see the module docstring)."""
    start = time.perf_counter()
    pool = [c for c in cases if fold_of_case(c) in systems]
    if max_cases is not None and len(pool) > max_cases:
        pool = random.Random(seed).sample(pool, max_cases)
    task = progress.add_task("learned ranker rows", total=len(pool))
    out = FoldRows()
    for n, case in enumerate(pool, start=1):
        fold = fold_of_case(case)
        recommender = systems[fold].recommender
        out.rows.append((fold, case_rows(recommender, case, eval_user_id(case.id))))
        progress.advance(task)
        if n % max(1, len(pool) // 10) == 0:
            log.info("learned ranker rows: %d/%d cases", n, len(pool))
    out.seconds = time.perf_counter() - start
    return out


def fit_folds(
    rows: FoldRows,
    systems: dict[int, VidrecSystem],
    cfg: LearnedSettings,
    *,
    seed: int = 0,
    without: Iterable[str] = (),
) -> LearnedFolds:
    """Fit each fold's ranker on the other folds' rows (``without``: these features zeroed) and
    plug it into that fold's recommender."""
    dropped = [FEATURES.index(name) for name in without]
    out = LearnedFolds()
    for fold, system in systems.items():
        turns = [_zeroed(r, dropped) for f, r in rows.rows if f != fold]
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
            f"{ranker.meta.rounds} rounds; cross-validated Recall@10 "
            f"{ranker.meta.gate_recall10_learned} against the blend's "
            f"{ranker.meta.gate_recall10_blend} ({ranker.meta.gate_turns} turns, gain above "
            f"{ranker.meta.gate_gain_low}); top features " + ", ".join(ranker.importance_lines(5))
        )
    return out


def _zeroed(rows: Rows, columns: list[int]) -> Rows:
    features, labels = rows
    if not columns or not features.size:
        return rows
    features = features.copy()
    features[:, columns] = 0.0
    return features, labels


def learned_stage(
    options: EvalOptions,
    vidrec: System,
    models: FoldModels | None,
    all_cases: Sequence[RankingCase],
    ev_settings: Settings,
    progress: Progress,
    rebuild: Callable[[Settings], System],
) -> tuple[list[str], list[System]]:
    """Fit the stage per fold into ``vidrec`` (or switch it off: ``--no-learned``, or no
    cross-fitted collaborative models to compute its rows with); returns notes and the rows
    ``--ablations`` asks for when a ranker was fitted: ``blend`` (``vidrec-blend``: the same
    recommenders, ``stage="off"``) and ``noreading`` (``vidrec-noreading``: ``rebuild`` with the
    reading off, rankers fitted without its features)."""
    per_fold = (
        {k: s for k, s in vidrec.systems.items() if isinstance(s, VidrecSystem)}
        if isinstance(vidrec, RoutedSystem)
        else {}
    )
    everyone = list(per_fold.values()) or ([vidrec] if isinstance(vidrec, VidrecSystem) else [])
    for system in everyone:
        system.recommender.learned = None  # the blend, unless fitted below
    if not options.learned:
        return ["vidrec learned ranker: off (--no-learned): the hand-tuned blend ranks"], []
    if models is None or options.train is not None or not isinstance(vidrec, RoutedSystem):
        note = (
            "vidrec learned ranker: not fitted (its training rows need the per-fold models of "
            "--folds cross-fitting, which --no-collab and --train do not give): the hand-tuned "
            "blend ranks"
        )
        return [note], []
    cfg = ev_settings.agent.learned
    rows = collect_rows(
        all_cases,
        per_fold,
        lambda case: models.key(case.dialogue_id),
        progress,
        max_cases=options.learned_cases,
        seed=options.seed,
    )
    fitted = fit_folds(rows, per_fold, cfg, seed=options.seed)
    reading = "with" if cfg.reading else "without (--no-reading)"
    notes = [
        f"vidrec learned ranker (LightGBM lambdarank, {reading} the dialogue reading), fitted per "
        f"fold on the other folds' cases ({len(rows.rows)} cases' rows in {rows.seconds:.0f}s): "
        + "; ".join(fitted.notes)
    ]
    if not any(fitted.rankers.values()):
        return notes, []  # every fold ranks by the blend: the ablation rows would repeat it
    variants: list[System] = []
    if "blend" in options.ablations:
        variants.append(_blend(vidrec, per_fold))
    if cfg.reading and "noreading" in options.ablations:
        unread = ev_settings.agent.learned.model_copy(update={"reading": False})
        other = rebuild(
            ev_settings.model_copy(
                update={"agent": ev_settings.agent.model_copy(update={"learned": unread})}
            )
        )
        if isinstance(other, RoutedSystem):
            systems = {k: s for k, s in other.systems.items() if isinstance(s, VidrecSystem)}
            fit_folds(rows, systems, unread, seed=options.seed, without=READING_FEATURES)
            variants.append(
                RoutedSystem(
                    "vidrec-noreading",
                    "vidrec with the learned stage fitted and run without the dialogue reading",
                    systems,
                    other.route,
                )
            )
    return notes, variants


def _blend(vidrec: RoutedSystem, per_fold: dict[int, VidrecSystem]) -> RoutedSystem:
    """The row ``vidrec-blend``: the same recommenders with the learned stage off."""
    return RoutedSystem(
        "vidrec-blend",
        "vidrec without the learned stage (the hand-tuned blend), same run and recommenders",
        {
            k: VidrecSystem(s.recommender, s.description, name="vidrec-blend", stage="off")
            for k, s in per_fold.items()
        },
        vidrec.route,
    )

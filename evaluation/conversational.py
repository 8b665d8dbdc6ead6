"""ReDial and INSPIRED: conversational recommendation over a movie catalogue.

Catalogue = every movie the file mentions plus every MovieLens title, metadata only (title, year,
genres, MovieLens tags), ingested through ``Library.ingest(manifest=...)`` like any library. Cases
and targets follow He et al. (CIKM 2023), see ``evaluation.dialogues``. Metrics: Recall@1/5/10/20/50
and NDCG@10 (mean over cases), catalogue coverage and intra-list diversity of the top 10.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress

from agent.settings import Settings
from evaluation.cache import CachingLLM, file_sha256
from evaluation.conv_collab import FoldModels, fold_of
from evaluation.conv_queries import FoldEncoders, fold_encoders
from evaluation.conv_vidrec import ablation_rows, fold_models, vidrec_system
from evaluation.crossfit import COLLAB_WEIGHTS, cross_fitted_lists
from evaluation.dialogues import ConvCase, Dialogue, context_query, extract_all
from evaluation.extra_dialogues import load_extra
from evaluation.imdb import ImdbFilms, default_imdb
from evaluation.inspired import load_inspired, load_youtube_map
from evaluation.learned_eval import learned_stage
from evaluation.metrics import (
    add_intervals,
    catalogue_coverage,
    intra_list_diversity,
    mean,
    per_case_recall,
    ranking_metrics,
)
from evaluation.movies import CatalogueBuilder, MovieLens
from evaluation.redial import load_redial
from evaluation.report import EvalReport, SystemResult
from evaluation.runner import (
    EvalOptions,
    choose_systems,
    default_movielens,
    index_library,
    new_report,
    run_system,
    sample,
)
from evaluation.systems import (
    BM25System,
    DenseSystem,
    HybridSystem,
    LeaveOneOutPopularity,
    RankRequest,
    RoutedSystem,
    System,
    VidrecSystem,
    library_chunks,
    timing_note,
)
from evaluation.workspace import EvalError, prepare_workspace, workspace_name
from retrieval.library import Library

log = logging.getLogger(__name__)

SYSTEMS = ("popularity", "bm25", "dense", "hybrid", "vidrec")
RECALL_KS = (1, 5, 10, 20, 50)
K = max(RECALL_KS)


def load_cases(
    options: EvalOptions, settings: Settings
) -> tuple[list[Dialogue], list[ConvCase], CatalogueBuilder, dict[str, float | int | str]]:
    """Read the dialogues, build the catalogue, extract every case; plus data-set statistics."""
    ml_dir = options.movielens or default_movielens(settings)
    movielens = MovieLens.load(ml_dir)
    stats: dict[str, float | int | str] = {}
    imdb_csv = default_imdb(settings.data.shared_dir)
    imdb = ImdbFilms.load(imdb_csv) if imdb_csv.is_file() else None
    stats["imdb_films"] = imdb.size if imdb is not None else f"none ({imdb_csv} absent)"
    builder = CatalogueBuilder(
        movielens, prefix=options.task, enrich=imdb.enrich if imdb is not None else None
    )
    dialogues = read_dialogues(options, options.data, builder, ml_dir, stats)
    cases = extract_all(dialogues)
    if not cases:
        raise EvalError(
            f"No test cases in {options.data}",
            expected="recommender turns that mention movies not mentioned before",
            got=f"{len(dialogues)} dialogues without any",
        )
    return dialogues, cases, builder, stats


def read_dialogues(
    options: EvalOptions,
    path: Path,
    builder: CatalogueBuilder,
    ml_dir: Path,
    stats: dict[str, float | int | str],
) -> list[Dialogue]:
    """The dialogues of one file of the task, their movies matched through ``builder``."""
    if options.task == "redial":
        return load_redial(path, builder)
    youtube_csv = options.youtube or ml_dir.parent / "ml-youtube.csv"
    youtube = load_youtube_map(youtube_csv) if youtube_csv.is_file() else None
    data = load_inspired(path, builder, youtube)
    stats["trailers_matched_movielens"] = f"{len(data.trailer_items)} of {len(data.trailer_ids)}"
    return data.dialogues


def _mentions_by_dialogue(dialogues: Sequence[Dialogue]) -> dict[str, set[str]]:
    return {d.id: {m for u in d.utterances for m in u.movies} for d in dialogues}


def run_conversational(options: EvalOptions, settings: Settings, progress: Progress) -> EvalReport:
    if options.extra is not None and not options.adapt_queries:
        raise EvalError(
            "--extra-dialogues trains the query encoders, which only --adapt-queries makes",
            expected="--adapt-queries beside --extra-dialogues",
            got=f"--extra-dialogues {options.extra} alone",
            hint="Add --adapt-queries, or leave --extra-dialogues out",
        )
    dialogues, all_cases, builder, stats = load_cases(options, settings)
    cases = sample(all_cases, options.limit, options.seed)
    ml_dir = options.movielens or default_movielens(settings)
    train_dialogues = (
        read_dialogues(options, options.train, builder, ml_dir, {}) if options.train else None
    )
    catalogue = builder.catalogue()  # the training file's movies are videos too
    wanted = choose_systems(options, SYSTEMS)
    extra: list[Dialogue] = []
    if options.extra is not None:
        youtube = options.youtube or ml_dir.parent / "ml-youtube.csv"
        extra, counts = load_extra(options.extra, builder, catalogue.items, youtube)
        stats.update({f"extra_{k}": v for k, v in counts.items()})

    targets = [t for c in all_cases for t in c.targets]
    stats.update(
        {
            "dialogues": len(dialogues),
            "cases_total": len(all_cases),
            "targets_total": len(targets),
            "catalogue_items": len(catalogue),
            "mentioned_movies": len(builder.mentioned),
            "targets_in_catalogue": mean(1.0 if t in catalogue else 0.0 for t in targets),
            "targets_matched_movielens": mean(1.0 if t.startswith("ml:") else 0.0 for t in targets),
            "mean_targets_per_case": len(targets) / len(all_cases),
            "catalogue_with_imdb": sum(1 for m in catalogue.items.values() if m.plot),
            "targets_with_imdb": mean(
                1.0 if t in catalogue and catalogue.items[t].plot else 0.0 for t in targets
            ),
        }
    )
    report = new_report(options, file_sha256(options.data), len(cases), len(all_cases), settings)
    report.dataset = stats
    report.notes.append(
        "cases: recommender turns (consecutive messages merged) naming movies not mentioned "
        "earlier; targets = those movies; earlier mentions excluded from every ranking "
        "(He et al., CIKM 2023)"
    )

    name = workspace_name(options.task, catalogue.sha256, settings)
    lines = catalogue.manifest_lines()
    ev_settings = prepare_workspace(
        settings,
        name,
        lines,
        rerank=options.rerank,
        explain=False,
        candidates=max(settings.agent.candidates, K),
    )
    report.settings = ev_settings.redacted()
    library = None
    if any(s in wanted for s in ("bm25", "dense", "hybrid", "vidrec")):
        library = index_library(report, ev_settings, lines, progress, f"{len(catalogue)} movies")

    requests = [
        RankRequest(c.id, context_query(c), c.context, c.excluded, c.feedback) for c in cases
    ]
    relevant = [c.targets for c in cases]
    dialogue_of = {c.id: c.dialogue_id for c in cases}

    encoders = (
        _encoders(options, settings, ev_settings, library, dialogues, train_dialogues, cases, extra)
        if library is not None and "vidrec" in wanted and options.adapt_queries
        else None
    )
    if encoders is not None:
        report.notes.extend(f"vidrec query encoder {note}" for note in encoders.notes)

    def fit_models(sessions: bool) -> FoldModels:
        return fold_models(
            options,
            settings,
            ev_settings,
            dialogues,
            train_dialogues,
            sessions=sessions,
            needed={c.dialogue_id for c in cases},
            library=library,
            libraries=encoders.libraries if encoders is not None else None,
        )

    systems: list[System] = []
    llms: list[CachingLLM] = []
    timed: list[System] = []
    weighted: dict[float, System] = {}  # --cross-fit: vidrec at each collab weight tried
    for system_name in wanted:
        if system_name == "popularity":
            prior = {i: float(m.popularity) for i, m in catalogue.items.items()}
            systems.append(
                LeaveOneOutPopularity(_mentions_by_dialogue(dialogues), prior, dialogue_of)
            )
        elif library is not None and system_name == "bm25":
            systems.append(BM25System(library_chunks(library, catalogue.items)))
        elif library is not None and system_name == "dense":
            systems.append(DenseSystem(library))
        elif library is not None and system_name == "hybrid":
            systems.append(HybridSystem(library))
        elif library is not None and system_name == "vidrec":
            models = None
            if options.collab:
                models = fit_models(options.sessions)
                report.notes.extend(f"vidrec collaborative {note}" for note in models.notes)
            vidrec, llm = vidrec_system(
                options, settings, ev_settings, library, models, dialogue_of
            )
            notes, variants = learned_stage(
                options,
                vidrec,
                models,
                all_cases,
                ev_settings,
                progress,
                lambda tried, fitted=models: vidrec_system(  # type: ignore[misc]
                    options, settings, tried, library, fitted, dialogue_of
                )[0],
            )
            report.notes.extend(notes)
            systems.append(vidrec)
            systems.extend(variants)
            llms.append(llm)
            timed.extend(vidrec.systems.values() if isinstance(vidrec, RoutedSystem) else [vidrec])
            if options.feedback:  # the same turns after the seeker's earlier opinions as clicks
                with_feedback = vidrec_system(
                    options, settings, ev_settings, library, models, dialogue_of, feedback=True
                )[0]
                systems.append(with_feedback)
            systems.extend(
                ablation_rows(
                    options, settings, ev_settings, library, fit_models, dialogue_of, vidrec, models
                )
            )
            if options.cross_fit and models is not None and options.train is None:
                for weight in COLLAB_WEIGHTS:  # the LLM's answers come from its cache
                    tried = ev_settings.model_copy(
                        update={
                            "agent": ev_settings.agent.model_copy(update={"collab_weight": weight})
                        }
                    )
                    weighted[weight] = vidrec_system(
                        options, settings, tried, library, models, dialogue_of
                    )[0]

    results: list[tuple[System, list[list[str]]]] = []
    for system in systems:
        ranked = run_system(system, requests, K, progress)
        metrics = _metrics(ranked.lists, relevant)
        metrics["Coverage@10"] = catalogue_coverage(ranked.lists, len(catalogue), 10)
        if ranked.errors:
            metrics["errors"] = float(ranked.errors)
            report.notes.append(
                f"{system.name}: {ranked.errors} case(s) failed, first: {ranked.first_error}"
            )
        per_case = per_case_recall([c.id for c in cases], ranked.lists, relevant)
        report.systems.append(
            SystemResult(
                system.name, system.description, metrics, len(cases), ranked.wall_s, per_case
            )
        )
        results.append((system, ranked.lists))
    if weighted:
        row = _cross_fitted(weighted, requests, relevant, cases, options.folds, progress)
        row.metrics["Coverage@10"] = catalogue_coverage(row.lists, len(catalogue), 10)
        report.systems.append(row.result)
        report.notes.append(row.note)
        results.append((weighted[next(iter(weighted))], row.lists))
    vidrecs = [s for s in timed if isinstance(s, VidrecSystem)]
    if vidrecs:
        report.notes.append(timing_note(vidrecs))
    if library is not None:
        _add_diversity(report, results, library)
    if encoders is not None:
        encoders.close()
    for llm in llms:
        report.prompts_used = sorted(set(report.prompts_used) | llm.tags)
        report.notes.append(
            f"vidrec LLM: {llm.calls} new calls ({llm.generated_tokens} tokens generated), "
            f"{llm.cache.hits} answered from the cache"
        )
    return report


def _encoders(
    options: EvalOptions,
    settings: Settings,
    ev_settings: Settings,
    library: Library,
    dialogues: Sequence[Dialogue],
    train_dialogues: Sequence[Dialogue] | None,
    cases: Sequence[ConvCase],
    extra: Sequence[Dialogue],
) -> FoldEncoders | None:
    """``--adapt-queries``: each fold's query encoder (:mod:`evaluation.conv_queries`), each
    starting from one trained on the ``extra`` dialogues where there are any; None where the
    row ``vidrec`` has no per-fold models to rank with them (``--no-collab``)."""
    if not options.collab:
        log.warning("--adapt-queries needs the collaborative models' folds: not applied")
        return None
    return fold_encoders(
        options.task,
        settings,
        ev_settings,
        library,
        dialogues,
        train_dialogues,
        folds=options.folds,
        needed={c.dialogue_id for c in cases},
        seed=options.seed,
        extra=extra,
    )


def _metrics(lists: list[list[str]], relevant: Sequence[tuple[str, ...]]) -> dict[str, float]:
    """Recall@K and NDCG@10, with 95 % bootstrap intervals of Recall@10 and NDCG@10."""
    metrics = ranking_metrics(lists, relevant, recall_ks=RECALL_KS, ndcg_ks=(10,))
    return add_intervals(metrics, lists, relevant, recall_ks=(10,), ndcg_ks=(10,))


@dataclass
class _Row:
    result: SystemResult
    lists: list[list[str]]
    note: str

    @property
    def metrics(self) -> dict[str, float]:
        return self.result.metrics


def _cross_fitted(
    weighted: dict[float, System],
    requests: Sequence[RankRequest],
    relevant: Sequence[tuple[str, ...]],
    cases: Sequence[ConvCase],
    folds: int,
    progress: Progress,
) -> _Row:
    """The row ``vidrec-crossfit``: each fold's cases with the ``agent.collab_weight`` that
    scored best on the other folds' cases (:mod:`evaluation.crossfit`)."""
    lists_by_weight: dict[float, list[list[str]]] = {}
    wall = 0.0
    for weight, system in weighted.items():
        ranked = run_system(system, requests, K, progress)
        lists_by_weight[weight] = ranked.lists
        wall += ranked.wall_s
    fold_keys = [fold_of(c.dialogue_id, folds) for c in cases]
    lists, chosen = cross_fitted_lists(lists_by_weight, relevant, fold_keys)
    metrics = _metrics(lists, relevant)
    description = (
        "vidrec with agent.collab_weight cross-fitted: each fold's cases with the weight "
        f"(of {', '.join(f'{w:g}' for w in COLLAB_WEIGHTS)}) best on the other folds' cases"
    )
    note = "vidrec-crossfit: collab_weight per fold " + ", ".join(
        f"{fold}: {w:g}" for fold, w in sorted(chosen.items())
    )
    result = SystemResult("vidrec-crossfit", description, metrics, len(cases), wall)
    return _Row(result, lists, note)


def _add_diversity(
    report: EvalReport, results: list[tuple[System, list[list[str]]]], library: object
) -> None:
    """Intra-list diversity of each system's top 10 (content vectors from the library)."""
    video_vectors = getattr(library, "video_vectors", None)
    if video_vectors is None:
        return
    ids = sorted({i for _, lists in results for ranked in lists for i in ranked[:10]})
    vectors: dict[str, np.ndarray] = video_vectors(ids) if ids else {}
    for (_, lists), result in zip(results, report.systems, strict=True):
        values = [
            intra_list_diversity(np.array([vectors[i] for i in ranked[:10] if i in vectors]))
            for ranked in lists
            if len(ranked) >= 2
        ]
        result.metrics["ILD@10"] = mean(values)
    log.debug("diversity over %d distinct items", len(ids))

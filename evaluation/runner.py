"""Shared machinery of every task: options, sampling, the scoring loop, the vidrec system.

The tasks themselves are found through ``evaluation.tasks`` (the registry); this module knows
none of them, so the task modules can import it without a circle.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from agent.settings import Settings
from evaluation.cache import CachingLLM, JsonCache
from evaluation.report import EvalReport
from evaluation.systems import RankRequest, System, VidrecSystem
from evaluation.workspace import EvalError, open_library
from retrieval.errors import VidrecError
from retrieval.types import IngestProgress

if TYPE_CHECKING:
    from agent.collab import CollabScorer
    from evaluation.extra_dialogues import ExtraDialogues
    from retrieval.library import Library

log = logging.getLogger(__name__)

Task = Literal["redial", "inspired", "movielens", "ted", "ted-chat"]
T = TypeVar("T")


ABLATIONS: dict[str, str] = {  # each row is one more pass over every case
    "nocollab": "vidrec-nocollab: without its collaborative model",
    "nosessions": "vidrec-nosessions: the training dialogues as imported history, not sessions",
    "blend": "vidrec-blend: the learned stage off (the hand-tuned blend), same recommenders",
    "noreading": "vidrec-noreading: the learned stage fitted and run without the dialogue reading",
    "nolikes": "vidrec-nolikes: without reading likes, dislikes and seen marks (agent.opinions "
    "off: every named title is a like)",
}


@dataclass(frozen=True)
class EvalOptions:
    """What one ``vidrec eval`` run does.

    Attributes:
        task: which benchmark.
        data: the data file (ReDial jsonl, INSPIRED tsv, MovieLens ratings.csv or its folder,
            TED folder).
        limit: score only this many cases, sampled with ``seed`` (None = all).
        seed: the sampling (and model fitting) seed.
        systems: which systems to run (empty = the task's default set).
        rerank: whether the vidrec system uses its LLM rerank.
        movielens: the MovieLens folder with movies.csv (default: the shared data's
            ml-latest-small); conversational tasks match titles against it.
        youtube: ml-youtube.csv for INSPIRED trailer ids (default: next to the MovieLens folder).
        max_talks: TED only: index at most this many talks (the queried ones always included;
            ted-chat: this many sampled talks plus the targets and watched talks).
        train: ReDial / INSPIRED: a file of the task whose dialogues train vidrec's collaborative
            model (default: cross-fitting on the scored file, ``folds`` folds).
        folds: cross-fitting folds when no ``train`` file is given.
        extra: ReDial / INSPIRED: another data set's dialogues that every fold's query encoder
            (``adapt_queries``) learns from first; never scored
            (:mod:`evaluation.extra_dialogues`).
        collab: vidrec with its collaborative model (False: content and profile only).
        sessions: the training dialogues as conversation sessions (False: as imported history).
        cross_fit: also report vidrec with ``agent.collab_weight`` cross-fitted on the folds.
        search: MovieLens: the shipped row's training searches the ALS settings and the recent
            decay first (``vidrec train --search``).
        feedback: ReDial: also the row ``vidrec-feedback``, the seeker's opinions of movies named
            before each case recorded as feedback first.
        learned: vidrec with its learned ranking stage, fitted on the other folds' cases
            (False: the hand-tuned blend).
        learned_cases: at most this many cases of the file make the learned ranker's training
            rows (None: all).
        random_ties: MovieLens: order ratings with equal timestamps at random (``seed``)
            instead of by movie id.
        ablations: ReDial / INSPIRED: rows added to the same run, each vidrec without one part
            (:data:`ABLATIONS`).
        adapt_embedder: TED: also every system with the embedder adapted to the library
            (``retrieval.embed.adapt``), cross-fitted on two halves of the queried talks (rows
            ``<system>+adapted``).
        adapt_queries: TED: also every system with a query encoder adapted to the library's
            stored vectors (``retrieval.embed.query_adapt``), cross-fitted the same way (rows
            ``<system>+queries``; nothing indexed again). ReDial / INSPIRED: the row
            ``vidrec`` ranks each fold's cases with a query encoder trained on the other folds'
            (conversation, movie taken) pairs (``evaluation.conv_queries``).
    """

    task: Task
    data: Path
    limit: int | None = None
    seed: int = 0
    systems: tuple[str, ...] = ()
    rerank: bool = False
    movielens: Path | None = None
    youtube: Path | None = None
    max_talks: int | None = None
    train: Path | None = None
    folds: int = 5
    extra: ExtraDialogues | None = None
    collab: bool = True
    sessions: bool = True
    cross_fit: bool = False
    search: bool = False
    feedback: bool = False
    learned: bool = True
    learned_cases: int | None = 1500
    random_ties: bool = False
    ablations: tuple[str, ...] = ()
    adapt_embedder: bool = False
    adapt_queries: bool = False


def sample(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """``limit`` items drawn with ``seed``, kept in their original order (all when no limit)."""
    if limit is None or limit >= len(items):
        return list(items)
    if limit < 1:
        raise EvalError("--limit must be positive", expected="N >= 1", got=str(limit))
    chosen = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in chosen]


def choose_systems(
    options: EvalOptions, available: Sequence[str], default: Sequence[str] | None = None
) -> list[str]:
    wanted = list(options.systems) or list(default or available)
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise EvalError(
            f"Unknown system for {options.task}: {', '.join(unknown)}",
            expected="some of " + ", ".join(available),
            got=", ".join(unknown),
            hint="Pass --systems as a comma-separated list, or leave it out for all",
        )
    return wanted


def make_progress(enabled: bool = True) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )


def index_library(
    report: EvalReport,
    settings: Settings,
    manifest_lines: list[str],
    progress: Progress,
    what: str,
) -> Library:
    """The workspace's ``Library`` holding exactly the manifest's rows
    (:func:`evaluation.workspace.open_library`), its ingest shown as the progress bar
    "index ``what``" and counted in ``report.dataset`` (ingested, unchanged)."""
    task_id = progress.add_task(f"index {what}", total=None)

    def update(p: IngestProgress) -> None:
        progress.update(task_id, total=p.files_total, completed=p.files_done)

    try:
        library, ingest = open_library(settings, manifest_lines, update)
    finally:
        progress.update(task_id, visible=True)
    report.dataset["index_ingested"] = len(ingest.ingested)
    report.dataset["index_unchanged"] = len(ingest.unchanged)
    return library


@dataclass
class Ranked:
    """One system's output over the cases, plus its failures."""

    lists: list[list[str]]
    wall_s: float
    errors: int
    first_error: str = ""


def run_system(
    system: System, requests: Sequence[RankRequest], k: int, progress: Progress
) -> Ranked:
    """Rank every request; a vidrec error on one case is logged and scored as an empty list."""
    task_id = progress.add_task(system.name, total=len(requests))
    lists: list[list[str]] = []
    errors = 0
    first_error = ""
    start = time.perf_counter()
    step = max(1, len(requests) // 20)  # a log line every 5 % for runs in the background
    for done, request in enumerate(requests, start=1):
        try:
            lists.append(system.rank(request, k))
        except VidrecError as exc:
            errors += 1
            first_error = first_error or f"{type(exc).__name__}: {exc}"
            log.warning("%s failed on case %s: %s", system.name, request.id, exc)
            lists.append([])
        progress.advance(task_id)
        if done % step == 0 or done == len(requests):
            log.info(
                "%s: %d/%d cases, %.0fs",
                system.name,
                done,
                len(requests),
                time.perf_counter() - start,
            )
    return Ranked(lists, time.perf_counter() - start, errors, first_error)


def llm_cache(settings: Settings) -> JsonCache:
    return JsonCache(settings.cache_dir / "eval" / "llm_cache.sqlite")


def caching_llm(eval_settings: Settings, base: Settings) -> CachingLLM:
    """The settings' LLM behind a cache keyed by its input (shared by every run of the base)."""
    from agent.llm.factory import create_llm

    return CachingLLM(create_llm(eval_settings.llm, eval_settings.models_dir), llm_cache(base))


def make_vidrec(
    eval_settings: Settings,
    library: Library,
    base: Settings,
    *,
    collab: CollabScorer | None = None,
    llm: CachingLLM | None = None,
    feedback: bool = False,
    name: str = "vidrec",
) -> tuple[VidrecSystem, CachingLLM]:
    """The full Recommender over the eval library with this collaborative scorer (default: the
    workspace's, i.e. none trained), its LLM behind a content-keyed cache; ``feedback``: it
    records each request's earlier feedback first (:class:`VidrecSystem`)."""
    from agent.recommender import Recommender

    llm = llm or caching_llm(eval_settings, base)
    recommender = Recommender(eval_settings, library=library, llm=llm, collab=collab)
    agent = eval_settings.agent
    description = (
        f"vidrec Recommender: LLM {llm.backend}/{llm.model}, embedder "
        f"{eval_settings.embedding.backend}/{eval_settings.embedding.model}, "
        f"{'LLM rerank of top ' + str(agent.rerank_top_n) if agent.rerank else 'no rerank'}, "
        f"{agent.candidates} candidates, fresh user per case"
    )
    return VidrecSystem(recommender, description, feedback=feedback, name=name), llm


def prompt_versions() -> list[str]:
    """Every prompt file's ``name@version`` (the ones a run used are listed separately)."""
    try:
        from prompts.loader import list_prompts

        return sorted(p.tag for p in list_prompts())
    except (ImportError, VidrecError) as exc:  # pragma: no cover - prompts are part of the app
        log.warning("could not list prompts: %s", exc)
        return []


def new_report(
    options: EvalOptions, data_sha: str, n_cases: int, n_total: int, settings: Settings
) -> EvalReport:
    return EvalReport(
        task=options.task,
        data=str(options.data),
        data_sha256=data_sha,
        n_cases=n_cases,
        n_cases_total=n_total,
        seed=options.seed,
        limit=options.limit,
        settings=settings.redacted(),
        model={
            "llm": f"{settings.llm.backend}/{settings.llm.model}",
            "embedder": f"{settings.embedding.backend}/{settings.embedding.model}",
        },
        prompt_versions=prompt_versions(),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def default_movielens(settings: Settings) -> Path:
    return settings.data.shared_dir / "movielens" / "ml-latest-small"

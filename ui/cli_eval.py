"""``vidrec eval TASK``: the offline quality harness (ReDial, INSPIRED, MovieLens, TED)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import cast

import typer
from rich.console import Console

from agent.settings import Settings
from evaluation.compare import METRICS, compare_runs
from evaluation.extra_dialogues import parse_extra
from evaluation.report import PER_CASE_METRIC, EvalReport
from evaluation.runner import ABLATIONS, EvalOptions, Task, make_progress
from evaluation.shared_data import SHARED_DATA
from evaluation.tasks import TASKS, run_eval
from ui.console import err_console


def eval_cmd(
    task: str = typer.Argument(..., help="redial | inspired | movielens | ted | ted-chat"),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Data file or folder (default: the shared data set for TASK, see `vidrec config`).",
    ),
    limit: int | None = typer.Option(
        None, "--limit", "-n", min=1, help="Score N cases sampled with --seed (default: all)."
    ),
    seed: int = typer.Option(0, "--seed", help="Sampling and model-fitting seed."),
    backend: str | None = typer.Option(
        None, "--backend", help="LLM backend for the vidrec system (e.g. llamacpp, vllm, openai)."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the JSON report here (default: <data_dir>/eval-reports/)."
    ),
    rerank: bool | None = typer.Option(
        None,
        "--rerank/--no-rerank",
        help="vidrec with or without its LLM rerank (default: setting agent.rerank).",
    ),
    systems: str | None = typer.Option(
        None,
        "--systems",
        help="Comma-separated systems to run (default: all of the task's; e.g. bm25,dense,vidrec).",
    ),
    movielens: Path | None = typer.Option(
        None, "--movielens", help="MovieLens folder with movies.csv for title matching."
    ),
    max_talks: int | None = typer.Option(
        None, "--max-talks", min=1, help="TED: index at most this many talks (queries included)."
    ),
    train: Path | None = typer.Option(
        None,
        "--train",
        help="ReDial/INSPIRED: a file of the task whose dialogues train vidrec's collaborative "
        "model (e.g. the validation dialogues to score the test file).",
    ),
    folds: int = typer.Option(
        5, "--folds", min=2, help="Without --train: cross-fit the model on N folds of the file."
    ),
    extra_dialogues: str | None = typer.Option(
        None,
        "--extra-dialogues",
        help="ReDial/INSPIRED with --adapt-queries: TASK:PATH, another data set's dialogues "
        "(e.g. redial:../shared/data/redial/valid_data.jsonl) that every fold's query encoder "
        "learns from first; never scored.",
    ),
    collab: bool = typer.Option(
        True, "--collab/--no-collab", help="vidrec with its collaborative model (ablation: off)."
    ),
    sessions: bool = typer.Option(
        True,
        "--sessions/--no-sessions",
        help="Training dialogues as conversation sessions (ablation: as imported history).",
    ),
    cross_fit: bool = typer.Option(
        False,
        "--cross-fit",
        help="Also report vidrec with agent.collab_weight cross-fitted on the --folds folds.",
    ),
    search: bool = typer.Option(
        False,
        "--search",
        help="MovieLens: the shipped row trains with `vidrec train --search` (ALS settings and "
        "recent decay chosen on a held-out split of the training ratings).",
    ),
    feedback: bool = typer.Option(
        False,
        "--feedback",
        help="ReDial: also the row vidrec-feedback: before each turn, the seeker's opinions of "
        "the movies named earlier (its questionnaire) are recorded as like / dislike / watched.",
    ),
    learned: bool = typer.Option(
        True,
        "--learned/--no-learned",
        help="ReDial/INSPIRED: vidrec with its learned ranking stage, fitted on the other folds' "
        "cases (ablation: the hand-tuned blend).",
    ),
    reading: bool = typer.Option(
        True,
        "--reading/--no-reading",
        help="The dialogue reading (genres, tags, years, speakers) among the learned features "
        "(ablation: off).",
    ),
    learned_cases: int = typer.Option(
        1500,
        "--learned-cases",
        min=1,
        help="At most N cases of the file make the learned ranker's training rows.",
    ),
    random_ties: bool = typer.Option(
        False,
        "--random-ties",
        help="MovieLens: order ratings with equal timestamps at random (--seed) instead of by "
        "movieId ascending.",
    ),
    ablations: str = typer.Option(
        "",
        "--ablations",
        help="ReDial/INSPIRED: comma-separated rows added to the same run, each vidrec without one "
        "part: " + "; ".join(ABLATIONS.values()) + ".",
    ),
    adapt_embedder: bool = typer.Option(
        False,
        "--adapt-embedder",
        help="TED: also every system with the embedder fine-tuned on the library's descriptions "
        "(`vidrec train --embedder`), cross-fitted: each half of the queries is searched with a "
        "model adapted on the other half's talks (rows <system>+adapted).",
    ),
    adapt_queries: bool = typer.Option(
        False,
        "--adapt-queries",
        help="TED: also every system with a query encoder fitted to the index's stored vectors "
        "(`vidrec train --embedder --queries`), cross-fitted the same way (rows "
        "<system>+queries; no reindex). ReDial / INSPIRED: the row vidrec ranks each fold's "
        "cases with a query encoder trained on the other folds' (conversation, movie taken) "
        "pairs.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Score vidrec and baselines on a public benchmark; print a table, write a JSON report."""
    if task not in TASKS:
        raise typer.BadParameter(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    settings = Settings()
    if backend:
        settings = settings.model_copy(
            update={"llm": settings.llm.model_copy(update={"backend": backend})}
        )
    if not reading:
        agent = settings.agent
        learned_cfg = agent.learned.model_copy(update={"reading": False})
        settings = settings.model_copy(
            update={"agent": agent.model_copy(update={"learned": learned_cfg})}
        )
    data_path = data or settings.data.shared_dir / SHARED_DATA[task]
    options = EvalOptions(
        task=cast(Task, task),  # checked against TASKS above
        data=data_path,
        limit=limit,
        seed=seed,
        systems=tuple(s.strip() for s in systems.split(",") if s.strip()) if systems else (),
        rerank=settings.agent.rerank if rerank is None else rerank,
        movielens=movielens,
        max_talks=max_talks,
        train=train,
        folds=folds,
        extra=parse_extra(extra_dialogues) if extra_dialogues else None,
        collab=collab,
        sessions=sessions,
        cross_fit=cross_fit,
        search=search,
        feedback=feedback,
        learned=learned,
        learned_cases=learned_cases,
        random_ties=random_ties,
        ablations=_ablations(ablations),
        adapt_embedder=adapt_embedder,
        adapt_queries=adapt_queries,
    )
    report = run_eval(options, settings, progress=make_progress(enabled=not quiet))
    stdout = Console()
    report.print(stdout if stdout.is_terminal else Console(width=200))
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = out or settings.data_dir / "eval-reports" / f"{task}-{stamp}.json"
    report.write_json(target)
    err_console().print(f"report: {target}")


def compare_cmd(
    before: Path = typer.Argument(..., help="The JSON report of the earlier run."),
    after: Path = typer.Argument(..., help="The JSON report of the later run."),
    system: str = typer.Option("vidrec", "--system", help="The system of the later run."),
    against: str | None = typer.Option(
        None, "--against", help="The system of the earlier run (default: the same)."
    ),
    metric: str = typer.Option(
        PER_CASE_METRIC,
        "--metric",
        help="Recall@10, or Recall@1 / MRR for reports that record ranks (ted). The same report "
        "twice compares two of its rows.",
    ),
) -> None:
    """Compare two runs of `vidrec eval` case by case (paired difference, 95 % interval)."""
    reports = []
    for path in (before, after):
        if not path.is_file():
            raise typer.BadParameter(f"no report at {path}; `vidrec eval -o FILE` writes one")
        reports.append(EvalReport.read_json(path))
    if metric not in METRICS:
        raise typer.BadParameter(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    found = compare_runs(reports[0], reports[1], system, against, metric)
    Console().print(found.line(f"{against or system} -> {system}"), soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_cmd)
    app.command("eval-compare")(compare_cmd)


def _ablations(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    unknown = [a for a in names if a not in ABLATIONS]
    if unknown:
        raise typer.BadParameter(
            f"unknown ablation {', '.join(unknown)}; expected some of {', '.join(ABLATIONS)} "
            "(comma-separated), e.g. --ablations nocollab,nosessions"
        )
    return names

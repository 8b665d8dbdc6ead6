"""The registry of evaluation tasks: a name -> the function that runs it (``vidrec eval TASK``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.progress import Progress

from agent.settings import Settings
from evaluation.conversational import run_conversational
from evaluation.movielens import run_movielens
from evaluation.report import EvalReport
from evaluation.runner import EvalOptions, Task, make_progress
from evaluation.ted import run_ted
from evaluation.ted_chat import run_ted_chat
from evaluation.workspace import EvalError

__all__ = ["REGISTRY", "TASKS", "run_eval"]

Runner = Callable[[EvalOptions, Settings, Progress], EvalReport]

REGISTRY: dict[Task, Runner] = {
    "redial": run_conversational,
    "inspired": run_conversational,
    "movielens": run_movielens,
    "ted": run_ted,
    "ted-chat": run_ted_chat,
}
TASKS: tuple[Task, ...] = tuple(REGISTRY)


def run_eval(
    options: EvalOptions, settings: Settings | None = None, *, progress: Progress | None = None
) -> EvalReport:
    """Run one task end to end and return its report (the caller prints / writes it)."""
    settings = settings or Settings()
    runner = REGISTRY.get(options.task)
    if runner is None:
        raise EvalError(
            f"Unknown evaluation task {options.task!r}",
            expected=" | ".join(TASKS),
            got=repr(options.task),
        )
    if not options.data.exists():
        raise EvalError(
            f"No data at {options.data}",
            expected=f"the {options.task} data file or folder",
            got=str(options.data),
            hint="See ../shared/data/SOURCES.md for where each data set lives",
        )
    progress = progress or make_progress(enabled=False)
    start = time.perf_counter()
    with progress:
        report = runner(options, settings, progress)
    report.wall_s = time.perf_counter() - start
    return report

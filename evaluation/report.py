"""The result of one evaluation run: per-system metrics plus everything needed to reproduce it."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

log = logging.getLogger(__name__)

PER_CASE_METRIC = "Recall@10"


@dataclass
class SystemResult:
    """One system's scores on the run's cases.

    Attributes:
        name: short id used on the command line (``popularity``, ``bm25``, ``vidrec``, ...).
        description: what the system is, in a sentence (model, features, parameters).
        metrics: metric name -> mean over ``n`` cases (``Recall@10``, ``NDCG@10``, ``MAE``...).
        n: cases scored.
        wall_s: seconds spent ranking (fitting included).
        per_case: case id -> the case's score (``PER_CASE_METRIC``) where the task records it,
            so that two runs can be compared case by case (``vidrec eval-compare``).
        per_case_rr: case id -> the reciprocal rank of its first relevant item (0 when not
            listed), where the task records it (TED), for paired Recall@1 and MRR.
    """

    name: str
    description: str
    metrics: dict[str, float]
    n: int
    wall_s: float = 0.0
    per_case: dict[str, float] = field(default_factory=dict)
    per_case_rr: dict[str, float] = field(default_factory=dict)


@dataclass
class EvalReport:
    """Everything one ``vidrec eval`` run measured, and with what."""

    task: str
    data: str  # the data file (or folder) evaluated
    data_sha256: str
    n_cases: int  # cases scored (after --limit)
    n_cases_total: int  # cases the data holds
    seed: int
    limit: int | None
    systems: list[SystemResult] = field(default_factory=list)
    dataset: dict[str, float | int | str] = field(default_factory=dict)  # stats of the data
    settings: dict[str, Any] = field(default_factory=dict)  # effective settings (secrets masked)
    model: dict[str, str] = field(default_factory=dict)  # llm / embedder names
    prompt_versions: list[str] = field(default_factory=list)  # every prompt file, "name@version"
    prompts_used: list[str] = field(default_factory=list)  # the ones LLM calls were tagged with
    notes: list[str] = field(default_factory=list)
    started_at: str = ""
    wall_s: float = 0.0

    def system(self, name: str) -> SystemResult:
        for result in self.systems:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def read_json(cls, path: str | Path) -> EvalReport:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        raw["systems"] = [SystemResult(**s) for s in raw.get("systems", [])]
        return cls(**raw)

    def metric_names(self) -> list[str]:
        names: list[str] = []
        for result in self.systems:
            names.extend(m for m in result.metrics if m not in names)
        return names

    def table(self) -> Table:
        """A rich table: one row per system, one column per metric (its 95 % interval, when the
        run measured one as ``"<metric> lo"`` / ``"<metric> hi"``, in brackets beside it)."""
        table = Table(
            title=f"{self.task}: {self.n_cases} of {self.n_cases_total} cases "
            f"(seed {self.seed}, {self.wall_s:.0f}s)",
            title_justify="left",
        )
        table.add_column("system", style="bold", no_wrap=True)
        names = [n for n in self.metric_names() if not n.endswith((" lo", " hi"))]
        for name in names:
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("n", justify="right")
        table.add_column("time", justify="right")
        best = {
            name: _best(name, [r.metrics[name] for r in self.systems if name in r.metrics])
            for name in names
        }
        for result in self.systems:
            cells = []
            for name in names:
                value = result.metrics.get(name)
                if value is None:
                    cells.append("-")
                    continue
                text = f"{value:.3f}"
                text = f"[green]{text}[/green]" if value == best[name] else text
                lo, hi = result.metrics.get(f"{name} lo"), result.metrics.get(f"{name} hi")
                cells.append(text if lo is None or hi is None else f"{text} [{lo:.3f}, {hi:.3f}]")
            table.add_row(result.name, *cells, str(result.n), f"{result.wall_s:.0f}s")
        return table

    def print(self, console: Console | None = None) -> None:
        console = console or Console()
        console.print(self.table())
        for key, value in self.dataset.items():
            shown = f"{value:.3f}" if isinstance(value, float) else str(value)
            console.print(f"  {key}: {shown}")
        for note in self.notes:
            console.print(f"  note: {note}")


def _best(metric: str, values: list[float]) -> float | None:
    if not values:
        return None
    lower_is_better = metric in {"MAE", "RMSE"}
    return min(values) if lower_is_better else max(values)

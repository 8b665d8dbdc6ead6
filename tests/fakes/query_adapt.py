"""A stand-in for ``retrieval.embed.query_adapt.adapt_query_encoder`` in evaluation tests: it
records each training and writes an empty record, so the harness finds an encoder folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retrieval.embed.query_adapt import QueryAdaptReport

# (pairs, target ids, targets, extra record) of each training
Training = tuple[list[Any], list[str], Any, dict[str, Any] | None]


def fake_query_adapt(trainings: list[Training], bases: list[Path] | None = None) -> Any:
    """The fake, appending to ``trainings`` (and the model each started from to ``bases``)."""

    def fake_adapt(
        base: Path,
        model: str,
        pairs: list[Any],
        ids: list[str],
        targets: Any,
        out: Path,
        options: Any,
        extra: dict[str, Any] | None = None,
    ) -> QueryAdaptReport:
        trainings.append((list(pairs), list(ids), targets, extra))
        if bases is not None:
            bases.append(base)
        out.mkdir(parents=True)
        (out / "adapted.json").write_text("{}")
        return QueryAdaptReport(
            out, "queries", str(base), model, len(pairs), len(ids), 1, 1.0, 0.5, 0.1, options
        )

    return fake_adapt

"""What the TED rows are made of: a talk, the systems searched, and how a row is scored.

Shared by :mod:`evaluation.ted` (the base rows) and :mod:`evaluation.ted_adapt` (the same systems
over an index embedded by the adapted model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.settings import Settings
from evaluation.cache import CachingLLM
from evaluation.metrics import (
    bootstrap_ci,
    per_case_recall,
    ranking_metrics,
    recall_at_k,
    reciprocal_rank,
)
from evaluation.report import SystemResult
from evaluation.runner import Ranked, make_vidrec
from evaluation.systems import (
    BM25System,
    DenseSystem,
    HybridSystem,
    PopularitySystem,
    RankRequest,
    System,
    library_chunks,
)

if TYPE_CHECKING:
    from retrieval.library import Library

SYSTEMS = ("popularity", "bm25", "dense", "hybrid-chunk", "hybrid-rrf", "hybrid", "vidrec")
DEFAULT_SYSTEMS = ("popularity", "bm25", "dense", "hybrid-chunk", "hybrid-rrf", "hybrid")
K = 100


@dataclass(frozen=True)
class Talk:
    id: str  # "ted-<csv_index>"
    csv_index: int
    description: str
    transcript: Path
    duration: float | None
    views: int
    speaker: str = ""


def build_systems(
    wanted: list[str],
    library: Library | None,
    ev_settings: Settings,
    indexed: list[Talk],
    settings: Settings,
) -> tuple[list[System], list[CachingLLM]]:
    """The systems named in ``wanted`` over ``library`` (the LLMs of those that use one)."""
    systems: list[System] = []
    llms: list[CachingLLM] = []
    for name in wanted:
        if name == "popularity":
            systems.append(
                PopularitySystem({t.id: float(t.views) for t in indexed}, "talks by TED view count")
            )
        elif library is not None and name == "bm25":
            systems.append(BM25System(library_chunks(library, (t.id for t in indexed))))
        elif library is not None and name == "dense":
            systems.append(DenseSystem(library))
        elif library is not None and name == "hybrid-chunk":
            best_chunk = ev_settings.search.model_copy(
                update={"video_dense_weight": 0.0, "video_lexical_weight": 0.0}
            )
            description = "library hybrid search, whole-video rankings off: talk = best chunk"
            systems.append(HybridSystem(library, description, name=name, search=best_chunk))
        elif library is not None and name == "hybrid-rrf":
            rrf = ev_settings.search.model_copy(
                update={
                    "fusion": "rrf",
                    "chunk_weight": 1.0,
                    "video_dense_weight": 1.0,
                    "video_lexical_weight": 1.0,
                }
            )
            description = "library hybrid search, video rankings fused by reciprocal ranks 1/1/1"
            systems.append(HybridSystem(library, description, name=name, search=rrf))
        elif library is not None and name == "hybrid":
            systems.append(HybridSystem(library))
        elif library is not None and name == "vidrec":
            vidrec, llm = make_vidrec(ev_settings, library, settings)
            systems.append(vidrec)
            llms.append(llm)
    return systems, llms


def score_system(
    name: str, description: str, requests: Sequence[RankRequest], ranked: Ranked
) -> SystemResult:
    """The row ``name``: Recall@1/10 and MRR of ``ranked`` (the talk itself is relevant: a
    request's id is the talk's id plus a variant suffix), with bootstrap intervals."""
    relevant = [[r.id.split("/", 1)[0]] for r in requests]
    metrics = ranking_metrics(ranked.lists, relevant, recall_ks=(1, 10), with_mrr=True)
    pairs = list(zip(ranked.lists, relevant, strict=True))
    rr = [reciprocal_rank(r, rel) for r, rel in pairs]
    for metric, values in (("Recall@1", [recall_at_k(r, rel, 1) for r, rel in pairs]), ("MRR", rr)):
        metrics[f"{metric} lo"], metrics[f"{metric} hi"] = bootstrap_ci(values)
    if ranked.errors:
        metrics["errors"] = float(ranked.errors)
    result = SystemResult(name, description, metrics, len(requests), ranked.wall_s)
    result.per_case = per_case_recall([r.id for r in requests], ranked.lists, relevant)
    result.per_case_rr = dict(zip((r.id for r in requests), rr, strict=True))
    return result

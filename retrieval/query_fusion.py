"""Fusion weights for a query encoder, chosen on descriptions it was not trained on.

A query encoder (``retrieval.embed.query_adapt``) makes the dense side of the search stronger,
so the weights tuned for the base model under-use it: on all 2,092 TED talks with
all-mpnet-base-v2, weights chosen on one half and applied to the other take Recall@1 from 0.924
(the shipped 0.6 / 1.1 / 1) to about 0.932 (docs/search.md). Which weights suit depends on the
library and the encoder, so ``vidrec train --embedder --queries`` chooses them:

1. the described videos are split (``embedding.query_adapt_validation``, seeded); an encoder is
   trained on the larger part;
2. the library's own search, with that encoder on the query side, ranks the held-out
   descriptions under each point of :data:`FUSION_GRID` (best-chunk weight x centroid weight;
   whole-video BM25 stays the unit) and the point with the best MRR@10 is kept (ties: the
   configured weights, then the smaller centroid weight; the configured weights stay where they
   already find nearly every held-out video first, :data:`SATURATED`);
3. the encoder that ships is trained on every description, and ``adapted.json`` records the
   choice (``fusion``) with what it measured.

The search then uses the recorded weights whenever that encoder is ``embedding.query_model``
(``search.query_encoder_weights``, on by default; off keeps ``search.*_weight`` as set).
"""

from __future__ import annotations

import logging
import math
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retrieval.errors import ConfigError
from retrieval.settings import EmbeddingSettings, SearchSettings

if TYPE_CHECKING:
    from retrieval.embed.query_adapt import QueryPair
    from retrieval.library import Library

log = logging.getLogger(__name__)

CHUNK_WEIGHTS = (0.15, 0.3, 0.6)
CENTROID_WEIGHTS = (1.1, 1.5, 2.0, 2.5, 3.0)
FUSION_GRID = tuple((c, d) for c in CHUNK_WEIGHTS for d in CENTROID_WEIGHTS)
MIN_VALIDATION = 20  # fewer held-out descriptions cannot tell the grid's points apart
FUSION_KEY = "fusion"
DEPTH = 10  # MRR@10: a target below the tenth place counts 0
# the configured weights already put (nearly) every held-out video first, e.g. where the index
# holds the descriptions themselves (a product library's metadata): the grid would choose on noise
SATURATED = 0.99


@dataclass(frozen=True)
class FusionChoice:
    """The weights chosen, and MRR@10 / Recall@1 on the held-out descriptions with them and
    with the configured weights (``base_*``)."""

    chunk_weight: float
    video_dense_weight: float
    video_lexical_weight: float
    queries: int
    mrr: float
    recall_at_1: float
    base_mrr: float
    base_recall_at_1: float

    def as_record(self) -> dict[str, float | int]:
        return asdict(self)

    def summary(self) -> str:
        """One line: what was chosen, on how many descriptions, and what it measured."""
        return (
            f"fusion weights chosen on {self.queries} held-out descriptions (an encoder trained "
            f"without them): best chunk {self.chunk_weight:g}, centroid "
            f"{self.video_dense_weight:g}, whole-video BM25 {self.video_lexical_weight:g}: MRR@10 "
            f"{self.mrr:.3f}, Recall@1 {self.recall_at_1:.3f} (with the configured weights "
            f"{self.base_mrr:.3f}, {self.base_recall_at_1:.3f})"
        )


NOT_CHOSEN = "fusion weights not chosen (too few descriptions to hold some out): search.*_weight"


def split_validation(
    pairs: Sequence[QueryPair], share: float, seed: int
) -> tuple[list[QueryPair], list[QueryPair]]:
    """``pairs`` as (training, held out): ``share`` of the videos held out at random (``seed``);
    every pair of one video lands on the same side."""
    videos = sorted({p.video_id for p in pairs})
    random.Random(seed).shuffle(videos)
    held = set(videos[: round(len(videos) * share)])
    return [p for p in pairs if p.video_id not in held], [p for p in pairs if p.video_id in held]


def _scores(library: Library, search: SearchSettings, pairs: Sequence[QueryPair]) -> list[float]:
    """Each pair's reciprocal rank of its video in ``library``'s search with ``search``."""
    searcher = library.searcher_with(search)
    out = []
    for pair in pairs:
        ranked = [h.video.id for h in searcher.search(pair.query, k=DEPTH)]
        out.append(1.0 / (ranked.index(pair.video_id) + 1) if pair.video_id in ranked else 0.0)
    return out


def choose_fusion(library: Library, pairs: Sequence[QueryPair]) -> FusionChoice:
    """The point of :data:`FUSION_GRID` under which ``library``'s search (its query side an
    encoder not trained on ``pairs``) ranks ``pairs``' videos best (MRR@10)."""
    base = library.config.search
    library.embed_queries([p.query for p in pairs])  # once, in batches; every point reuses them
    configured = (base.chunk_weight, base.video_dense_weight)
    results: dict[tuple[float, float], list[float]] = {}
    for chunk_weight, centroid_weight in dict.fromkeys([configured, *FUSION_GRID]):
        point = base.model_copy(
            update={"chunk_weight": chunk_weight, "video_dense_weight": centroid_weight}
        )
        results[(chunk_weight, centroid_weight)] = _scores(library, point, pairs)

    def mrr(rr: list[float]) -> float:
        return sum(rr) / len(rr)

    def recall(rr: list[float]) -> float:
        return sum(r == 1.0 for r in rr) / len(rr)

    best = max(results, key=lambda p: (mrr(results[p]), p == configured, -p[1]))
    if mrr(results[configured]) >= SATURATED:  # found already: nothing to choose on
        best = configured
    return FusionChoice(
        best[0],
        best[1],
        base.video_lexical_weight,
        len(pairs),
        mrr(results[best]),
        recall(results[best]),
        mrr(results[configured]),
        recall(results[configured]),
    )


def fit_with_fusion(
    pairs: Sequence[QueryPair],
    share: float,
    seed: int,
    train: Callable[[Sequence[QueryPair], Path, dict[str, Any]], Any],
    open_with: Callable[[Path], Library],
    out_dir: Path,
    always: Sequence[QueryPair] = (),
) -> tuple[Any, FusionChoice | None]:
    """Train the shipped encoder on every pair into ``out_dir`` (``train(pairs, folder,
    extra record)``), with the fusion weights chosen on ``share`` of the videos held out from a
    first encoder (``open_with(folder)``: the library searched with that encoder). With too few
    pairs to hold :data:`MIN_VALIDATION` out and train on the rest, the choice is skipped
    (``None``) and the search keeps ``search.*_weight``. ``always``: pairs both encoders learn
    and none is held out (logged conversations: the weights are chosen on descriptions)."""
    from retrieval.embed import query_adapt

    fitted, held = split_validation(pairs, share, seed)
    choice = None
    if share > 0 and len(held) >= MIN_VALIDATION and len(fitted) >= query_adapt.MIN_QUERIES:
        scratch = out_dir.with_name(out_dir.name + ".validation")
        train([*fitted, *always], scratch, {"validation_of": out_dir.name})
        library = open_with(scratch)
        try:
            choice = choose_fusion(library, held)
        finally:
            library.close()
            shutil.rmtree(scratch, ignore_errors=True)
    else:
        log.info("query encoder: %d descriptions, fusion weights not chosen", len(pairs))
    extra = {FUSION_KEY: choice.as_record()} if choice else {}
    return train([*pairs, *always], out_dir, extra), choice


def _weight(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def recorded_fusion(folder: str | Path) -> dict[str, float] | None:
    """The fusion weights ``adapted.json`` in ``folder`` records (``None``: none recorded);
    anything but non-negative finite numbers is refused."""
    from retrieval.embed.query_adapt import read_adapted

    record = read_adapted(Path(folder)).get(FUSION_KEY)
    if record is None:
        return None
    names = ("chunk_weight", "video_dense_weight", "video_lexical_weight")
    weights = record if isinstance(record, dict) else {}
    if not all(_weight(weights.get(n)) for n in names):
        raise ConfigError(
            f"The fusion weights recorded with the query encoder at {folder} are unreadable",
            expected=f"{FUSION_KEY}: non-negative numbers for {', '.join(names)}",
            got=repr(record)[:200],
            hint="Train the encoder again (`vidrec train --embedder --queries`) or set "
            "search.query_encoder_weights = false",
        )
    return {n: float(weights[n]) for n in names}


def effective_search(search: SearchSettings, embedding: EmbeddingSettings) -> SearchSettings:
    """``search`` with the query encoder's recorded fusion weights where one is set and
    ``search.query_encoder_weights`` is on."""
    if not (embedding.query_model and search.query_encoder_weights):
        return search
    weights = recorded_fusion(Path(embedding.query_model).expanduser())
    if weights is None:
        return search
    log.info("search: fusion weights recorded with the query encoder: %s", weights)
    return search.model_copy(update=weights)

"""Adapt the query side only: a query encoder fine-tuned against the library's stored vectors.

``retrieval.embed.adapt`` fine-tunes the whole embedder, so every chunk must be embedded again
(``vidrec reindex``): on this 2-core machine an hour and a quarter for 2,092 TED talks with
all-mpnet-base-v2. Here the index stays as it is. A copy of the embedder becomes the *query*
encoder and is trained so that each video's description lands nearest that video's stored
centroid among the centroids of every video in the library (softmax over all of them, cosine x
``scale``): the documents' vectors are frozen targets, so only short descriptions pass through
the model, and every other video is a negative at no cost.

``embedding.query_model`` takes the folder; queries are then encoded by it and documents by
``embedding.model`` (``retrieval.embed.sentence_transformers``), which must be the model it was
adapted from (``adapted.json`` records it, and a mismatch is refused when the embedder loads).
Measured on TED (``vidrec eval ted --adapt-queries``, docs/search.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from retrieval.embed.adapt import (
    ADAPTED_META,
    TrainSettings,
    mean_loss,
    require_enough,
    save_adapted,
    start_training,
)
from retrieval.embed.newest import newest_words
from retrieval.errors import ConfigError
from retrieval.settings import EmbeddingSettings

if TYPE_CHECKING:
    from retrieval.library import Library

log = logging.getLogger(__name__)

MIN_QUERIES = 32  # under one batch of descriptions teaches the encoder nothing reliable
QUERY_SIDE = "queries"


class QueryPair(NamedTuple):
    """A query and its video: a description and the video it describes, or a logged
    conversation and a video taken after it (``agent.collab.requests.request_pairs``)."""

    video_id: str
    query: str


def query_adapt_settings(section: EmbeddingSettings, seed: int = 0) -> TrainSettings:
    """The query encoder's training settings from the ``embedding`` section (its own epochs;
    its own rate where ``query_adapt_lr`` is set, else the whole model's; the whole model's
    batch size)."""
    lr = section.query_adapt_lr if section.query_adapt_lr is not None else section.adapt_lr
    return TrainSettings(section.query_adapt_epochs, lr, section.adapt_batch_size, seed=seed)


@dataclass(frozen=True)
class QueryAdaptReport:
    path: Path
    side: str
    base: str
    base_model: str
    queries: int
    targets: int
    batches: int
    first_loss: float
    last_loss: float
    seconds: float
    settings: TrainSettings


def query_pairs(videos: Iterable[tuple[str, str]]) -> list[QueryPair]:
    """``(video id, description)`` as pairs, whitespace collapsed; empty descriptions give none."""
    pairs = []
    for video_id, description in videos:
        text = " ".join(description.split())
        if text:
            pairs.append(QueryPair(video_id, text))
    return pairs


def library_targets(library: Library) -> tuple[list[QueryPair], list[str], np.ndarray]:
    """Every described video's pair, and the stored centroid of every video in ``library`` (the
    targets: the described ones' and everyone else's, as the search's centroid ranking sees them)."""
    videos = library.catalogue.videos()
    vectors = library.video_vectors([v.id for v in videos])
    ids = [v.id for v in videos if v.id in vectors]
    pairs = [p for p in query_pairs((v.id, v.description) for v in videos) if p.video_id in vectors]
    matrix = np.stack([vectors[i] for i in ids]) if ids else np.zeros((0, 0), np.float32)
    return pairs, ids, matrix


def adapt_query_encoder(
    base: Path,
    base_model: str,
    pairs: Sequence[QueryPair],
    target_ids: Sequence[str],
    targets: np.ndarray,
    out_dir: Path,
    settings: TrainSettings,
    extra: dict[str, Any] | None = None,
) -> QueryAdaptReport:
    """Fine-tune a copy of the model at ``base`` (configured as ``base_model``) so that each
    pair's query is nearest its video's row of ``targets`` (rows named by ``target_ids``, unit
    length, made by that same model); write it to ``out_dir`` whole or not at all, ``extra``
    added to its record (e.g. the fusion weights chosen for it, ``retrieval.query_fusion``)."""
    row_of = {vid: i for i, vid in enumerate(target_ids)}
    usable = [p for p in pairs if p.video_id in row_of]
    require_enough(
        len(usable),
        MIN_QUERIES,
        "Too few descriptions and logged requests to adapt the query encoder",
        "indexed videos' descriptions and logged conversation turns after which videos were "
        "taken, together",
    )
    import torch
    from torch.nn.functional import cross_entropy, normalize

    model, optimiser, rng = start_training(base, settings)
    dim = model.get_embedding_dimension()
    if targets.ndim != 2 or targets.shape[1] != dim:
        raise ConfigError(
            "The stored vectors were not made by the model being adapted",
            expected=f"{dim}-dimensional vectors from {base_model}",
            got=f"shape {tuple(targets.shape)}",
            hint="Set embedding.model to the model the library was indexed with",
        )
    frozen = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    losses: list[float] = []
    clock = time.perf_counter()
    for epoch in range(settings.epochs):
        order = list(usable)
        rng.shuffle(order)
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            features = model.preprocess(newest_words(model, [p.query for p in batch]))
            with torch.autocast("cpu", dtype=torch.bfloat16):  # as retrieval.embed.adapt
                q = model(features)["sentence_embedding"].float()
            scores = normalize(q, dim=-1) @ frozen.T * settings.scale
            labels = torch.tensor([row_of[p.video_id] for p in batch])
            loss = cross_entropy(scores, labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.item()))
        log.info("query encoder: epoch %d, loss %.3f", epoch + 1, losses[-1])
    model.eval()
    tenth = max(1, len(losses) // 10)
    report = QueryAdaptReport(
        path=out_dir,
        side=QUERY_SIDE,
        base=str(base),
        base_model=base_model,
        queries=len(usable),
        targets=len(target_ids),
        batches=len(losses),
        first_loss=mean_loss(losses[:tenth]),
        last_loss=mean_loss(losses[-tenth:]),
        seconds=time.perf_counter() - clock,
        settings=settings,
    )
    record = {k: v for k, v in asdict(report).items() if k != "path"}
    save_adapted(model, {**record, **(extra or {})}, out_dir)
    return report


def read_adapted(folder: Path) -> dict[str, Any]:
    """The ``adapted.json`` of the query encoder at ``folder`` (a record that is not an object
    reads as an empty one: it says nothing)."""
    meta_path = folder / ADAPTED_META
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"No query encoder at {folder}",
            expected=f"a folder written by `vidrec train --embedder --queries` (with {ADAPTED_META})",
            got=f"{type(exc).__name__}: {exc}",
            hint="Set embedding.query_model to such a folder, or unset it",
        ) from exc
    return meta if isinstance(meta, dict) else {}


def check_query_model(folder: Path, model: str) -> None:
    """Refuse a query encoder that was not adapted from ``model`` (the documents' embedder):
    its queries would be compared with vectors of another model."""
    from retrieval.embed.sentence_transformers import canonical_name

    meta = read_adapted(folder)
    adapted_from = meta.get("base_model")
    if (
        meta.get("side") != QUERY_SIDE
        or not isinstance(adapted_from, str)
        or (canonical_name(adapted_from) != canonical_name(model))
    ):
        raise ConfigError(
            "The query encoder was not adapted from the documents' embedder",
            expected=f"a query encoder adapted from embedding.model = {model!r}",
            got=f"side {meta.get('side')!r}, adapted from {adapted_from!r}",
            hint="Train one for this model (`vidrec train --embedder --queries`) or unset "
            "embedding.query_model",
        )

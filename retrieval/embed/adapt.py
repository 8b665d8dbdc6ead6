"""Adapt the embedder to a library: fine-tune it on the library's own descriptions and transcripts.

A library's videos come with descriptions written about them, and the embedder was trained on
other text: people describe a talk in the third person ("she shows how ...") while its transcript
speaks in the first. Fine-tuning the sentence-transformers model on (a video's description, one
of its transcript chunks) pairs teaches it that mapping for this library. The loss is the usual
in-batch contrastive one (multiple negatives ranking, both directions, cosine x ``scale``): each
description must pick its own chunk among the batch's chunks of other videos; a batch never holds
two pairs of one video (its other chunk would count as a wrong answer).

Measured on TED (``vidrec eval ted --adapt-embedder``, docs/search.md): the model adapted on half
of the talks' descriptions finds the other half's talks better by their centroid, and the fused
search with it. The adapted model is written as an ordinary sentence-transformers folder (plus
``adapted.json``: base model, pairs, settings, losses), so ``embedding.model`` takes its path.
Adapting only the query side, against the vectors already stored (no reindex):
``retrieval.embed.query_adapt``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from retrieval.errors import InvalidInputError
from retrieval.settings import EmbeddingSettings

if TYPE_CHECKING:
    from retrieval.library import Library

log = logging.getLogger(__name__)

MIN_PAIRS = 64  # fewer than two full batches teach the model nothing reliable


class AdaptPair(NamedTuple):
    """A description (the query side) and one transcript chunk of the same video."""

    video_id: str
    query: str
    passage: str


@dataclass(frozen=True)
class TrainSettings:
    """How a model is fine-tuned (this module's and ``retrieval.embed.query_adapt``'s)."""

    epochs: int = 1
    lr: float = 3e-5
    batch_size: int = 32
    scale: float = 20.0  # cosine x scale into the softmax
    seed: int = 0


@dataclass(frozen=True)
class AdaptSettings(TrainSettings):
    pairs_per_video: int = 4


def adapt_settings(section: EmbeddingSettings, seed: int = 0) -> AdaptSettings:
    """The adaptation's settings from the ``embedding`` section (``adapt_*``)."""
    return AdaptSettings(
        epochs=section.adapt_epochs,
        lr=section.adapt_lr,
        batch_size=section.adapt_batch_size,
        seed=seed,
        pairs_per_video=section.adapt_pairs_per_video,
    )


@dataclass(frozen=True)
class AdaptReport:
    path: Path
    base: str
    videos: int
    pairs: int
    batches: int
    first_loss: float
    last_loss: float
    seconds: float
    settings: AdaptSettings


def adaptation_pairs(
    videos: Iterable[tuple[str, str, Sequence[str]]], per_video: int, seed: int
) -> list[AdaptPair]:
    """Up to ``per_video`` pairs for each ``(video id, description, chunk texts)``, the chunks
    drawn with ``seed``; videos without a description or a chunk give none."""
    rng = random.Random(seed)
    pairs: list[AdaptPair] = []
    for video_id, description, chunks in videos:
        text = " ".join(description.split())
        usable = [c for c in chunks if c.strip()]
        if not text or not usable:
            continue
        for chunk in rng.sample(usable, min(per_video, len(usable))):
            pairs.append(AdaptPair(video_id, text, chunk))
    return pairs


def library_pairs(library: Library, per_video: int, seed: int) -> list[AdaptPair]:
    """The pairs of every video in ``library`` that has a description: the description and its
    transcript's chunks (never the metadata chunk, which holds the description itself)."""
    from retrieval.ingest_stages import metadata_text

    _, rows = library.catalogue.video_texts()
    return adaptation_pairs(
        (
            (video.id, video.description, [t for t in texts if t != metadata_text(video)])
            for video, texts in rows
        ),
        per_video,
        seed,
    )


def batches_without_repeats(
    pairs: Sequence[AdaptPair], batch_size: int, rng: random.Random
) -> list[list[AdaptPair]]:
    """``pairs`` shuffled into batches of ``batch_size`` in which no video appears twice (the
    last batches may be smaller); every pair is in exactly one batch."""
    pending = list(pairs)
    rng.shuffle(pending)
    batches: list[list[AdaptPair]] = []
    while pending:
        batch: list[AdaptPair] = []
        seen: set[str] = set()
        rest: list[AdaptPair] = []
        for pair in pending:
            if len(batch) < batch_size and pair.video_id not in seen:
                batch.append(pair)
                seen.add(pair.video_id)
            else:
                rest.append(pair)
        batches.append(batch)
        pending = rest
    return batches


def adapt_embedder(
    base: Path, pairs: Sequence[AdaptPair], out_dir: Path, settings: AdaptSettings
) -> AdaptReport:
    """Fine-tune the sentence-transformers model at ``base`` on ``pairs``; write it to ``out_dir``
    (whole or not at all) and return what was done."""
    require_enough(
        len(pairs),
        MIN_PAIRS,
        "Too few (description, transcript) pairs to adapt the embedder",
        "pairs (videos with a description and a transcript)",
    )
    import torch
    from torch.nn.functional import cross_entropy, normalize

    model, optimiser, rng = start_training(base, settings)
    losses: list[float] = []
    clock = time.perf_counter()
    batches = 0
    for epoch in range(settings.epochs):
        for batch in batches_without_repeats(pairs, settings.batch_size, rng):
            if len(batch) < 2:
                continue  # no negative to learn from
            queries = model.preprocess([p.query for p in batch])
            passages = model.preprocess([p.passage for p in batch])
            # bfloat16 arithmetic where the CPU has it (2-3x faster, retrieval.embed.precision)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                q = model(queries)["sentence_embedding"].float()
                d = model(passages)["sentence_embedding"].float()
            scores = normalize(q, dim=-1) @ normalize(d, dim=-1).T * settings.scale
            labels = torch.arange(len(batch))
            loss = (cross_entropy(scores, labels) + cross_entropy(scores.T, labels)) / 2
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.item()))
            batches += 1
            if batches % 50 == 1:
                log.info("adapting: epoch %d, batch %d, loss %.3f", epoch + 1, batches, losses[-1])
    model.eval()
    tenth = max(1, len(losses) // 10)
    report = AdaptReport(
        path=out_dir,
        base=str(base),
        videos=len({p.video_id for p in pairs}),
        pairs=len(pairs),
        batches=batches,
        first_loss=mean_loss(losses[:tenth]),  # the first and the last tenth of the batches
        last_loss=mean_loss(losses[-tenth:]),
        seconds=time.perf_counter() - clock,
        settings=settings,
    )
    save_adapted(model, {k: v for k, v in asdict(report).items() if k != "path"}, out_dir)
    return report


ADAPTED_META = "adapted.json"


def require_enough(count: int, least: int, message: str, of_what: str) -> None:
    """Refuse training data under ``least`` items, saying what to add."""
    if count < least:
        raise InvalidInputError(
            message,
            expected=f"at least {least} {of_what}",
            got=str(count),
            hint="Add descriptions to the library's videos, or keep the packaged embedder",
        )


def start_training(base: Path, settings: TrainSettings) -> tuple[Any, Any, random.Random]:
    """The sentence-transformers model at ``base`` in training mode, its AdamW optimiser and a
    random source, all seeded from ``settings``."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(settings.seed)
    model: Any = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr)
    model.train()
    return model, optimiser, random.Random(settings.seed)


def save_adapted(model: Any, record: dict[str, Any], out_dir: Path) -> None:
    """Write ``model`` and its ``adapted.json`` (``record``) to ``out_dir``, whole or not at
    all: written aside, then renamed into place."""
    staging = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        model.save(str(staging))
        (staging / ADAPTED_META).write_text(json.dumps(record, indent=2, default=str))
        shutil.rmtree(out_dir, ignore_errors=True)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def mean_loss(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")

"""ReDial / INSPIRED with a query encoder learned from the other dialogues
(``vidrec eval redial|inspired --adapt-queries``).

What ``vidrec train --embedder --queries`` learns from an operator's logged conversations
(:func:`agent.collab.requests.request_pairs`: each turn's conversation text, as a turn embeds it,
with each movie taken after it), against the stored centroids of every movie of the catalogue.
Cross-fitted like the collaborative models (:mod:`evaluation.conv_collab`): the cases of fold k
are ranked with an encoder trained on the other folds' dialogues only (``--train``: one encoder
on that file's dialogues). Each fold's recommender searches the base workspace with its encoder
as ``embedding.query_model`` (nothing is indexed again), so the search, the conversation
candidates, the similar requests its collaborative model embeds and the learned ranker's
similarity features all read its query vectors. The fusion weights stay as configured (they are
chosen on descriptions, which the dialogues are not).

With ``--extra-dialogues`` (another data set's dialogues, :mod:`evaluation.extra_dialogues`) one
encoder is first trained on their pairs alone, and each fold's encoder starts from it instead of
the embedder: the extra pairs are learned once, not once a fold.

Each encoder is kept under ``<cache_dir>/eval/adapted/<task>-queries-<hash of its training set and
settings>`` and used again by a re-run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.collab.requests import request_pairs
from agent.settings import Settings
from evaluation.cache import text_sha256
from evaluation.conv_collab import WHOLE, dialogue_requests, fold_of
from evaluation.dialogues import Dialogue
from retrieval.embed.adapt import ADAPTED_META, TrainSettings
from retrieval.embed.newest import WINDOW
from retrieval.embed.query_adapt import adapt_query_encoder, library_targets, query_adapt_settings
from retrieval.embed.sentence_transformers import resolve_model_path
from retrieval.library import Library

__all__ = ["FoldEncoders", "fold_encoders"]

log = logging.getLogger(__name__)


@dataclass
class FoldEncoders:
    """The library each fold's cases are ranked with (its query encoder), and what was done."""

    libraries: dict[int, Library] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def close(self) -> None:
        for library in self.libraries.values():
            library.close()


def fold_encoders(
    task: str,
    settings: Settings,
    ev_settings: Settings,
    library: Library,
    scored: Sequence[Dialogue],
    train_dialogues: Sequence[Dialogue] | None,
    *,
    folds: int,
    needed: set[str],
    seed: int = 0,
    extra: Sequence[Dialogue] = (),
) -> FoldEncoders:
    """One query encoder per fold that has a scored case (``needed``: their dialogue ids), each
    trained on the other folds' dialogues (``train_dialogues``: one on those, key
    :data:`WHOLE`) starting from the encoder of the ``extra`` dialogues where there are any,
    and the base workspace's library searched with it."""
    _, ids, targets = library_targets(library)
    model = ev_settings.embedding.model
    trainer = _Trainer(
        task, settings, model, query_adapt_settings(ev_settings.embedding, seed), ids, targets
    )
    out = FoldEncoders()
    base, origin = resolve_model_path(model, settings.models_dir), ""
    if extra:  # learned once; every fold's encoder goes on from it
        base = trainer.encoder((base, ""), extra, out)
        origin = base.name
        out.notes[-1] = f"extra dialogues: {out.notes[-1]}"
    plans: list[tuple[int, Sequence[Dialogue]]]
    if train_dialogues is not None:
        plans = [(WHOLE, train_dialogues)]
    else:
        plans = [
            (fold, [d for d in scored if fold_of(d.id, folds) != fold])
            for fold in sorted({fold_of(d, folds) for d in needed})
        ]
    for key, dialogues in plans:
        folder = trainer.encoder((base, origin), dialogues, out)
        out.notes[-1] = f"{'the model' if key == WHOLE else f'fold {key}'}: {out.notes[-1]}"
        out.libraries[key] = Library(_with_encoder(ev_settings, folder))
    return out


@dataclass(frozen=True)
class _Trainer:
    """What every encoder of a run shares: the embedder, the training settings and the
    catalogue's stored centroids (rows named by ``ids``)."""

    task: str
    settings: Settings
    model: str
    options: TrainSettings
    ids: Sequence[str]
    targets: np.ndarray

    def encoder(
        self, start: tuple[Path, str], dialogues: Sequence[Dialogue], out: FoldEncoders
    ) -> Path:
        """The folder of the encoder trained on ``dialogues``' pairs from ``start`` (the
        model's path, and the name of the encoder it is, "" for the embedder itself); kept, so
        an earlier run's is used again; its note added to ``out``."""
        base, origin = start
        pairs = request_pairs([r for d in dialogues for r in dialogue_requests(d)])
        digest = text_sha256(
            self.model,
            repr(self.options),
            WINDOW,
            *([f"from {origin}"] if origin else []),
            *self.ids,
            *(f"{p.video_id}\t{p.query}" for p in pairs),
        )
        folder = self.settings.cache_dir / "eval" / "adapted" / f"{self.task}-queries-{digest[:12]}"
        after = f" (from {origin})" if origin else ""
        if (folder / ADAPTED_META).is_file():
            out.notes.append(f"query encoder {folder.name} reused ({len(pairs)} pairs){after}")
        else:
            done = adapt_query_encoder(
                base, self.model, pairs, self.ids, self.targets, folder, self.options
            )
            out.notes.append(
                f"query encoder {folder.name}: {done.queries} (conversation, movie taken) "
                f"pairs of {len(dialogues)} dialogues against {done.targets} movies' centroids, "
                f"{done.batches} batches, loss {done.first_loss:.3f} -> {done.last_loss:.3f}, "
                f"{done.seconds:.0f}s{after}"
            )
        log.info("query encoders: %s", out.notes[-1])
        return folder


def _with_encoder(ev_settings: Settings, folder: Path) -> Settings:
    embedding = ev_settings.embedding.model_copy(update={"query_model": str(folder)})
    return ev_settings.model_copy(update={"embedding": embedding})

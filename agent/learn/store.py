"""Versions of the learned ranker on disk, under ``<data_dir>/ranker/vNNNN/`` beside the
collaborative model's ``<data_dir>/collab/`` (the same mechanism: :mod:`agent.versions`)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from agent.learn.features import FEATURES
from agent.learn.model import META_FILE, LearnedRanker
from agent.versions import Loaded, Versions

__all__ = ["RANKER_DIR_NAME", "RankerStore", "ranker_root"]

log = logging.getLogger(__name__)

RANKER_DIR_NAME = "ranker"


def ranker_root(data_dir: Path) -> Path:
    return Path(data_dir) / RANKER_DIR_NAME


class RankerStore:
    """The saved versions of the learned ranker; ``current()`` is the newest (None before any
    training: the turn keeps the hand-tuned blend). Cheap to create, thread-safe; a version
    saved by another process is picked up on the next call (``background``: loaded in a thread
    while the calls go on with the loaded one, :class:`agent.versions.Loaded`)."""

    def __init__(
        self, root: Path, keep_versions: int = 3, background: bool = False, embedder: str = ""
    ) -> None:
        self.versions = Versions(root, META_FILE, keep_versions)
        self.embedder = embedder  # the query embedder the turns run with ("": not checked)
        self._current = Loaded(
            self.versions.latest, LearnedRanker.load, "learned ranker", background=background
        )
        self._stale: LearnedRanker | None = None  # the last version found stale (logged once)

    @property
    def root(self) -> Path:
        return self.versions.root

    def current(self) -> LearnedRanker | None:
        """The newest version, or None when there is none or it cannot rank this version's
        rows: trained on other features (saved before an upgrade), or on content similarities
        from other query vectors (``embedding.model`` or ``embedding.query_model`` changed
        since). The blend ranks then, and the log says once to run `vidrec train` again."""
        model = self._current.get()
        stale = None if model is None else self._stale_reason(model)
        if model is None or stale is None:
            return model
        if self._stale is not model:
            self._stale = model
            log.warning(
                "the learned ranker %s %s: the hand-tuned blend ranks until `vidrec train` "
                "runs again",
                self.versions.latest(),
                stale,
            )
        return None

    def _stale_reason(self, model: LearnedRanker) -> str | None:
        meta = model.meta
        if tuple(meta.features) != FEATURES:
            return (
                f"was trained on other features ({len(meta.features)}, this version computes "
                f"{len(FEATURES)})"
            )
        if meta.embedder and self.embedder and meta.embedder != self.embedder:
            return (
                f"was trained on similarities from other query vectors ({meta.embedder}, the "
                f"library's now: {self.embedder})"
            )
        return None

    def save(self, model: LearnedRanker) -> Path:
        """Save ``model`` as the next version (its meta gets the version number)."""
        version = self.versions.next_number()
        model.meta = replace(model.meta, version=version)
        return self.versions.save(version, model.save)

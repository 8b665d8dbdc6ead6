"""Versions of the collaborative model on disk, under ``<data_dir>/collab/vNNNN/``.

A version holds ``als.npz`` (as ``implicit`` saves it), ``index.npz`` (user and video ids,
popularity, sessions) and ``meta.json``, written last: a version without it is incomplete and
ignored. ``LATEST`` names the newest complete version (the mechanism is :mod:`agent.versions`,
shared with the learned ranker). The newest ``keep_versions`` are kept. :meth:`ModelStore.forget_user` removes a user's factors from
every stored version at once (right to be forgotten).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix

from agent.collab.matrix import CollabError, Sessions
from agent.collab.meta import ModelMeta
from agent.collab.model import CollabModel
from agent.collab.requests import FILE as REQUESTS_FILE
from agent.collab.requests import RequestIndex
from agent.collab.transitions import Timelines
from agent.settings import CollabSettings
from agent.versions import Versions, unreadable
from retrieval.blas import one_blas_thread

__all__ = ["MODEL_DIR_NAME", "ModelStore", "load_model", "model_root", "save_model"]

log = logging.getLogger(__name__)

MODEL_DIR_NAME = "collab"
_META = "meta.json"
_ALS = "als.npz"
_INDEX = "index.npz"


def model_root(data_dir: Path) -> Path:
    """Where versions live: next to the Chroma index, under the data dir."""
    return Path(data_dir) / MODEL_DIR_NAME


def save_model(model: CollabModel, folder: Path) -> None:
    """Write ``als.npz``, ``index.npz`` and finally ``meta.json`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_als(str(folder / _ALS))
    np.savez(
        folder / _INDEX,
        user_ids=np.asarray(model.user_ids, dtype=np.str_),
        item_ids=np.asarray(model.item_ids, dtype=np.str_),
        popularity=model.popularity,
        session_users=np.asarray(model.sessions.users, dtype=np.str_),
        session_indptr=model.sessions.matrix.indptr,
        session_indices=model.sessions.matrix.indices,
        timeline_users=np.asarray(model.timelines.users, dtype=np.str_),
        timeline_indptr=model.timelines.indptr,
        timeline_indices=model.timelines.indices,
    )
    if model.requests is not None:
        model.requests.save(folder)
    (folder / _META).write_text(model.meta.to_json(), encoding="utf-8")


def load_model(folder: Path) -> CollabModel:
    """The model saved in ``folder`` by :func:`save_model`.

    Raises:
        CollabError: the files are missing or unreadable.
    """
    from implicit.cpu.als import AlternatingLeastSquares

    meta = ModelMeta.from_json((folder / _META).read_text(encoding="utf-8"))
    try:
        with one_blas_thread():  # implicit warns about (and is slowed by) a BLAS thread pool
            als = AlternatingLeastSquares.load(str(folder / _ALS))
        with np.load(folder / _INDEX, allow_pickle=False) as index:
            user_ids = [str(u) for u in index["user_ids"]]
            item_ids = [str(i) for i in index["item_ids"]]
            popularity = index["popularity"]
            sessions = Sessions.empty(len(item_ids))
            if "session_users" in index:  # versions saved before sessions have none
                users = [str(u) for u in index["session_users"]]
                indices = index["session_indices"]
                matrix = csr_matrix(
                    (np.ones(len(indices), dtype=np.float32), indices, index["session_indptr"]),
                    shape=(len(users), len(item_ids)),
                )
                sessions = Sessions(users, matrix)
            timelines = Timelines.empty()
            if "timeline_users" in index:  # versions saved before timelines have none
                timelines = Timelines(
                    [str(u) for u in index["timeline_users"]],
                    index["timeline_indptr"],
                    index["timeline_indices"],
                )
        requests = RequestIndex.load(folder)  # versions saved before requests have none
    except (OSError, KeyError, ValueError) as exc:
        raise unreadable(
            CollabError, "collaborative model", folder, f"{_ALS} and {_INDEX}", exc
        ) from exc
    cfg = CollabSettings(**meta.settings)
    als.num_threads = cfg.threads
    model = CollabModel(als, user_ids, item_ids, popularity, meta, cfg, sessions, timelines)
    model.requests = requests
    return model


class ModelStore:
    """Versioned collaborative models under one folder (``<data_dir>/collab``)."""

    def __init__(self, root: Path, keep_versions: int = 3) -> None:
        self.root = Path(root)
        self.keep_versions = max(1, keep_versions)
        self._versions = Versions(self.root, _META, self.keep_versions)

    def versions(self) -> list[Path]:
        """Complete versions (with ``meta.json``), oldest first."""
        return self._versions.versions()

    def latest(self) -> Path | None:
        """The newest complete version (:meth:`agent.versions.Versions.latest`)."""
        return self._versions.latest()

    def load_latest(self) -> CollabModel | None:
        """The newest complete version, or None when nothing was trained yet."""
        path = self.latest()
        return None if path is None else load_model(path)

    def save(self, model: CollabModel) -> Path:
        """Write ``model`` as the next version (atomically: a temp folder renamed), point
        ``LATEST`` at it, prune old ones."""
        version = self._versions.next_number()
        model.meta = replace(model.meta, version=version)
        target = self._versions.save(version, lambda folder: save_model(model, folder))
        log.info("saved collaborative model %s", target)
        return target

    def user_factors(self, user_id: str) -> dict[str, list[float]]:
        """The user's stored factors in each version that has them (for export)."""
        out: dict[str, list[float]] = {}
        for path in self.versions():
            vector = load_model(path).stored_user_vector(user_id)
            if vector is not None:
                out[path.name] = [round(float(x), 6) for x in vector]
        return out

    def forget_user(self, user_id: str) -> int:
        """Drop the user's factors and id from every stored version; returns versions changed.

        Each version is rewritten in a temp folder and swapped in, so a crash leaves either the
        old or the new files, never half of them. (Their interactions are gone from SQL, so the
        next ``vidrec train`` does not see them either.)
        """
        changed = 0
        for path in self.versions():
            model = load_model(path)
            if not model.drop_user(user_id):
                continue
            model.meta = replace(model.meta, n_users=len(model.user_ids))
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
            try:
                save_model(model, tmp)
                if not (tmp / REQUESTS_FILE).exists():  # the user's were its last requests
                    (path / REQUESTS_FILE).unlink(missing_ok=True)
                for name in (_ALS, _INDEX, REQUESTS_FILE, _META):
                    if (tmp / name).exists():
                        os.replace(tmp / name, path / name)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            changed += 1
        return changed

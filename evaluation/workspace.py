"""Where an evaluation keeps its index: one data folder per catalogue, under the cache.

``<cache_dir>/eval/<name>`` holds a full vidrec data dir (SQLite catalogue, Chroma folder, BM25
index, the manifest it was built from, ``workspace.json``). ``name`` carries the catalogue's
content hash and the embedder, so a changed catalogue or embedder gets a fresh folder and an
unchanged one is reused: the second run's ingest finds every item unchanged and embeds nothing.

Movie catalogues overlap almost entirely (MovieLens titles plus a few hundred mentioned movies),
so a new folder starts as a copy of the completed folder that shares the most items with it (same
embedder, embedded Chroma only): the ingest then embeds only the new items and the items the new
catalogue lacks are removed first, leaving exactly the manifest's rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.settings import Settings
from retrieval.errors import VidrecError
from retrieval.settings import SQLSettings
from retrieval.types import IngestProgress, IngestReport

if TYPE_CHECKING:
    from retrieval.library import Library

log = logging.getLogger(__name__)

META = "workspace.json"
MANIFEST = "catalogue.jsonl"
MIN_SEED_OVERLAP = 0.5  # copy a folder only when it already holds half the new catalogue


class EvalError(VidrecError):
    """An evaluation could not run (bad data, an ingest that failed, a missing component)."""

    http_status = 422
    code = "eval_error"


def _embedder_slug(settings: Settings) -> str:
    """A short name for the embedder; a long one (a model folder's path) keeps its first 27
    characters and a digest of the whole, so two folders with a common prefix never share it."""
    raw = f"{settings.embedding.backend}-{settings.embedding.model}"
    slug = re.sub(r"[^A-Za-z0-9]+", "-", raw).strip("-").lower()
    if len(slug) <= 40:
        return slug
    return f"{slug[:27].rstrip('-')}-{hashlib.sha256(raw.encode()).hexdigest()[:12]}"


def workspace_name(task: str, content_sha256: str, settings: Settings) -> str:
    """``"redial-<hash12>-<embedder>"``: a folder (and Chroma collection) name per index."""
    return f"{task}-{content_sha256[:12]}-{_embedder_slug(settings)}".lower()


COLLECTION_MAX = 60


def collection_name(name: str) -> str:
    """A Chroma collection name for the workspace ``name``, valid by construction.

    Chroma wants 3-512 characters from ``[a-zA-Z0-9._-]`` that start and end with a letter or
    digit. A short name is kept as it reads; a longer one is cut and given a fixed-length digest
    of the whole name, so a cut can neither end on a separator nor make two names collide.
    """
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", f"eval_{name}")
    if len(clean) <= COLLECTION_MAX and clean[-1].isalnum():
        return clean
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]
    head = clean[: COLLECTION_MAX - len(digest) - 1].rstrip("_-")
    return f"{head}-{digest}"


def _read_meta(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(folder: Path, **meta: Any) -> None:
    tmp = folder / (META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tmp.replace(folder / META)


def _manifest_ids(lines: list[str]) -> set[str]:
    return {str(json.loads(line)["id"]) for line in lines if line.strip()}


def _find_seed(base: Settings, name: str, ids: set[str]) -> Path | None:
    """The completed workspace of the same embedder that shares the most items with ``ids``."""
    root = base.cache_dir / "eval"
    suffix = "-" + _embedder_slug(base)
    best: tuple[int, Path] | None = None
    for folder in sorted(root.glob(f"*{suffix}")) if root.is_dir() else []:
        if folder.name == name or not _read_meta(folder).get("complete"):
            continue
        manifest = folder / MANIFEST
        if not manifest.is_file():
            continue
        overlap = len(ids & _manifest_ids(manifest.read_text(encoding="utf-8").splitlines()))
        if overlap >= MIN_SEED_OVERLAP * len(ids) and (best is None or overlap > best[0]):
            best = (overlap, folder)
    return best[1] if best else None


def eval_settings(base: Settings, name: str, **agent_overrides: Any) -> Settings:
    """A copy of ``base`` whose mutable state lives in ``<cache_dir>/eval/<name>``.

    SQL always goes to a SQLite file there (an evaluation never writes into a shared database);
    the model weights folder stays the base one. ``agent_overrides`` change ``settings.agent``.
    A new folder is seeded from the closest completed one when the store is embedded (see the
    module docstring); the Chroma collection name then comes with the copy.
    """
    data_dir = base.cache_dir / "eval" / name
    collection = _read_meta(data_dir).get("collection") or collection_name(name)
    update: dict[str, Any] = {
        "data_dir": data_dir,
        "models_cache": base.models_dir,
        "sql": SQLSettings(url=None),
        "store": base.store.model_copy(update={"collection": collection}),
    }
    if agent_overrides:
        update["agent"] = base.agent.model_copy(update=agent_overrides)
    return base.model_copy(update=update)


def prepare_workspace(
    base: Settings, name: str, manifest_lines: list[str], **agent_overrides: Any
) -> Settings:
    """Seed the folder ``name`` if it is new, then return the settings that point at it."""
    seed_workspace(base, name, manifest_lines)
    return eval_settings(base, name, **agent_overrides)


def seed_workspace(base: Settings, name: str, manifest_lines: list[str]) -> Path | None:
    """Copy the closest completed workspace into the new folder ``name`` (if there is none yet)."""
    target = base.cache_dir / "eval" / name
    if target.exists() or base.store.chroma_url:
        return None
    seed = _find_seed(base, name, _manifest_ids(manifest_lines))
    if seed is None:
        return None
    tmp = target.with_name(target.name + ".seeding")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(seed, tmp, ignore=shutil.ignore_patterns("ingest.lock", META + ".tmp"))
    meta = _read_meta(seed)
    _write_meta(
        tmp, collection=meta.get("collection") or collection_name(seed.name), complete=False
    )
    tmp.rename(target)
    log.info("seeded eval workspace %s from %s", target.name, seed.name)
    return seed


def open_library(
    settings: Settings,
    manifest_lines: list[str],
    progress: Callable[[IngestProgress], None] | None = None,
) -> tuple[Library, IngestReport]:
    """A ``Library`` in ``settings.data_dir`` holding exactly the manifest's rows, and what the
    ingest did (a second run over the same catalogue finds every row unchanged).

    Raises:
        EvalError: when rows failed to ingest (the message names the first failures).
    """
    from retrieval.library import Library

    folder = settings.data_dir
    settings.ensure_dirs()
    collection = settings.store.collection
    manifest = folder / MANIFEST
    text = "\n".join(manifest_lines) + "\n"
    if not manifest.is_file() or manifest.read_text(encoding="utf-8") != text:
        _write_meta(folder, collection=collection, complete=False)
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(manifest)
    wanted = _manifest_ids(manifest_lines)
    pruner = Library(settings)
    stale = [v.id for v in pruner.videos() if v.id not in wanted]
    for video_id in stale:  # before ingest: this Library has no BM25 loaded to rebuild each time
        pruner.remove(video_id)
    pruner.close()
    if stale:
        log.info("removed %d items the catalogue no longer holds", len(stale))
    library = Library(settings)
    report = library.ingest(manifest=manifest, progress=progress)
    log.info(
        "eval library %s: %d ingested, %d unchanged, %d failed",
        folder,
        len(report.ingested),
        len(report.unchanged),
        len(report.failed),
    )
    if report.failed:
        first = "; ".join(f"{f.path}: {f.error}" for f in report.failed[:3])
        raise EvalError(
            f"{len(report.failed)} of {len(manifest_lines)} catalogue rows failed to ingest",
            expected="every catalogue row indexed",
            got=first,
            hint=f"Inspect {manifest}; delete {folder} to rebuild from scratch",
        )
    _write_meta(folder, collection=collection, complete=True, items=len(wanted))
    return library, report

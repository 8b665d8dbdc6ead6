"""Where an evaluation keeps its index: one data folder per catalogue, under the cache.

``<cache_dir>/eval/<name>`` holds a full vidrec data dir (SQLite catalogue, Chroma folder, BM25
index, the manifest it was built from). ``name`` carries the catalogue's content hash and the
embedder, so a changed catalogue or embedder gets a fresh folder and an unchanged one is reused:
the second run's ingest finds every item unchanged and embeds nothing.
"""

from __future__ import annotations

import logging
import re
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


class EvalError(VidrecError):
    """An evaluation could not run (bad data, an ingest that failed, a missing component)."""

    http_status = 422
    code = "eval_error"


def workspace_name(task: str, content_sha256: str, settings: Settings) -> str:
    """``"redial-<hash12>-<embedder>"``: a folder (and Chroma collection) name per index."""
    embedder = re.sub(
        r"[^A-Za-z0-9]+", "-", f"{settings.embedding.backend}-{settings.embedding.model}"
    )
    return f"{task}-{content_sha256[:12]}-{embedder.strip('-')[:40]}".lower()


def eval_settings(base: Settings, name: str, **agent_overrides: Any) -> Settings:
    """A copy of ``base`` whose mutable state lives in ``<cache_dir>/eval/<name>``.

    SQL always goes to a SQLite file there (an evaluation never writes into a shared database);
    the model weights folder stays the base one. ``agent_overrides`` change ``settings.agent``.
    """
    data_dir = base.cache_dir / "eval" / name
    collection = re.sub(r"[^A-Za-z0-9_-]", "_", f"eval_{name}")[:60]
    update: dict[str, Any] = {
        "data_dir": data_dir,
        "models_cache": base.models_dir,
        "sql": SQLSettings(url=None),
        "store": base.store.model_copy(update={"collection": collection}),
    }
    if agent_overrides:
        update["agent"] = base.agent.model_copy(update=agent_overrides)
    settings = base.model_copy(update=update)
    settings.ensure_dirs()
    return settings


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

    manifest = settings.data_dir / "catalogue.jsonl"
    text = "\n".join(manifest_lines) + "\n"
    if not manifest.is_file() or manifest.read_text(encoding="utf-8") != text:
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(manifest)
    library = Library(settings)
    report = library.ingest(manifest=manifest, progress=progress)
    log.info(
        "eval library %s: %d ingested, %d unchanged, %d failed",
        settings.data_dir,
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
            hint=f"Inspect {manifest}; delete {settings.data_dir} to rebuild from scratch",
        )
    return library, report


def manifest_path(settings: Settings) -> Path:
    return settings.data_dir / "catalogue.jsonl"

"""TED known-item search with the embedder adapted to the library, cross-fitted
(``vidrec eval ted --adapt-embedder`` / ``--adapt-queries``).

The queried talks are split in two halves with the seed. For each half the embedder is adapted
on the descriptions of every indexed talk outside that half, and that half's descriptions are
searched with it. No description that is scored was trained on, and the index (transcripts only)
holds the same text as the base rows'. Two ways, each what ``vidrec train`` does:

* ``--adapt-embedder`` (:mod:`retrieval.embed.adapt`, ``train --embedder``): the whole model,
  on (description, transcript chunk) pairs as the base index holds them; a workspace is indexed
  with it. Rows ``<system>+adapted``.
* ``--adapt-queries`` (:mod:`retrieval.embed.query_adapt`, ``train --embedder --queries``): a
  query encoder against the base index's stored centroids of every indexed talk; the base
  workspace is searched with it (``embedding.query_model``), nothing is indexed again. Rows
  ``<system>+queries``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.progress import Progress

from agent.settings import Settings
from agent.types import Message
from evaluation.cache import text_sha256
from evaluation.report import EvalReport, SystemResult
from evaluation.runner import EvalOptions, Ranked, choose_systems, run_system
from evaluation.systems import RankRequest, library_chunks
from evaluation.ted_rows import DEFAULT_SYSTEMS, SYSTEMS, Talk, build_systems, score_system
from evaluation.workspace import open_library, prepare_workspace, workspace_name
from retrieval.embed.adapt import adapt_embedder, adapt_settings, adaptation_pairs
from retrieval.embed.newest import WINDOW
from retrieval.embed.query_adapt import adapt_query_encoder, query_adapt_settings, query_pairs
from retrieval.embed.sentence_transformers import resolve_model_path
from retrieval.query_fusion import FUSION_GRID, NOT_CHOSEN, fit_with_fusion

if TYPE_CHECKING:
    from retrieval.embed.query_adapt import QueryPair
    from retrieval.library import Library

log = logging.getLogger(__name__)

SIDES = {"model": "+adapted", "queries": "+queries"}  # what is adapted -> the rows' suffix


def halves(ids: Sequence[str], seed: int) -> list[set[str]]:
    """``ids`` split in two halves at random (``seed``)."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    middle = len(order) // 2
    return [set(order[:middle]), set(order[middle:])]


def adapted_folder(
    report: EvalReport,
    settings: Settings,
    library: Library,
    talks: Sequence[Talk],
    held_out: set[str],
    side: str,
    seed: int,
    open_with: Callable[[Path], Library],
) -> str:
    """The folder of the model adapted on ``talks`` outside ``held_out`` (``side`` as in
    :data:`SIDES`): the whole embedder on (description, transcript chunk) pairs as the base index
    holds them, or a query encoder on the descriptions against the stored centroids of all of
    ``talks``, with the search's fusion weights chosen for it on a held-out share of those
    descriptions (``open_with(folder)``: the library searched with a first encoder), as ``vidrec
    train --embedder --queries`` does. Adapted once: an identical training set and settings find
    the folder written."""
    model = settings.embedding.model
    if side == "queries":
        vectors = library.video_vectors([t.id for t in talks])
        ids = [t.id for t in talks if t.id in vectors]
        queries = query_pairs((t.id, t.description) for t in talks if t.id not in held_out)
        q_options = query_adapt_settings(settings.embedding, seed)
        share = settings.embedding.query_adapt_validation
        key = [repr(q_options), WINDOW, f"fusion {share} {FUSION_GRID}", *ids]
        key += [f"{p.video_id}\t{p.query}" for p in queries]
        what, size, prefix = "query encoder", f"{len(queries)} descriptions", "ted-queries-"

        def train(base: Path, out: Path) -> str:
            targets = np.stack([vectors[i] for i in ids])

            def fit(chosen: Sequence[QueryPair], folder: Path, extra: dict[str, Any]) -> Any:
                return adapt_query_encoder(
                    base, model, chosen, ids, targets, folder, q_options, extra
                )

            done, choice = fit_with_fusion(queries, share, seed, fit, open_with, out)
            return (
                f"{done.queries} descriptions against {done.targets} talks, {done.batches} "
                f"batches, loss {done.first_loss:.3f} -> {done.last_loss:.3f}, {done.seconds:.0f}s "
                f"(the shipped encoder); {NOT_CHOSEN if choice is None else choice.summary()}"
            )

    else:
        chunks: dict[str, list[str]] = {}
        for video_id, text in library_chunks(library, (t.id for t in talks)):
            chunks.setdefault(video_id, []).append(text)
        options = adapt_settings(settings.embedding, seed)
        pairs = adaptation_pairs(
            ((t.id, t.description, chunks.get(t.id, [])) for t in talks if t.id not in held_out),
            options.pairs_per_video,
            options.seed,
        )
        key = [repr(options), *(f"{p.video_id}\t{p.passage}" for p in pairs)]
        what, size, prefix = "adapted embedder", f"{len(pairs)} pairs", "ted-"

        def train(base: Path, out: Path) -> str:
            done = adapt_embedder(base, pairs, out, options)
            return (
                f"{done.pairs} pairs of {done.videos} talks, {done.batches} batches, loss "
                f"{done.first_loss:.3f} -> {done.last_loss:.3f}, {done.seconds:.0f}s"
            )

    out = settings.cache_dir / "eval" / "adapted" / f"{prefix}{text_sha256(model, *key)[:12]}"
    if (out / "adapted.json").is_file():
        report.notes.append(f"{what} {out.name}: reused ({size})")
    else:
        done = train(resolve_model_path(model, settings.models_dir), out)
        report.notes.append(f"{what} {out.name}: {done}")
    return str(out)


def _library_with(
    settings: Settings, side: str, folder: str, content: str, lines: list[str]
) -> tuple[Library, Settings, Settings]:
    """The TED workspace's library with the model at ``folder`` on ``side``, its workspace
    settings, and the settings it was made from."""
    update = {"query_model" if side == "queries" else "model": folder}
    base = settings.model_copy(update={"embedding": settings.embedding.model_copy(update=update)})
    ev = prepare_workspace(base, workspace_name("ted", content, base), lines)
    ev = ev.model_copy(update={"ingest": ev.ingest.model_copy(update={"metadata_chunk": False})})
    adapted, _ = open_library(ev, lines)
    return adapted, ev, base


def adapted_library(
    report: EvalReport,
    settings: Settings,
    side: str,
    content: str,
    lines: list[str],
    library: Library,
    indexed: Sequence[Talk],
    held_out: set[str],
    seed: int,
) -> tuple[Library, Settings, Settings]:
    """The library that searches ``held_out``'s queries with an embedder adapted without them
    (``side`` as in :data:`SIDES`), its workspace settings, and the settings it was made from."""

    def open_with(folder: Path) -> Library:
        return _library_with(settings, side, str(folder), content, lines)[0]

    folder = adapted_folder(report, settings, library, indexed, held_out, side, seed, open_with)
    clock = time.perf_counter()
    adapted, ev, base = _library_with(settings, side, folder, content, lines)
    report.notes.append(
        f"{'base index opened' if side == 'queries' else 'index'} with "
        f"{folder.rsplit('/', 1)[-1]}: {time.perf_counter() - clock:.0f}s"
    )
    return adapted, ev, base


def adapted_rows(
    report: EvalReport,
    options: EvalOptions,
    settings: Settings,
    content: str,
    lines: list[str],
    library: Library,
    indexed: Sequence[Talk],
    queried: Sequence[Talk],
    variants: dict[str, list[str]],
    progress: Progress,
    side: str = "model",
) -> list[SystemResult]:
    """Every library-backed system of the run again, each half of ``queried`` searched with the
    embedder adapted without that half (rows ``<system>`` + :data:`SIDES`'s suffix)."""
    wanted = [s for s in choose_systems(options, SYSTEMS, DEFAULT_SYSTEMS) if s != "popularity"]
    lists: dict[tuple[str, str], dict[str, list[str]]] = {}
    walls: dict[tuple[str, str], float] = {}
    described: dict[str, str] = {}
    for held_out in halves([t.id for t in queried], options.seed):
        adapted, ev, base = adapted_library(
            report, settings, side, content, lines, library, indexed, held_out, options.seed
        )
        systems, _ = build_systems(wanted, adapted, ev, list(indexed), base)
        for suffix, queries in variants.items():
            requests = [
                RankRequest(id=t.id + suffix, query=q, context=(Message("user", q),))
                for t, q in zip(queried, queries, strict=True)
                if t.id in held_out
            ]
            adapted.embed_queries([r.query for r in requests])
            for system in systems:
                ranked = run_system(system, requests, 100, progress)
                key = (system.name, suffix)
                lists.setdefault(key, {}).update(
                    zip((r.id for r in requests), ranked.lists, strict=True)
                )
                walls[key] = walls.get(key, 0.0) + ranked.wall_s
                described[system.name] = system.description
    rows = []
    for (name, suffix), by_id in lists.items():
        requests = [
            RankRequest(id=t.id + suffix, query=q, context=())
            for t, q in zip(queried, variants[suffix], strict=True)
        ]
        ranked = Ranked([by_id[r.id] for r in requests], walls[(name, suffix)], 0)
        what = "query encoder" if side == "queries" else "embedder"
        description = described[name] + f", {what} adapted (cross-fitted)"
        rows.append(score_system(name + SIDES[side] + suffix, description, requests, ranked))
    return rows

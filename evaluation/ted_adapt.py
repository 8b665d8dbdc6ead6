"""TED known-item search with the embedder adapted to the library, cross-fitted
(``vidrec eval ted --adapt-embedder``).

The queried talks are split in two halves with the seed. For each half the embedder is adapted
(:mod:`retrieval.embed.adapt`, what ``vidrec train --embedder`` does) on the descriptions of every
indexed talk outside that half, paired with their transcript chunks as the base index holds them;
a workspace is indexed with the adapted model, and that half's descriptions are searched in it.
No description that is scored was trained on, and the index (transcripts only) is the same as
the base rows'. The rows ``<system>+adapted`` sit beside the base rows on the same queries.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

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
from retrieval.embed.sentence_transformers import resolve_model_path

if TYPE_CHECKING:
    from retrieval.library import Library

log = logging.getLogger(__name__)

SUFFIX = "+adapted"


def halves(ids: Sequence[str], seed: int) -> list[set[str]]:
    """``ids`` split in two halves at random (``seed``)."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    middle = len(order) // 2
    return [set(order[:middle]), set(order[middle:])]


def adapted_model(
    report: EvalReport,
    settings: Settings,
    library: Library,
    talks: Sequence[Talk],
    held_out: set[str],
    seed: int,
) -> str:
    """The folder of the embedder adapted on ``talks`` outside ``held_out`` (adapted once; an
    identical set of pairs and settings finds the folder already written)."""
    chunks: dict[str, list[str]] = {}
    for video_id, text in library_chunks(library, (t.id for t in talks)):
        chunks.setdefault(video_id, []).append(text)
    options = adapt_settings(settings.embedding, seed)
    pairs = adaptation_pairs(
        ((t.id, t.description, chunks.get(t.id, [])) for t in talks if t.id not in held_out),
        options.pairs_per_video,
        options.seed,
    )
    digest = text_sha256(
        settings.embedding.model, repr(options), *(f"{p.video_id}\t{p.passage}" for p in pairs)
    )
    out = settings.cache_dir / "eval" / "adapted" / f"ted-{digest[:12]}"
    if (out / "adapted.json").is_file():
        report.notes.append(f"adapted embedder {out.name}: reused ({len(pairs)} pairs)")
        return str(out)
    base = resolve_model_path(settings.embedding.model, settings.models_dir)
    done = adapt_embedder(base, pairs, out, options)
    report.notes.append(
        f"adapted embedder {out.name}: {done.pairs} pairs of {done.videos} talks, {done.batches} "
        f"batches, loss {done.first_loss:.3f} -> {done.last_loss:.3f}, {done.seconds:.0f}s"
    )
    return str(out)


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
) -> list[SystemResult]:
    """Every library-backed system of the run again, each half of ``queried`` searched in an
    index embedded by the model adapted without that half (rows ``<system>+adapted``)."""
    wanted = [s for s in choose_systems(options, SYSTEMS, DEFAULT_SYSTEMS) if s != "popularity"]
    lists: dict[tuple[str, str], dict[str, list[str]]] = {}
    walls: dict[tuple[str, str], float] = {}
    described: dict[str, str] = {}
    for held_out in halves([t.id for t in queried], options.seed):
        model = adapted_model(report, settings, library, indexed, held_out, options.seed)
        base = settings.model_copy(
            update={"embedding": settings.embedding.model_copy(update={"model": model})}
        )
        ev = prepare_workspace(base, workspace_name("ted", content, base), lines)
        ev = ev.model_copy(
            update={"ingest": ev.ingest.model_copy(update={"metadata_chunk": False})}
        )
        clock = time.perf_counter()
        adapted, _ = open_library(ev, lines)
        report.notes.append(
            f"index with {model.rsplit('/', 1)[-1]}: {time.perf_counter() - clock:.0f}s"
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
        description = described[name] + ", embedder adapted (cross-fitted)"
        rows.append(score_system(name + SUFFIX + suffix, description, requests, ranked))
    return rows

"""The fast paths of a conversational turn's retrieval, each against the way it was done before,
measured in the same run on an evaluation's movie library (``vidrec eval redial`` builds one).

For ``--cases`` ReDial cases (the validation file's, in file order) it times, per case:

* ``embed``: the turn's query texts (``agent.query.turn_query`` of its user turns) embedded as the
  embedder does now (one text at a time, ``embedding.query_threads`` torch threads) against one
  padded batch with torch's default threads (before);
* ``scope``: the allowed videos of a search that excludes the movies named so far, as
  ``HybridSearch`` computes them now (every id read once per catalogue version) against a
  catalogue query per search (before);
* ``add``: 40 videos found without a text hit (collaborative / popular candidates) read together
  (``videos_by_ids`` + ``chunks_of``) against ``get_video`` + ``chunks`` per video (before).

It prints the median milliseconds of each and the ratio before / now. The machine may be shared:
only the ratios within one run mean anything.

    python -m benchmarks.turn_paths --data-dir <cache>/eval/redial-... [--cases 40]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from agent.conversation import user_texts
from agent.query import turn_query
from agent.settings import Settings
from evaluation.dialogues import extract_all
from evaluation.movies import CatalogueBuilder, MovieLens
from evaluation.redial import load_redial
from evaluation.runner import default_movielens
from retrieval.library import Library
from retrieval.types import SearchFilters


def _ms(run: Callable[[], object]) -> float:
    clock = time.perf_counter()
    run()
    return (time.perf_counter() - clock) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.turn_paths")
    parser.add_argument("--data-dir", type=Path, required=True, help="an eval library's folder")
    parser.add_argument("--cases", type=int, default=40)
    args = parser.parse_args(argv)

    base = Settings()
    settings = base.model_copy(update={"data_dir": args.data_dir})
    builder = CatalogueBuilder(MovieLens.load(default_movielens(base)), prefix="redial")
    path = base.data.shared_dir / "redial" / "valid_data.jsonl"
    cases = extract_all(load_redial(path, builder))[: args.cases]
    library = Library(settings)
    searcher = library.searcher
    embedder = library.embedder
    model = getattr(embedder, "_model", None)
    if model is None:
        raise SystemExit("needs the sentence-transformers embedder")
    every = sorted(library.catalogue.matching_video_ids(SearchFilters()))
    print(
        f"{len(every)} videos, {len(cases)} cases, torch default threads "
        f"{torch.get_num_threads()}, query threads {settings.embedding.query_threads}"
    )
    rng = random.Random(0)
    times: dict[str, tuple[list[float], list[float]]] = {
        "embed": ([], []),
        "scope": ([], []),
        "add": ([], []),
    }
    embedder.encode_queries(["warm up"])
    for case in cases:
        texts = [t.text for t in turn_query(user_texts(case.context), "")] or ["movies"]
        before, now = times["embed"]
        before.append(_ms(lambda t=texts: model.encode(t, batch_size=64)))  # type: ignore[misc]
        now.append(_ms(lambda t=texts: embedder._encode(t, "query")))  # type: ignore[attr-defined,misc]
        filters = SearchFilters(exclude_ids=frozenset(case.excluded))
        before, now = times["scope"]
        before.append(_ms(lambda f=filters: library.catalogue.matching_video_ids(f)))  # type: ignore[misc]
        now.append(_ms(lambda f=filters: searcher._scope(f)))  # type: ignore[misc]
        ids = rng.sample(every, 40)
        before, now = times["add"]
        before.append(_ms(lambda i=ids: [(library.get_video(v), library.chunks(v)) for v in i]))  # type: ignore[misc]
        now.append(_ms(lambda i=ids: (library.videos_by_ids(i), library.chunks_of(i))))  # type: ignore[misc]
    print(f"{'path':<8}{'before ms':>11}{'now ms':>9}{'before / now':>14}")
    for name, (before, now) in times.items():
        b, n = statistics.median(before), statistics.median(now)
        print(f"{name:<8}{b:>11.1f}{n:>9.1f}{b / max(n, 1e-9):>14.1f}")
    library.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What reading a conversation's titles costs a turn, against what it replaced, in the same run.

A synthetic movie catalogue (``--movies`` titles "Movie N (year)" with genre tags) in a scratch
SQLite file. Three measurements, each with its baseline measured right beside it:

* ``matching_video_ids`` with the filter every conversational search carries (the movies already
  named excluded), against the same call made to read the tags (a ``tags_none`` filter nobody
  matches: what every exclusion-only call did before the tags were read on demand);
* the titles of an 8-message conversation found by ``agent.mentions.conversation_mentions``,
  against building the ``TitleIndex`` (what ``Recommender.title_index`` did every 30 s before it
  was rebuilt only when the catalogue's version changes);
* ``Catalogue.version`` (the per-turn check that replaced the 30-second rebuild).

    python -m benchmarks.conversation_titles [--movies 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agent.mentions import conversation_mentions
from agent.titles import TitleIndex
from agent.types import Message
from retrieval.catalogue import Catalogue
from retrieval.types import Chunk, SearchFilters, Video

GENRES = ("comedy", "drama", "horror", "action", "romance", "thriller", "animation", "documentary")


def _median_s(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        clock = time.perf_counter()
        fn()
        times.append(time.perf_counter() - clock)
    return statistics.median(times)


def _catalogue(folder: Path, n: int) -> tuple[Catalogue, list[Video]]:
    catalogue = Catalogue(f"sqlite:///{folder / 'catalogue.db'}")
    videos = []
    for i in range(n):
        tags = (GENRES[i % len(GENRES)], GENRES[(i * 7) % len(GENRES)], f"tag{i % 97}")
        video = Video(f"ml:{i}", f"Movie {i} Story ({1950 + i % 70})", tags=tags)
        chunk = Chunk(f"{video.id}:0", video.id, 0, 0.0, 0.0, video.title)
        catalogue.commit_video(video, [chunk], f"h{i}")
        videos.append(video)
    return catalogue, videos


def run(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movies", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vidrec-bench-") as scratch:
        clock = time.perf_counter()
        catalogue, videos = _catalogue(Path(scratch), args.movies)
        print(f"catalogue of {args.movies} movies written in {time.perf_counter() - clock:.1f}s")
        named = frozenset(v.id for v in videos[:: max(1, args.movies // 12)])
        excluded = SearchFilters(exclude_ids=named)
        with_tags = SearchFilters(exclude_ids=named, tags_none=("no-such-tag",))
        assert catalogue.matching_video_ids(excluded) == catalogue.matching_video_ids(with_tags)
        new = _median_s(lambda: catalogue.matching_video_ids(excluded), args.repeat)
        old = _median_s(lambda: catalogue.matching_video_ids(with_tags), args.repeat)
        print(
            f"exclusion filter: {new * 1000:.1f} ms, reading the tags {old * 1000:.1f} ms "
            f"(ratio {old / new:.1f}x)"
        )

        index = TitleIndex(videos)
        spotter = index.spotter()
        pick = videos[:: max(1, args.movies // 5)]
        messages = [
            Message("user", "Hi! I want something funny tonight."),
            Message("assistant", f"Have you seen {pick[0].title}?"),
            Message("user", f"I loved {pick[1].title} but {pick[2].title} was boring."),
            Message("assistant", f"Then {pick[3].title}, or {pick[4].title}."),
            Message("user", "I haven't seen that one. Anything else like it?"),
            Message("assistant", "Something newer maybe?"),
            Message("user", "Yes please, a comedy from the nineties would be great."),
            Message("assistant", "Let me look."),
        ]
        found = conversation_mentions(messages, spotter)
        assert len(found) == 5, found
        spot = _median_s(lambda: conversation_mentions(messages, spotter), args.repeat)
        build = _median_s(lambda: TitleIndex(catalogue.videos()).spotter(), args.repeat)
        check = _median_s(catalogue.version, args.repeat)
        print(
            f"titles of an 8-message conversation: {spot * 1000:.2f} ms; rebuilding the title "
            f"index {build * 1000:.0f} ms (ratio {build / spot:.0f}x); the per-turn version "
            f"check {check * 1000:.2f} ms"
        )
        catalogue.close()
    return 0


if __name__ == "__main__":
    sys.exit(run())

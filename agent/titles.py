"""What a user calls a video, resolved to its id (:class:`TitleIndex`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rapidfuzz import fuzz, process

from agent.mentions import TitleSpotter
from retrieval.types import Video

__all__ = ["TitleIndex"]


def _norm_title(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


class TitleIndex:
    """Resolves what a user calls a video ("the one about schools killing creativity") to its id.

    Matches a video id given verbatim, or a title by fuzzy full-string similarity (rapidfuzz);
    a topic that merely appears inside a longer title is not a match.
    """

    def __init__(self, videos: Sequence[Video], *, cutoff: float = 85.0) -> None:
        self.cutoff = cutoff
        self._ids = [v.id for v in videos]
        self._titles = [_norm_title(v.title) for v in videos]
        self._by_id = {v.id: v for v in videos}
        self.size = len(videos)
        self._spotter: TitleSpotter | None = None

    def spotter(self) -> TitleSpotter:
        """The same titles, for finding them inside running text (built on first use)."""
        if self._spotter is None:
            self._spotter = TitleSpotter(self._by_id.values())
        return self._spotter

    def titles(self) -> dict[str, str]:
        """video id -> normalised title."""
        return dict(zip(self._ids, self._titles, strict=True))

    def resolve(self, mention: str) -> str | None:
        mention = mention.strip()
        if mention in self._by_id:
            return mention
        norm = _norm_title(mention)
        if len(norm) < 4 or not self._titles:
            return None
        best = process.extractOne(norm, self._titles, scorer=fuzz.ratio, score_cutoff=self.cutoff)
        if best is None:
            # "schools kill creativity" for "Do schools kill creativity?": most of the title said
            best = process.extractOne(
                norm, self._titles, scorer=fuzz.partial_ratio, score_cutoff=95.0
            )
            if best is None or len(norm) < 0.6 * len(best[0]):
                return None
        return self._ids[best[2]]

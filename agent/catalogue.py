"""What the agent reads of the library's catalogue: titles, described videos, vocabulary.

Each is built from the library's videos on first use and rebuilt when the catalogue changed (its
version, bumped by every change, also by another process's ingest).
"""

from __future__ import annotations

from collections.abc import Callable

from agent.learn.reading import Vocabulary
from agent.references import DescribedVideos
from agent.titles import TitleIndex
from retrieval.library import Library
from retrieval.types import Video

__all__ = ["CatalogueViews"]


class CatalogueViews:
    """The library's titles (to resolve what users name), its videos for resolving described
    mentions, and its tags, speakers and years for reading the dialogue."""

    def __init__(self, library: Callable[[], Library]) -> None:
        self._library = library
        self._videos: list[Video] = []
        self._titles: TitleIndex | None = None
        self._described: DescribedVideos | None = None
        self._vocabulary: Vocabulary | None = None
        self._version = -1

    def titles(self, *, refresh: bool = False) -> TitleIndex:
        """The title index, rebuilt when the catalogue's version moved (or when asked)."""
        library = self._library()
        version = library.catalogue.version()
        if refresh or self._titles is None or version != self._version:
            self._videos = library.videos()
            self._titles = TitleIndex(self._videos)
            self._described = None  # built when first needed
            self._vocabulary = None
            self._version = version
        return self._titles

    def described(self) -> DescribedVideos:
        """The library's videos for resolving described mentions (built with the titles)."""
        self.titles()
        if self._described is None:
            self._described = DescribedVideos(self._videos)
        return self._described

    def vocabulary(self) -> Vocabulary:
        """The library's tags, speakers and years (cached with the titles)."""
        self.titles()
        if self._vocabulary is None:
            self._vocabulary = Vocabulary(self._videos)
        return self._vocabulary

    def invalidate(self) -> None:
        """Rebuild everything on next use (this process changed the library)."""
        self._titles = None

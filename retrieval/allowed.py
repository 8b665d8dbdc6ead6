"""The videos a set of filters lets through, kept per catalogue version.

A filtered search needs the ids of every video that passes its filters (``Catalogue.
matching_video_ids``). Read from SQL, that is linear in the videos that pass: 57 ms of CPU at 1M
chunks (26,550 of 36,875 videos) in ``benchmarks/scale.py``, most of a filtered search there.
Filters repeat (a handful of lengths, dates and languages), so the sets of the last ``size``
distinct filters are kept for the catalogue version they were read at; a new version empties the
cache. A user's excluded ids (``SearchFilters.exclude_ids``, e.g. watched videos) are left out of
the key and taken away afterwards, so they do not split the cache per user.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from retrieval.catalogue import Catalogue
from retrieval.types import SearchFilters

__all__ = ["AllowedVideos"]


class AllowedVideos:
    """``get(filters, version)``: (ids of the videos passing ``filters``, videos in all)."""

    def __init__(self, catalogue: Catalogue, size: int = 16) -> None:
        self.catalogue = catalogue
        self.size = max(0, size)
        self._kept: OrderedDict[SearchFilters, tuple[frozenset[str], int]] = OrderedDict()
        self._version: int | None = None
        self._lock = threading.Lock()
        self.reads = 0  # SQL reads (cache misses)

    def get(self, filters: SearchFilters, version: int) -> tuple[frozenset[str], int]:
        key = replace(filters, exclude_ids=frozenset())
        with self._lock:
            if version != self._version:
                self._kept.clear()
                self._version = version
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
        if found is None:
            found = (
                frozenset(self.catalogue.matching_video_ids(key)),
                self.catalogue.video_count(),
            )
            self.reads += 1
            with self._lock:
                if version == self._version and self.size:
                    self._kept[key] = found
                    while len(self._kept) > self.size:
                        self._kept.popitem(last=False)
        allowed, total = found
        if filters.exclude_ids:
            allowed = allowed - filters.exclude_ids
        return allowed, total

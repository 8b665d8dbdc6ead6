"""The hard filters a candidate must pass, whichever source found it (the ranker's and the
cold start's one check)."""

from __future__ import annotations

from retrieval.types import SearchFilters, Video

__all__ = ["passes"]


def passes(video: Video, filters: SearchFilters) -> bool:
    """The hard filters, checked again on every candidate whichever source found it."""
    if video.id in filters.exclude_ids:
        return False
    if video.duration is not None:
        if filters.max_duration is not None and video.duration > filters.max_duration:
            return False
        if filters.min_duration is not None and video.duration < filters.min_duration:
            return False
    if video.published is not None:
        if filters.published_after and video.published < filters.published_after:
            return False
        if filters.published_before and video.published > filters.published_before:
            return False
    if filters.languages and video.language and video.language not in filters.languages:
        return False
    tags = {t.lower() for t in video.tags}
    if filters.tags_none and tags & {t.lower() for t in filters.tags_none}:
        return False
    return not (filters.tags_any and not tags & {t.lower() for t in filters.tags_any})

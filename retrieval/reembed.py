"""Embed a library again with another embedder, from its catalogue (``vidrec reindex``).

After ``vidrec train --embedder`` the library's vectors are the old model's. The catalogue keeps
every chunk's text, so nothing is read, transcribed or chunked again: each video's chunks are
embedded by the library's (new) embedder and written to the store its settings name, with the
video's whole-video vector, a batch of videos at a time. A Chroma collection remembers the model
whose vectors it holds and refuses another's, so the new vectors go to a new collection
(``store.collection``); the old one stays as it was until it is deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from retrieval.ingest import chunk_records
from retrieval.library import Library
from retrieval.store.base import video_record

log = logging.getLogger(__name__)


def reembed(
    library: Library, batch_videos: int = 64, progress: Callable[[int, int], None] | None = None
) -> tuple[int, int]:
    """Every catalogued video's chunks embedded again into ``library.store``; returns (videos,
    chunks). ``progress(done, total)`` is called after each batch."""
    videos = library.catalogue.videos()
    done_chunks = 0
    for start in range(0, len(videos), batch_videos):
        batch = videos[start : start + batch_videos]
        chunks = library.catalogue.chunks_of(v.id for v in batch)
        texts = [c.text for v in batch for c in chunks.get(v.id, [])]
        vectors = library.embedder.encode_documents(texts) if texts else np.zeros((0, 0))
        records, wholes, at = [], [], 0
        for video in batch:
            own = chunks.get(video.id, [])
            if not own:
                continue
            vecs = vectors[at : at + len(own)]
            at += len(own)
            records.extend(chunk_records(video, own, vecs))
            wholes.append(video_record(video, vecs))
        library.store.delete_videos([v.id for v in batch])
        library.store.upsert(records)
        library.store.upsert_videos(wholes)
        done_chunks += len(records)
        if progress is not None:
            progress(min(start + batch_videos, len(videos)), len(videos))
    log.info("embedded %d chunks of %d videos again", done_chunks, len(videos))
    return len(videos), done_chunks

"""Whether the library's stores agree: the SQL catalogue, Chroma and the BM25 index.

Shared by the state-machine test and the crash test. ``strict`` (after a completed run) asks for
exact agreement and nothing ``pending``; otherwise (right after a kill -9) it checks what is
*served*: every finished video has all its chunks in Chroma and BM25; vectors that are extra,
or missing, belong to a video left ``pending`` (which the next run redoes or purges).
"""

from __future__ import annotations

from retrieval.library import Library


def store_problems(library: Library, *, strict: bool = True) -> list[str]:
    """Every disagreement found, as readable lines ([] when the stores agree)."""
    problems: list[str] = []
    catalogue = library.catalogue
    videos = {v.id for v in catalogue.videos()}
    _, rows = catalogue.all_chunks()
    sql_chunks = {cid for cid, _, _ in rows}
    orphans = {vid for _, vid, _ in rows} - videos
    if orphans:
        problems.append(f"SQL chunks without their video: {sorted(orphans)}")
    pending = {s.video_id for s in catalogue.sources().values() if s.status != "done"}
    vectors = set(library.store.chunk_ids())
    missing = sql_chunks - vectors
    if not strict:  # a pending video's old chunks may have lost their vectors already
        missing = {cid for cid in missing if cid.rsplit(":", 1)[0] not in pending}
    if missing:
        problems.append(f"SQL chunks missing from Chroma: {sorted(missing)[:5]}")
    extra = vectors - sql_chunks
    if strict and extra:
        problems.append(f"Chroma vectors without SQL chunks: {sorted(extra)[:5]}")
    elif extra:
        unowned = {cid.rsplit(":", 1)[0] for cid in extra} - pending
        if unowned:
            problems.append(f"Chroma vectors of no pending video: {sorted(unowned)}")
    if strict and pending:
        problems.append(f"videos left pending: {sorted(pending)}")
    library.lexical.ensure_fresh()
    if set(library.lexical._chunk_ids) != sql_chunks:
        problems.append("the BM25 index does not hold exactly the SQL chunks")
    return problems

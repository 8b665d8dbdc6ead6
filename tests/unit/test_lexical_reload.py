"""BM25 in several processes over one catalogue: a change made anywhere is seen at the next search,
and a version one process built is loaded, not rebuilt, by the others sharing the data dir."""

from __future__ import annotations

from pathlib import Path

from retrieval.catalogue import Catalogue
from retrieval.lexical import KEEP_VERSIONS, LexicalIndex
from retrieval.types import Chunk, Video


def _add(catalogue: Catalogue, video_id: str, text: str) -> None:
    chunk = Chunk(f"{video_id}:0", video_id, 0, 0.0, 5.0, text)
    catalogue.commit_video(Video(video_id, video_id.title()), [chunk], video_id)


def test_a_change_by_another_process_is_searched_without_restart(
    sql_url: str, tmp_path: Path
) -> None:
    writer_db, reader_db = Catalogue(sql_url), Catalogue(sql_url)  # two processes' connections
    _add(writer_db, "reefs", "coral reefs bleach in warm water")
    folder = tmp_path / "bm25"
    writer, reader = LexicalIndex(writer_db, folder), LexicalIndex(reader_db, folder)
    assert [m.video_id for m in reader.search("coral", 5)] == ["reefs"]
    assert [m.video_id for m in reader.search("glacier", 5)] == []
    _add(writer_db, "ice", "a glacier carves its valley")
    assert [m.video_id for m in writer.search("glacier", 5)] == ["ice"]  # builds and saves v2
    assert [m.video_id for m in reader.search("glacier", 5)] == ["ice"]
    assert (reader.rebuilds, reader.loads) == (1, 1)  # v2 came from the writer's folder


def test_old_versions_are_pruned_and_each_version_folder_is_complete(
    sql_url: str, tmp_path: Path
) -> None:
    catalogue = Catalogue(sql_url)
    index = LexicalIndex(catalogue, tmp_path / "bm25")
    for n in range(KEEP_VERSIONS + 2):
        _add(catalogue, f"v{n}", f"word{n} shared")
        index.ensure_fresh()
    folders = sorted(p.name for p in (tmp_path / "bm25").iterdir())
    assert len(folders) == KEEP_VERSIONS
    assert folders[-1] == f"v{catalogue.version():010d}"
    assert all((tmp_path / "bm25" / f / "vidrec_bm25.json").is_file() for f in folders)

"""The ``Library`` facade: laziness, removal from every store, catalogue reads, speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.settings import Settings
from retrieval.errors import ConfigError, NotFoundError
from retrieval.library import Library
from tests.fakes.asr import FakeTranscriber, write_tone
from tests.fakes.index import write_talks


def test_construction_loads_nothing(settings: Settings) -> None:
    lib = Library(settings)
    assert (lib._embedder, lib._transcriber, lib._store, lib._catalogue) == (None, None, None, None)
    assert not settings.data_dir.exists()


def test_reading_the_catalogue_needs_no_model(settings: Settings, tmp_path: Path) -> None:
    Library(settings).ingest(manifest=write_talks(tmp_path / "in"))
    lib = Library(settings)
    assert {v.id for v in lib.videos()} == {"cooking", "oceans", "space", "jaws"}
    video = lib.get_video("space")
    assert video is not None and video.language == "fr" and video.title == "To the stars"
    chunks = lib.chunks("space")
    assert chunks and lib.chunk(chunks[0].id) == chunks[0]
    assert lib.chunk("space:999") is None and lib.get_video("nope") is None
    assert lib._embedder is None and lib._transcriber is None


def test_remove_deletes_from_sql_chroma_and_bm25(settings: Settings, tmp_path: Path) -> None:
    lib = Library(settings)
    lib.ingest(manifest=write_talks(tmp_path / "in"))
    assert lib.lexical.search("coral reefs", 10)
    assert lib.store.chunk_ids("oceans")
    lib.remove("oceans")
    assert lib.get_video("oceans") is None and lib.chunks("oceans") == []
    assert lib.store.chunk_ids("oceans") == []
    assert all(m.video_id != "oceans" for m in lib.lexical.search("coral reefs bleaching", 10))
    assert "oceans" not in {h.video.id for h in lib.search("coral reefs bleaching")}
    assert lib.catalogue.source("oceans") is None
    # a fresh process agrees (BM25 reloaded from disk or rebuilt, never stale)
    other = Library(settings)
    assert all(m.video_id != "oceans" for m in other.lexical.search("coral reefs", 10))
    with pytest.raises(NotFoundError, match="vidrec videos"):
        lib.remove("oceans")
    # re-ingesting brings it back (the source hash went with it)
    report = Library(settings).ingest(manifest=tmp_path / "in" / "manifest.jsonl")
    assert report.ingested == ["oceans"]


def test_transcribe_uses_the_configured_transcriber(settings: Settings, tmp_path: Path) -> None:
    wav = write_tone(tmp_path / "q.wav", 1.0)
    FakeTranscriber.enqueue("recommend me a talk about reefs")
    lib = Library(settings)
    transcript = lib.transcribe(wav)
    assert transcript.text == "recommend me a talk about reefs"
    assert isinstance(lib.transcriber, FakeTranscriber) and lib.transcriber.calls == [str(wav)]
    transcript = lib.transcribe(np.zeros(16000, dtype=np.float32))
    assert transcript.duration == pytest.approx(1.0)


def test_a_store_built_by_another_embedder_is_refused(settings: Settings, tmp_path: Path) -> None:
    Library(settings).ingest(manifest=write_talks(tmp_path / "in"))
    other = settings.model_copy(
        update={"embedding": settings.embedding.model_copy(update={"model": "something-else"})}
    )
    with pytest.raises(ConfigError, match="another model"):
        Library(other).search("reefs")


def test_unknown_embedder_lists_the_valid_ones(settings: Settings) -> None:
    bad = settings.model_copy(
        update={"embedding": settings.embedding.model_copy(update={"backend": "nope"})}
    )
    with pytest.raises(ConfigError, match="sentence-transformers"):
        _ = Library(bad).embedder

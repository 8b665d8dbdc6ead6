"""Ingest: idempotence, change detection, crash recovery, bad inputs, priorities, batching."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from agent.settings import Settings
from retrieval.errors import BackendUnavailableError
from retrieval.library import Library
from retrieval.types import IngestProgress
from tests.fakes.asr import FakeTranscriber, write_tone
from tests.fakes.index import TALKS, HashingEmbedder, write_talks

SRT = "1\n00:00:00,000 --> 00:00:01,500\nmarmalade sandwiches for breakfast\n\n"


def _ids_everywhere(lib: Library, video_id: str) -> tuple[list[str], list[str], list[str]]:
    """Chunk ids of one video in SQL, in Chroma and in BM25."""
    sql = [c.id for c in lib.chunks(video_id)]
    chroma = lib.store.chunk_ids(video_id)
    lib.lexical.ensure_fresh()
    bm25 = sorted(
        cid
        for cid, vid in zip(lib.lexical._chunk_ids, lib.lexical._video_ids, strict=True)
        if vid == video_id
    )
    return sorted(sql), chroma, bm25


def _assert_consistent(lib: Library) -> None:
    sql_ids = sorted(c.id for v in lib.videos() for c in lib.chunks(v.id))
    assert lib.store.chunk_ids() == sql_ids
    lib.lexical.ensure_fresh()
    assert sorted(lib.lexical._chunk_ids) == sql_ids
    assert all(s.status == "done" for s in lib.catalogue.sources().values())


def test_manifest_ingest_indexes_every_source_kind(settings: Settings, tmp_path: Path) -> None:
    manifest = write_talks(tmp_path / "in")
    lib = Library(settings)
    report = lib.ingest(manifest=manifest)
    assert report.ok and sorted(report.ingested) == ["cooking", "jaws", "oceans", "space"]
    cooking = lib.get_video("cooking")
    assert cooking is not None and cooking.transcript_source == "transcript"
    assert cooking.duration == 300 and cooking.tags == ("food", "fun")
    jaws = lib.get_video("jaws")
    assert jaws is not None and jaws.transcript_source == "metadata"
    [only] = lib.chunks("jaws")
    assert "shark" in only.text and only.id == "jaws:0"
    # metadata chunk appended after the transcript chunks, same id scheme
    chunks = lib.chunks("cooking")
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].text.startswith("Pasta at home")
    assert "basil" in " ".join(c.text for c in chunks[:-1])
    assert report.chunks == sum(len(lib.chunks(v.id)) for v in lib.videos())
    _assert_consistent(lib)


def test_second_run_on_unchanged_inputs_does_no_work(settings: Settings, tmp_path: Path) -> None:
    manifest = write_talks(tmp_path / "in")
    media = tmp_path / "media"
    write_tone(media / "humming_bird.wav", 1.0)
    first = Library(settings).ingest([media], manifest)
    assert first.ok and len(first.ingested) == 5

    lib = Library(settings)
    again = lib.ingest([media], manifest)
    assert again.ingested == [] and sorted(again.unchanged) == sorted(first.ingested)
    assert again.chunks == 0 and again.audio_seconds == 0
    # nothing was embedded or transcribed: the models were not even created
    assert lib._embedder is None and lib._transcriber is None


def test_changed_transcript_is_reindexed_without_stale_chunks(
    settings: Settings, tmp_path: Path
) -> None:
    manifest = write_talks(tmp_path / "in")
    lib = Library(settings)
    lib.ingest(manifest=manifest)
    before = _ids_everywhere(lib, "cooking")
    assert before[0] == before[1] == before[2] and len(before[0]) >= 2

    (tmp_path / "in" / "cooking.txt").write_text("Zucchini.", encoding="utf-8")
    lib2 = Library(settings)
    report = lib2.ingest(manifest=manifest)
    assert report.ingested == ["cooking"] and sorted(report.unchanged) == [
        "jaws",
        "oceans",
        "space",
    ]
    sql, chroma, bm25 = _ids_everywhere(lib2, "cooking")
    assert sql == chroma == bm25 and len(sql) < len(before[0])
    assert "basil" not in " ".join(c.text for c in lib2.chunks("cooking"))
    lexical = lib2.lexical.search("basil garlic", 10)
    assert lexical == []  # the old words are gone from BM25
    assert any(h.video.id == "cooking" for h in lib2.search("zucchini"))
    _assert_consistent(lib2)


def test_metadata_change_alone_reindexes(settings: Settings, tmp_path: Path) -> None:
    manifest = write_talks(tmp_path / "in")
    Library(settings).ingest(manifest=manifest)
    from tests.fakes.index import TALK_ROWS

    rows = [dict(r) for r in TALK_ROWS]
    rows[3]["description"] = "A killer whale, not a shark."
    write_talks(tmp_path / "in", rows)
    lib = Library(settings)
    report = lib.ingest(manifest=manifest)
    assert report.ingested == ["jaws"]
    assert "whale" in lib.chunks("jaws")[0].text


def test_changed_chunking_settings_reindex_everything(settings: Settings, tmp_path: Path) -> None:
    manifest = write_talks(tmp_path / "in")
    Library(settings).ingest(manifest=manifest)
    changed = settings.model_copy(
        update={"chunking": settings.chunking.model_copy(update={"max_chars": 80})}
    )
    report = Library(changed).ingest(manifest=manifest)
    assert sorted(report.ingested) == ["cooking", "jaws", "oceans", "space"]


def test_bad_inputs_fail_one_line_each_and_the_rest_is_ingested(
    settings: Settings, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    write_tone(media / "good_talk.wav", 1.0)
    (media / "empty.mp4").write_bytes(b"")
    (media / "notes.mp4").write_text("this is not a video\n" * 20)
    truncated = media / "cut.wav"
    write_tone(truncated, 1.0)
    truncated.write_bytes(truncated.read_bytes()[:30])  # cut inside the header
    write_tone(media / "captioned.wav", 1.0)
    (media / "captioned.srt").write_text("1\nnot a timestamp\nhello\n\n")
    rows = [
        {"id": "ok", "title": "Fine", "transcript_path": "cooking.txt"},
        {"id": "missing", "title": "Gone", "transcript_path": "nope.txt"},
        {"title": ""},
    ]
    manifest = write_talks(tmp_path / "in", rows)
    lib = Library(settings)
    report = lib.ingest([media, tmp_path / "no_such_dir"], manifest)

    assert sorted(report.ingested) == ["good_talk", "ok"]
    failed = {Path(f.path.split(" (id")[0].split(":")[0]).name: f.error for f in report.failed}
    for name in (
        "empty.mp4",
        "notes.mp4",
        "cut.wav",
        "captioned.wav",
        "no_such_dir",
        "manifest.jsonl",
    ):
        assert name in failed, (name, report.failed)
    for f in report.failed:
        assert "\n" not in f.error and f.error.strip()
    assert "empty" in failed["empty.mp4"]
    assert len([f for f in report.failed if "manifest.jsonl" in f.path]) == 2
    assert not report.ok
    # nothing of the failed inputs was written anywhere
    assert sorted(v.id for v in lib.videos()) == ["good_talk", "ok"]
    assert set(lib.catalogue.sources()) == {"good_talk", "ok"}
    _assert_consistent(lib)


def test_captions_win_over_asr_and_transcript_over_asr(settings: Settings, tmp_path: Path) -> None:
    media = tmp_path / "media"
    write_tone(media / "breakfast.wav", 2.0)
    (media / "breakfast.srt").write_text(SRT)
    write_tone(media / "spoken.wav", 2.0)
    rows = [
        {
            "id": "both",
            "title": "Both",
            "media_path": "../media/spoken.wav",
            "transcript_path": "space.txt",
        }
    ]
    manifest = write_talks(tmp_path / "in", rows)
    lib = Library(settings)
    report = lib.ingest([media / "breakfast.wav"], manifest)
    assert report.ok, report.failed
    breakfast = lib.get_video("breakfast")
    assert breakfast is not None and breakfast.transcript_source == "captions"
    assert "marmalade" in lib.chunks("breakfast")[0].text
    both = lib.get_video("both")
    assert both is not None and both.transcript_source == "transcript"
    assert both.duration == pytest.approx(2.0, abs=0.05)  # probed from the media
    assert lib._transcriber is None  # no ASR was needed
    assert report.audio_seconds == 0


def test_manifest_media_picks_up_sidecar_captions(settings: Settings, tmp_path: Path) -> None:
    media = tmp_path / "media"
    write_tone(media / "clip.wav", 2.0)
    (media / "clip.vtt").write_text("WEBVTT\n\n00:00.000 --> 00:01.500\nmarmalade on toast\n")
    manifest = write_talks(
        tmp_path / "in", [{"id": "m1", "title": "Clip", "media_path": "../media/clip.wav"}]
    )
    lib = Library(settings)
    assert lib.ingest(manifest=manifest).ok
    video = lib.get_video("m1")
    assert video is not None and video.transcript_source == "captions"
    assert lib._transcriber is None


def test_media_without_text_goes_through_asr(settings: Settings, tmp_path: Path) -> None:
    media = tmp_path / "media"
    write_tone(media / "whale_song.wav", 3.0)
    (media / "readme.md").write_text("not media, ignored in a folder scan")
    FakeTranscriber.enqueue("humpback whales sing long songs in the deep ocean")
    lib = Library(settings)
    seen: list[IngestProgress] = []
    report = lib.ingest([media], progress=seen.append)
    assert report.ingested == ["whale_song"]
    assert report.audio_seconds == pytest.approx(3.0, abs=0.05)
    video = lib.get_video("whale_song")
    assert video is not None and video.transcript_source == "asr" and video.title == "whale song"
    assert "humpback" in lib.chunks("whale_song")[0].text
    assert seen[-1].files_done == seen[-1].files_total == 1
    assert seen[-1].chunks == report.chunks and seen[-1].audio_seconds == report.audio_seconds


def test_embedding_is_batched_across_videos(settings: Settings, tmp_path: Path) -> None:
    manifest = write_talks(tmp_path / "in")
    lib = Library(settings)
    report = lib.ingest(manifest=manifest)
    embedder = lib.embedder
    assert isinstance(embedder, HashingEmbedder)
    assert embedder.document_calls == 1 and embedder.documents_encoded == report.chunks

    small = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"embed_flush_chunks": 1})}
    )
    lib2 = Library(small.model_copy(update={"data_dir": tmp_path / "other"}))
    lib2.ingest(manifest=manifest)
    assert isinstance(lib2.embedder, HashingEmbedder) and lib2.embedder.document_calls == 4


class Crash(BaseException):
    """Stands for kill -9: escapes every ``except Exception``."""


def test_interrupted_ingest_resumes_without_duplicates(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_talks(tmp_path / "in")
    # one video a flush: a crash between two videos' writes
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"embed_flush_chunks": 1})}
    )
    lib = Library(settings)
    real_commit = lib.catalogue.commit_videos
    calls = {"n": 0}

    def crash_on_third(*args: object, **kwargs: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash  # vectors of video 3 are in Chroma, SQL not yet committed
        real_commit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lib.catalogue, "commit_videos", crash_on_third)
    with pytest.raises(Crash):
        lib.ingest(manifest=manifest)
    states = lib.catalogue.sources()
    assert sorted(s.status for s in states.values()) == ["done", "done", "pending"]

    resumed = Library(settings)
    report = resumed.ingest(manifest=manifest)
    assert report.ok and len(report.unchanged) == 2 and len(report.ingested) == 2
    assert sorted(v.id for v in resumed.videos()) == ["cooking", "jaws", "oceans", "space"]
    _assert_consistent(resumed)
    assert resumed.store.count() == len(resumed.store.chunk_ids())


def test_pending_video_not_in_the_next_batch_is_purged(settings: Settings, tmp_path: Path) -> None:
    manifest = write_talks(tmp_path / "in")
    lib = Library(settings)
    lib.ingest(manifest=manifest)
    lib.catalogue.mark_pending("oceans", "whatever", "a run that was killed")
    other = tmp_path / "other"
    write_tone(other / "new_one.wav", 1.0)
    lib2 = Library(settings)
    lib2.ingest([other])
    assert lib2.get_video("oceans") is None
    assert lib2.store.chunk_ids("oceans") == []
    _assert_consistent(lib2)


def test_one_ingest_at_a_time(settings: Settings, tmp_path: Path) -> None:
    manifest = write_talks(tmp_path / "in")
    lock = settings.data_dir / "ingest.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(BackendUnavailableError, match="Another ingest"):
            Library(settings).ingest(manifest=manifest)
    finally:
        os.close(fd)
    assert Library(settings).ingest(manifest=manifest).ok


def test_same_stem_in_two_folders_gets_two_ids(settings: Settings, tmp_path: Path) -> None:
    write_tone(tmp_path / "a" / "intro.wav", 1.0)
    write_tone(tmp_path / "b" / "intro.wav", 1.0)
    lib = Library(settings)
    report = lib.ingest([tmp_path / "a", tmp_path / "b"])
    assert report.ok and len(set(report.ingested)) == 2
    assert report.ingested[0] == "intro" and report.ingested[1].startswith("intro-")
    again = Library(settings).ingest([tmp_path / "a", tmp_path / "b"])
    assert sorted(again.unchanged) == sorted(report.ingested)


def test_talk_texts_are_searchable_after_ingest(settings: Settings, tmp_path: Path) -> None:
    lib = Library(settings)
    lib.ingest(manifest=write_talks(tmp_path / "in"))
    for name in TALKS:
        assert lib.search(TALKS[name].split(".")[0])[0].video.id == name

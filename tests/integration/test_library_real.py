"""End to end with the real parts: Whisper (tiny.en), MiniLM, Chroma, SQLite, BM25.

A few TED talks (metadata + transcripts from ../shared/data/ted) and a LibriVox clip transcribed
by Whisper; skips when the shared data are absent.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.settings import Settings
from retrieval.library import Library
from retrieval.types import SearchFilters

# Two real models plus ingest: minutes on a shared CPU, so it runs with `-m slow`.
pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Three short talks keep the test quick (csv_index in ted_main.csv): Al Gore's climate talk and two
# short ones; all three have paired transcripts.
TALK_INDEXES = (1, 15, 48)


def ted_manifest(
    shared: Path, out: Path, indexes: tuple[int, ...]
) -> tuple[Path, list[dict[str, object]]]:
    """A JSONL manifest for these TED talks (real metadata and transcripts)."""
    ted = shared / "ted"
    with (ted / "ted_main.csv").open(encoding="utf-8") as fh:
        meta = list(csv.DictReader(fh))
    rows: list[dict[str, object]] = []
    with (ted / "talk_transcripts.csv").open(encoding="utf-8") as fh:
        for pair in csv.DictReader(fh):
            if int(pair["csv_index"]) not in indexes:
                continue
            m = meta[int(pair["csv_index"])]
            rows.append(
                {
                    "id": f"ted-{pair['csv_index']}",
                    "title": m["title"],
                    "description": m["description"],
                    "speaker": m["speaker"],
                    "tags": ",".join(ast.literal_eval(m["tags"])),
                    "duration": float(m["duration"]),
                    "published": datetime.fromtimestamp(int(m["published_date"]), UTC)
                    .date()
                    .isoformat(),
                    "language": "en",
                    "transcript_path": str(ted / pair["path"]),
                }
            )
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "ted.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return manifest, rows


@pytest.fixture(scope="module")
def real(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Library, list[dict[str, object]], Path]]:
    root = tmp_path_factory.mktemp("real")
    manifest, rows = ted_manifest(shared_data, root / "in", TALK_INDEXES)
    clip = sorted((shared_data / "speech" / "librivox").glob("*.wav"))[0]
    settings = Settings(data_dir=root / "data", asr={"model": "tiny.en"})
    lib = Library(settings)
    report = lib.ingest([clip], manifest)
    assert report.ok, report.failed
    assert len(report.ingested) == len(TALK_INDEXES) + 1 and report.audio_seconds > 1
    yield lib, rows, clip
    lib.close()


def test_a_passage_finds_its_talk_and_moment(
    real: tuple[Library, list[dict[str, object]], Path],
) -> None:
    lib, rows, _ = real
    for row in rows:
        chunks = lib.chunks(str(row["id"]))
        middle = chunks[len(chunks) // 2]
        query = " ".join(middle.text.split()[:25])
        hits = lib.search(query, k=3)
        assert hits[0].video.id == row["id"]
        assert hits[0].best.chunk.start <= middle.start + 60  # points near the passage
        assert hits[0].video.title == row["title"]


def test_topic_query_and_filters(real: tuple[Library, list[dict[str, object]], Path]) -> None:
    lib, rows, _ = real
    gore = next(r for r in rows if "climate" in str(r["title"]).lower())
    assert lib.search("global warming and carbon emissions", k=1)[0].video.id == gore["id"]
    hits = lib.search("global warming", SearchFilters(exclude_ids=frozenset({str(gore["id"])})))
    assert gore["id"] not in {h.video.id for h in hits}
    short = lib.search("global warming", SearchFilters(max_duration=60))
    assert {h.video.id for h in short} <= {v.id for v in lib.videos() if (v.duration or 1e9) <= 60}


def test_whisper_transcribed_clip_is_searchable(
    real: tuple[Library, list[dict[str, object]], Path],
) -> None:
    lib, _, clip = real
    video = lib.get_video(clip.stem)
    assert video is not None and video.transcript_source == "asr"
    reference = clip.with_suffix(".txt").read_text().lower()
    words = [w for w in reference.split() if len(w) > 4][:6]
    hits = lib.search(" ".join(words), k=2)
    assert hits[0].video.id == clip.stem


def test_profile_vectors_are_usable(real: tuple[Library, list[dict[str, object]], Path]) -> None:
    lib, rows, _ = real
    ids = [str(r["id"]) for r in rows]
    vectors = lib.video_vectors(ids)
    assert set(vectors) == set(ids)
    hits = lib.search_by_vector(vectors[ids[1]], k=1)
    assert hits[0].video.id == ids[1]

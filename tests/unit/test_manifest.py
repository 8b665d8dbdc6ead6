"""Manifest parsing (CSV/JSONL): value formats, derived ids, paths, and bad rows reported and skipped."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from retrieval.errors import InvalidInputError
from retrieval.manifest import (
    ManifestRow,
    derive_id,
    parse_duration,
    parse_published,
    parse_tags,
    read_manifest,
    write_manifest,
)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "pasta.mp4").write_bytes(b"not decoded here")
    (tmp_path / "pasta.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nhi\n")
    (tmp_path / "talk.md").write_text("Hello there.")
    return tmp_path


def _csv(folder: Path, text: str) -> Path:
    path = folder / "library.csv"
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def _jsonl(folder: Path, rows: list[object | str]) -> Path:
    path = folder / "library.jsonl"
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "tags"),
    [
        ('["cooking", "humor"]', ("cooking", "humor")),
        ("['children', 'creativity', 'TEDx']", ("children", "creativity", "TEDx")),
        ("cooking; humor ;", ("cooking", "humor")),
        ("cooking,humor,cooking", ("cooking", "humor")),
        (["a", "b"], ("a", "b")),
        ("", ()),
        (None, ()),
    ],
)
def test_tag_formats(value: object, tags: tuple[str, ...]) -> None:
    assert parse_tags(value) == tags


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(754, 754.0), ("754.5", 754.5), ("12:34", 754.0), ("1:02:03", 3723.0), ("75:00", 4500.0)],
)
def test_duration_formats(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("2006-06-27", date(2006, 6, 27)),
        ("2006-06-27T00:11:00Z", date(2006, 6, 27)),
        (1151367060, date(2006, 6, 27)),
        ("1151367060", date(2006, 6, 27)),
    ],
)
def test_published_formats(value: object, day: date) -> None:
    assert parse_published(value) == day


def test_csv_rows_resolved_and_typed(library: Path) -> None:
    path = _csv(
        library,
        """
id,title,description,tags,duration,published,url,media_path,captions_path,views
pasta,Pasta in ten,"Quick, funny pasta","['cooking', 'humor']",9:30,2020-01-02,"https://x.test/p
",media/pasta.mp4,pasta.srt,1200
,A talk,,a;b,600,1151367060,,,,
""",
    )
    result = read_manifest(path)
    assert result.failures == []
    pasta, talk = result.rows
    assert pasta == ManifestRow(
        id="pasta",
        title="Pasta in ten",
        description="Quick, funny pasta",
        tags=("cooking", "humor"),
        duration=570.0,
        published=date(2020, 1, 2),
        url="https://x.test/p",  # the stray newline inside the quotes is stripped
        media_path=str(library / "media" / "pasta.mp4"),
        captions_path=str(library / "pasta.srt"),
    )
    assert pasta.extra == {"views": "1200"}
    assert talk.id == derive_id("A talk") and talk.id.startswith("a-talk-")
    assert talk.published == date(2006, 6, 27)
    assert read_manifest(path).rows[1].id == talk.id  # stable across reads


def test_bad_rows_reported_with_line_others_kept(library: Path) -> None:
    path = _csv(
        library,
        """
title,duration,published,tags,transcript_path
Good one,60,2020-01-01,a,talk.md
Bad duration,ten minutes,,,

"Multi
line title",30,,,
Bad date,60,yesterday,,
Missing transcript,60,,,gone.md
,,,,
,60,,,
Bad tags,60,,"['a', 'b'",
Last good,1:00,,,
""",
    )
    result = read_manifest(path)
    assert [r.title for r in result.rows] == ["Good one", "Multi\nline title", "Last good"]
    failures = {f.path.rsplit(":", 1)[1]: f.error for f in result.failures}
    assert set(failures) == {"3", "7", "8", "10", "11"}  # line 4 is blank
    assert all(f.path.startswith(f"{path}:") for f in result.failures)
    assert "duration: expected seconds" in failures["3"] and "'ten minutes'" in failures["3"]
    assert "published: expected an ISO date" in failures["7"] and "'yesterday'" in failures["7"]
    assert "transcript_path: expected an existing transcript file" in failures["8"]
    assert "gone.md" in failures["8"]
    assert "title: expected a title" in failures["10"]
    assert "tags:" in failures["11"]
    for error in failures.values():
        assert "\n" not in error and "; " in error  # one line, with what to do


def test_jsonl_rows_aliases_and_bad_lines(library: Path) -> None:
    path = _jsonl(
        library,
        [
            {
                "title": "Cooking",
                "tags": ["food"],
                "duration": 95,
                "published_date": 1151367060,
                "media": "media/pasta.mp4",
                "synthetic_audio": True,
                "event": "TED2006",
                "rating": 4.5,
            },
            "{not json",
            "[1, 2]",
            {"id": "x", "title": "Dup"},
            {"id": "x", "title": "Dup again"},
            {"id": "has space", "title": "Bad id"},
            {"title": "Bad flag", "synthetic_audio": "maybe"},
        ],
    )
    result = read_manifest(path)
    assert [r.title for r in result.rows] == ["Cooking", "Dup"]
    cooking = result.rows[0]
    assert cooking.media_path == str(library / "media" / "pasta.mp4")
    assert cooking.published == date(2006, 6, 27) and cooking.synthetic_audio
    assert cooking.extra == {"event": "TED2006", "rating": "4.5"}
    assert cooking.id == derive_id("Cooking", str(library / "media" / "pasta.mp4"))
    errors = {f.path.rsplit(":", 1)[1]: f.error for f in result.failures}
    assert set(errors) == {"2", "3", "5", "6", "7"}
    assert "invalid JSON" in errors["2"] and "JSON object" in errors["3"]
    assert "unique id" in errors["5"] and "line 4" in errors["5"]
    assert "id:" in errors["6"] and "synthetic_audio: expected true or false" in errors["7"]


def test_title_from_file_when_missing(library: Path) -> None:
    result = read_manifest(_jsonl(library, [{"media_path": "media/pasta.mp4"}]))
    assert result.rows[0].title == "pasta"


def test_to_video_and_transcript_source(library: Path) -> None:
    row = ManifestRow(id="t", title="T", transcript_path=str(library / "talk.md"), speaker="S")
    video = row.to_video()
    assert video.transcript_source == "transcript" and video.extra["timestamps"] == "estimated"
    assert video.speaker == "S"
    assert ManifestRow(id="m", title="M").to_video().transcript_source == "metadata"
    assert ManifestRow(id="a", title="A", media_path="x.mp4").transcript_source == "asr"


def test_write_then_read_round_trip(library: Path) -> None:
    rows = [
        ManifestRow(
            id="one",
            title="One",
            description="d",
            tags=("a", "b"),
            duration=61.5,
            published=date(2021, 3, 4),
            url="https://x.test/1",
            language="en",
            speaker="Ann",
            transcript_path=str(library / "talk.md"),
            synthetic_audio=True,
            extra={"event": "TEDx"},
        ),
        ManifestRow(id="two", title="Two"),
    ]
    path = write_manifest(rows, library / "out" / "m.jsonl")
    before = path.stat().st_mtime_ns
    again = read_manifest(path)
    assert again.failures == [] and again.rows == rows
    assert again.rows[0].extra == {"event": "TEDx"}
    write_manifest(rows, path)  # unchanged content: file left alone
    assert path.stat().st_mtime_ns == before


def test_unreadable_manifests_raise(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"\.csv or \.jsonl"):
        read_manifest(tmp_path / "library.xlsx")
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_manifest(tmp_path / "absent.csv")
    with pytest.raises(InvalidInputError, match="no usable header"):
        read_manifest(_csv(tmp_path, "name,length\nx,1\n"))

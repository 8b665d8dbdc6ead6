"""The demo-library builder on a tiny fake shared-data folder (real espeak-ng and ffmpeg, 1 clip)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.demo import SYNTHETIC_NOTE, build_demo_library, load_ted, select_talks
from retrieval.errors import InvalidInputError
from retrieval.manifest import read_manifest
from retrieval.media import probe
from tests.fakes.asr import write_tone

TED_MAIN = """comments,description,duration,event,film_date,languages,speaker,published_date,tags,title,url,views
10,Cooking with chaos.,540,TED2010,1265000000,30,Ann Cook,1266000000,"['food', 'humor']",Funny pasta,"https://www.ted.com/talks/funny_pasta
",500
10,Stars and stuff.,900,TED2011,1296000000,30,Bo Star,1297000000,"['space', 'science']",Looking up,https://www.ted.com/talks/looking_up,900
10,Robots.,700,TED2012,1328000000,30,Cy Bot,1329000000,"['technology']",Robot friends,https://www.ted.com/talks/robots,100
10,No transcript here.,700,TED2012,1328000000,30,Di No,1329000000,"['technology']",Unpaired,https://www.ted.com/talks/unpaired,5000
"""

PAIRS = """csv_index,title,speaker,path,tier
0,Funny pasta,Ann Cook,transcripts/A/Funny_pasta_Ann_Cook.md,exact
1,Looking up,Bo Star,transcripts/A/Looking_up_Bo_Star.md,exact
2,Robot friends,Cy Bot,transcripts/A/Robot_friends_Cy_Bot.md,fuzzy
"""

TRANSCRIPT = """
So I walked into the kitchen.
(Laughter)
And the pasta was already on the ceiling.
It&#39;s a long story, and a funny one.
"""


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    root = tmp_path / "shared"
    ted = root / "ted"
    (ted / "transcripts" / "A").mkdir(parents=True)
    (ted / "ted_main.csv").write_text(TED_MAIN, encoding="utf-8")
    (ted / "talk_transcripts.csv").write_text(PAIRS, encoding="utf-8")
    for name in ("Funny_pasta_Ann_Cook", "Looking_up_Bo_Star", "Robot_friends_Cy_Bot"):
        (ted / "transcripts" / "A" / f"{name}.md").write_text(TRANSCRIPT, encoding="utf-8")
    librivox = root / "speech" / "librivox"
    write_tone(librivox / "sense_and_sensibility_01_austen_64kb-0870.wav", seconds=1.5)
    return root


def test_load_and_select_are_deterministic(shared: Path) -> None:
    talks = load_ted(shared)
    assert [t.id for t in talks] == ["ted-0", "ted-1", "ted-2"]  # the unpaired row is left out
    assert talks[0].url == "https://www.ted.com/talks/funny_pasta"
    assert talks[0].tags == ("food", "humor")
    chosen, synth = select_talks(talks, 5, 1)
    assert [t.id for t in synth] == ["ted-0"]  # the food talk is spoken
    assert [t.id for t in chosen] == ["ted-1"]  # exact matches only, synthesised one excluded
    assert select_talks(talks, 5, 1) == (chosen, synth)


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("ffmpeg") is None,
    reason="espeak-ng and ffmpeg are needed to synthesise the demo clip",
)
def test_build_writes_manifest_and_clip_idempotently(shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "data" / "demo"
    manifest = build_demo_library(shared, out, talks=5, synthetic=1)
    assert manifest == out / "manifest.jsonl"
    result = read_manifest(manifest)
    assert result.failures == []
    by_id = {r.id: r for r in result.rows}
    assert set(by_id) == {"ted-0", "ted-1", "librivox-0870"}

    talk = by_id["ted-1"]
    assert talk.title == "Looking up" and talk.speaker == "Bo Star"
    assert talk.tags == ("space", "science") and talk.duration == 900
    assert talk.published is not None and talk.published.isoformat() == "2011-02-06"
    assert talk.transcript_path == str(shared / "ted/transcripts/A/Looking_up_Bo_Star.md")
    assert talk.media_path is None and not talk.synthetic_audio

    spoken = by_id["ted-0"]
    assert spoken.synthetic_audio and spoken.transcript_path is None
    assert spoken.description.startswith(SYNTHETIC_NOTE)
    assert spoken.media_path is not None
    clip = Path(spoken.media_path)
    assert clip.parent == out / "media" and clip.suffix == ".mp4"
    info = probe(clip)
    assert info.has_audio and info.has_video
    assert spoken.duration == pytest.approx(info.duration, abs=0.05)
    assert "Laughter" not in clip.with_suffix(".txt").read_text()
    assert "pasta was already on the ceiling" in clip.with_suffix(".txt").read_text()

    audio = by_id["librivox-0870"]
    assert audio.title == "Sense and Sensibility, read excerpt 0870"
    # copied into the data dir: the app plays local files only from the library's own folders
    source = shared / "speech/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
    assert audio.media_path == str(out / "media" / "librivox" / source.name)
    assert Path(audio.media_path).read_bytes() == source.read_bytes()

    # Everything written lies under out_dir; a second build reuses the clip and the manifest.
    written = {p for p in out.rglob("*") if p.is_file()}
    stamps = {p: p.stat().st_mtime_ns for p in written}
    assert build_demo_library(shared, out, talks=5, synthetic=1) == manifest
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps

    full = read_manifest(build_demo_library(shared, out, synthetic=1, full=True))
    assert {r.id for r in full.rows} == {"ted-0", "ted-1", "ted-2", "librivox-0870"}


def test_missing_ted_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"ted_main\.csv"):
        build_demo_library(tmp_path, tmp_path / "out", talks=1, synthetic=0)

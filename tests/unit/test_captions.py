"""Caption parsing (.srt via srt, .vtt via webvtt-py): timing, cleanup, and errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.captions import parse_captions
from retrieval.errors import MediaError

SRT = """1
00:00:01,000 --> 00:00:03,500
<i>Welcome</i> to the
{\\an8}cooking show.

2
00:00:04,000 --> 00:00:06,250
Today: pasta!

3
00:01:02,100 --> 00:01:05,000
Done in ten minutes.
"""

VTT = """WEBVTT - a show

NOTE made by hand

intro
00:01.000 --> 00:02.500 align:start
<v Chef>Hello <b>there</b>

00:00:03.000 --> 00:00:04.000
rolling line

00:00:04.000 --> 00:00:05.000
rolling line

01:00:00.000 --> 01:00:01.500
one hour in
"""


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_srt_segments_times_and_markup(tmp_path: Path) -> None:
    transcript = parse_captions(_write(tmp_path, "show.srt", SRT))
    assert transcript.source == "captions"
    assert [(s.start, s.end) for s in transcript.segments] == [
        (1.0, 3.5),
        (4.0, 6.25),
        (62.1, 65.0),
    ]
    assert transcript.segments[0].text == "Welcome to the cooking show."
    assert transcript.text == "Welcome to the cooking show. Today: pasta! Done in ten minutes."


def test_vtt_segments_voice_tags_short_timestamps_and_rollup(tmp_path: Path) -> None:
    transcript = parse_captions(_write(tmp_path, "show.vtt", VTT))
    assert transcript.source == "captions"
    assert [s.text for s in transcript.segments] == ["Hello there", "rolling line", "one hour in"]
    assert transcript.segments[0].start == 1.0 and transcript.segments[0].end == 2.5
    assert (transcript.segments[1].start, transcript.segments[1].end) == (3.0, 5.0)  # merged
    assert transcript.segments[2].start == 3600.0


def test_cues_out_of_order_are_sorted(tmp_path: Path) -> None:
    text = "1\n00:00:05,000 --> 00:00:06,000\nsecond\n\n2\n00:00:01,000 --> 00:00:02,000\nfirst\n"
    transcript = parse_captions(_write(tmp_path, "order.srt", text))
    assert [s.text for s in transcript.segments] == ["first", "second"]


def test_uppercase_suffix_and_bom(tmp_path: Path) -> None:
    path = _write(tmp_path, "SHOW.SRT", "\ufeff" + SRT)
    assert len(parse_captions(path).segments) == 3


def test_malformed_srt_names_file_and_line(tmp_path: Path) -> None:
    bad = SRT.replace("00:00:04,000 --> 00:00:06,250", "00:00:0x,000 --> 00:00:06,250")
    with pytest.raises(MediaError) as info:
        parse_captions(_write(tmp_path, "broken.srt", bad))
    message = str(info.value)
    assert "broken.srt" in message
    assert "line 6" in message  # the block starting with "2"
    assert "00:00:0x" in message


def test_malformed_vtt_timestamp_names_line(tmp_path: Path) -> None:
    bad = VTT.replace("00:00:03.000 --> 00:00:04.000", "00:00:03.000 --> 00:0x:04.000")
    with pytest.raises(MediaError) as info:
        parse_captions(_write(tmp_path, "broken.vtt", bad))
    assert "broken.vtt" in str(info.value)
    assert "line 9" in str(info.value)


def test_vtt_bad_cue_setting_names_line(tmp_path: Path) -> None:
    bad = VTT.replace("align:start", "align:sideways")
    with pytest.raises(MediaError, match=r"line 6"):
        parse_captions(_write(tmp_path, "setting.vtt", bad))


def test_vtt_without_header(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as info:
        parse_captions(_write(tmp_path, "noheader.vtt", VTT.split("\n", 1)[1].lstrip()))
    assert "noheader.vtt" in str(info.value) and "WEBVTT" in str(info.value)
    assert "line 1" in str(info.value)


def test_srt_that_is_not_srt(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"notes\.srt at line 1"):
        parse_captions(_write(tmp_path, "notes.srt", "just some notes\nabout a video\n"))


@pytest.mark.parametrize("name", ["empty.srt", "empty.vtt"])
def test_empty_caption_file(tmp_path: Path, name: str) -> None:
    text = "" if name.endswith(".srt") else "WEBVTT\n\n"
    with pytest.raises(MediaError, match="no cues"):
        parse_captions(_write(tmp_path, name, text))


def test_not_utf8(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "latin.srt", "1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n".encode("latin-1")
    )
    with pytest.raises(MediaError, match=r"not UTF-8 text \(line 3\)"):
        parse_captions(path)


def test_wrong_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"\.srt or \.vtt"):
        parse_captions(_write(tmp_path, "show.txt", SRT))
    with pytest.raises(MediaError, match="does not exist"):
        parse_captions(tmp_path / "missing.vtt")

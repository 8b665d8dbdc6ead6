"""Transcripts without timestamps (TED Markdown): cleanup, sentences, estimated times."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import InvalidInputError
from retrieval.transcripts import (
    CHARS_PER_SECOND,
    MAX_WORDS,
    clean_transcript_text,
    read_transcript,
)

# The shape of a real file in ted/transcripts/cleaned_ted_data: caption-sized lines, HTML entities,
# stage directions on their own line and inline, credit lines, a stray Markdown heading.
TED = """
Translator: Joseph Geni
Reviewer: Morton Bast

Thank you so much, Chris.
And it&#39;s truly a great honor
to have the opportunity
to come to this stage twice;
I&#39;m extremely grateful.
And I say that sincerely,
partly because (Mock sob)
I need that.

(Laughter)

Schools (rather than parents) teach &quot;creativity&quot; &amp; more.

(Applause)

(Music: &quot;Teardrop&quot;)

# WheresNatasha.
"""


def _write(tmp_path: Path, text: str, name: str = "Talk_Speaker.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_cleanup_drops_stage_directions_and_credits_keeps_speech() -> None:
    text = clean_transcript_text(TED)
    assert "Laughter" not in text and "Applause" not in text and "Mock sob" not in text
    assert "Teardrop" not in text and "Translator" not in text and "Reviewer" not in text
    assert "it's truly" in text and "I'm extremely" in text
    assert '"creativity" & more' in text
    assert "(rather than parents)" in text  # a spoken aside, not a stage direction
    assert "WheresNatasha." in text and "#" not in text


def test_sentences_with_estimated_times(tmp_path: Path) -> None:
    transcript = read_transcript(_write(tmp_path, TED))
    assert transcript.source == "transcript"
    texts = [s.text for s in transcript.segments]
    assert texts[0] == "Thank you so much, Chris."
    assert texts[1].startswith("And it's truly a great honor") and texts[1].endswith("grateful.")
    assert "partly because I need that." in texts[2]
    # Proportional to characters: contiguous, increasing, at the corpus speaking rate.
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts) and starts[0] == 0.0
    for seg in transcript.segments:
        assert seg.end - seg.start == pytest.approx(len(seg.text) / CHARS_PER_SECOND, abs=0.01)
    assert transcript.duration == transcript.segments[-1].end


def test_times_scale_to_a_known_duration(tmp_path: Path) -> None:
    transcript = read_transcript(_write(tmp_path, TED), duration=600.0)
    assert transcript.duration == 600.0
    assert transcript.segments[-1].end == pytest.approx(600.0)
    lengths = [len(s.text) for s in transcript.segments]
    spans = [s.end - s.start for s in transcript.segments]
    ratio = [span / n for span, n in zip(spans, lengths, strict=True)]
    assert max(ratio) == pytest.approx(min(ratio), rel=0.01)


def test_unpunctuated_text_is_cut_into_short_pieces(tmp_path: Path) -> None:
    words = [f"word{i}" for i in range(300)]
    lines = "\n".join(" ".join(words[i : i + 7]) for i in range(0, 300, 7))
    transcript = read_transcript(_write(tmp_path, lines))
    assert all(len(s.text.split()) <= MAX_WORDS for s in transcript.segments)
    assert transcript.text.split() == words  # nothing lost, order kept


@pytest.mark.parametrize("text", ["", "\n(Applause)\n\n(Laughter)\n"])
def test_no_spoken_text_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"Talk_Speaker\.md has no spoken text"):
        read_transcript(_write(tmp_path, text))


def test_missing_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_transcript(tmp_path / "absent.md")
    path = tmp_path / "latin.md"
    path.write_bytes("Hello.\nCaf\xe9 talk.\n".encode("latin-1"))
    with pytest.raises(InvalidInputError, match=r"line 2"):
        read_transcript(path)

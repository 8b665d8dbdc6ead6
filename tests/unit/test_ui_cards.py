"""Recommendation cards: what a person sees, escaped, with safe links."""

from __future__ import annotations

from datetime import date

from agent.types import Recommendation
from retrieval.types import Video
from ui.cards import format_duration, picks_markdown, play_href, render_card, render_cards


def _rec(video: Video, start: float = 75.0, rank: int = 1) -> Recommendation:
    return Recommendation(
        video=video,
        score=0.9,
        reason="It answers your question about oceans.",
        evidence_quote="The ocean covers seventy percent of the planet.",
        evidence_start=start,
        evidence_end=start + 30,
        evidence_chunk_id=f"{video.id}:3",
        rank=rank,
    )


def test_card_shows_title_duration_reason_quote_and_play_link() -> None:
    video = Video(
        id="v1",
        title="Deep Sea Wonders",
        duration=754.0,
        url="https://www.ted.com/talks/deep_sea",
        speaker="Edith Widder",
        published=date(2011, 3, 1),
    )
    html = render_card(_rec(video))
    assert "Deep Sea Wonders" in html
    assert "12:34" in html  # duration
    assert "Edith Widder" in html and "2011" in html
    assert "It answers your question about oceans." in html
    assert "seventy percent" in html
    assert "play at 1:15" in html
    assert 'href="https://www.ted.com/talks/deep_sea?t=75"' in html
    assert "synthetic audio" not in html
    assert "<img" not in html  # no thumbnail: the placeholder initial
    assert '<span aria-hidden="true">D</span>' in html


def test_synthetic_audio_badge_is_visible() -> None:
    video = Video(id="v2", title="Spoken by espeak", synthetic_audio=True)
    assert "synthetic audio" in render_card(_rec(video))


def test_library_text_is_escaped_and_unsafe_urls_are_not_links() -> None:
    video = Video(
        id="v3",
        title='<script>alert("x")</script> & friends',
        url="javascript:alert(1)",
        thumbnail="javascript:alert(2)",
    )
    html = render_card(_rec(video))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "&amp; friends" in html
    assert "javascript:" not in html
    assert "<a " not in html  # neither url nor media: no link at all
    assert "play at 1:15" in html


def test_local_media_plays_through_the_app_route_at_the_offset() -> None:
    video = Video(id="talk/1 x", title="Local", media_path="/srv/videos/local.mp4")
    rec = _rec(video, start=3725.4)
    assert play_href(rec) == "/vidrec/media/talk%2F1%20x#t=3725"
    assert "play at 1:02:05" in render_card(rec)


def test_web_thumbnail_and_local_thumbnail() -> None:
    web = render_card(_rec(Video(id="a", title="A", thumbnail="https://img.example/a.jpg")))
    assert '<img src="https://img.example/a.jpg"' in web
    local = render_card(_rec(Video(id="b", title="B", thumbnail="/data/thumbs/b.jpg")))
    assert '<img src="/vidrec/thumbnail/b"' in local


def test_feedback_note_and_lists() -> None:
    rec = _rec(Video(id="a", title="A [draft]", url="https://x.example/a"))
    assert "You liked this" in render_card(rec, feedback="like")
    assert "No recommendations" in render_cards([])
    md = picks_markdown([rec])
    assert md == "1. **A (draft)** ([at 1:15](https://x.example/a?t=75))"


def test_format_duration() -> None:
    assert format_duration(None) == "length unknown"
    assert format_duration(59.6) == "1:00"
    assert format_duration(3725) == "1:02:05"

"""HTML for recommendation cards.

Everything that comes from the library (titles, reasons, quotes, urls) is escaped here: a title or
a manifest url is data, never markup. Links are only emitted for ``http(s)`` urls and for the
app's own media route, so a ``javascript:`` url in a manifest cannot become a clickable script.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from urllib.parse import quote, urlparse

from agent.types import Recommendation
from retrieval.types import Video

#: Route (mounted by ``ui.app.create_server``) that streams a library video's local media file.
MEDIA_ROUTE = "/vidrec/media"
#: Route that serves a library video's local thumbnail file.
THUMB_ROUTE = "/vidrec/thumbnail"

FEEDBACK_LABELS = {
    "like": "You liked this",
    "dislike": "You disliked this",
    "watched": "Marked as watched",
}

CARD_CSS = """
.vr-card { display: flex; gap: 14px; padding: 12px; border: 1px solid var(--border-color-primary);
  border-radius: 10px; background: var(--background-fill-primary); }
.vr-thumb { flex: 0 0 128px; height: 72px; border-radius: 6px; overflow: hidden;
  background: linear-gradient(135deg, #4f46e5, #0ea5e9); display: flex; align-items: center;
  justify-content: center; color: #fff; font-size: 28px; font-weight: 600; }
.vr-thumb img { width: 100%; height: 100%; object-fit: cover; }
.vr-body { flex: 1; min-width: 0; }
.vr-title { font-size: 1.05em; font-weight: 600; margin: 0 0 2px 0; }
.vr-meta { color: var(--body-text-color-subdued); font-size: 0.85em; margin-bottom: 6px; }
.vr-reason { margin: 4px 0; }
.vr-quote { margin: 6px 0; padding: 4px 10px; border-left: 3px solid #0ea5e9;
  color: var(--body-text-color-subdued); font-style: italic; }
.vr-play { font-weight: 600; }
.vr-badge { display: inline-block; margin-left: 6px; padding: 1px 7px; border-radius: 9px;
  background: #fef3c7; color: #92400e; font-size: 0.75em; font-weight: 600; vertical-align: middle; }
.vr-fb { display: inline-block; margin-left: 8px; color: #047857; font-size: 0.85em; }
.vr-empty { color: var(--body-text-color-subdued); padding: 8px 2px; }
"""


def format_duration(seconds: float | None) -> str:
    """``754.2`` -> ``"12:34"``, ``3725`` -> ``"1:02:05"``, ``None`` -> ``"length unknown"``."""
    if seconds is None or seconds < 0:
        return "length unknown"
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _is_web_url(value: str) -> bool:
    parsed = urlparse(value)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def play_href(rec: Recommendation) -> str | None:
    """Where "play at mm:ss" points.

    The source url at the evidence offset (``Recommendation.play_url``) when the video has a web
    url; otherwise the app's media route for the local file, with a ``#t=`` media fragment that
    browsers honour when they open the file. ``None`` when the video has neither.
    """
    url = rec.video.url
    if url and _is_web_url(url):
        return rec.play_url
    if rec.video.media_path:
        return f"{MEDIA_ROUTE}/{quote(rec.video.id, safe='')}#t={int(rec.evidence_start)}"
    return None


def thumbnail_src(video: Video) -> str | None:
    thumb = video.thumbnail
    if not thumb:
        return None
    if _is_web_url(thumb):
        return thumb
    return f"{THUMB_ROUTE}/{quote(video.id, safe='')}"


def render_card(rec: Recommendation, feedback: str | None = None) -> str:
    """One recommendation as an HTML card (all library text escaped).

    Args:
        rec: the pick to show.
        feedback: the feedback the user gave on this card in this session (``like``,
            ``dislike``, ``watched``), shown as a small note.
    """
    video = rec.video
    esc = html.escape
    src = thumbnail_src(video)
    if src:
        thumb = f'<img src="{esc(src)}" alt="" loading="lazy">'
    else:
        initial = (video.title.strip()[:1] or "?").upper()
        thumb = f'<span aria-hidden="true">{esc(initial)}</span>'

    meta = [format_duration(video.duration)]
    if video.speaker:
        meta.append(video.speaker)
    if video.published:
        meta.append(str(video.published.year))
    badge = ""
    if video.synthetic_audio:
        badge = (
            '<span class="vr-badge" title="The audio track was synthesised from the transcript '
            '(espeak-ng); it is not a recording of the speaker.">synthetic audio</span>'
        )
    fb = ""
    if feedback in FEEDBACK_LABELS:
        fb = f'<span class="vr-fb">✓ {esc(FEEDBACK_LABELS[feedback])}</span>'

    href = play_href(rec)
    play_text = f"▶ play at {esc(rec.timestamp)}"
    if href:
        play = (
            f'<a class="vr-play" href="{esc(href)}" target="_blank" rel="noopener noreferrer">'
            f"{play_text}</a>"
        )
    else:
        play = (
            f'<span class="vr-play" title="no url or media file for this video">{play_text}</span>'
        )
    quote_html = (
        f'<blockquote class="vr-quote">“{esc(rec.evidence_quote.strip())}”</blockquote>'
        if rec.evidence_quote.strip()
        else ""
    )
    return (
        f'<div class="vr-card" data-video-id="{esc(video.id)}">'
        f'<div class="vr-thumb">{thumb}</div>'
        '<div class="vr-body">'
        f'<div class="vr-title">{rec.rank}. {esc(video.title)}{badge}{fb}</div>'
        f'<div class="vr-meta">{esc(" · ".join(meta))}</div>'
        f'<div class="vr-reason">{esc(rec.reason)}</div>'
        f"{quote_html}"
        f"<div>{play}</div>"
        "</div></div>"
    )


def render_cards(recs: Sequence[Recommendation]) -> str:
    """All cards of one answer in one block (used where per-card buttons are not needed)."""
    if not recs:
        return '<div class="vr-empty">No recommendations yet.</div>'
    return "\n".join(render_card(r) for r in recs)


def picks_markdown(recs: Sequence[Recommendation]) -> str:
    """A compact list of the picks for the chat transcript (kept when the cards change)."""
    lines = []
    for rec in recs:
        title = rec.video.title.replace("[", "(").replace("]", ")")
        href = play_href(rec)
        at = f"[at {rec.timestamp}]({href})" if href else f"at {rec.timestamp}"
        lines.append(f"{rec.rank}. **{title}** ({at})")
    return "\n".join(lines)

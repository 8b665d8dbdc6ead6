"""Library media for clients: links by video id only, and the files behind them.

Answers never carry a server path. A video's local media file becomes ``/v1/videos/{id}/media``
(its thumbnail ``/v1/videos/{id}/thumbnail``), a route that needs an API key; a web link is kept
only when it is ``http(s)`` (``javascript:``, ``file:`` and the like are dropped). Behind the route,
a file is served only when it is a regular file inside the library's own folders: the data
directory (uploads, the demo), ``api.ingest_roots`` and ``api.media_roots``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote

from retrieval.errors import InvalidInputError, NotFoundError
from retrieval.paths import checked_file, is_web_url, resolve_roots
from retrieval.types import Video

MediaKind = Literal["media", "thumbnail"]
_ATTR: dict[str, str] = {"media": "media_path", "thumbnail": "thumbnail"}


class _MediaSettings(Protocol):
    data_dir: Path

    @property
    def api(self) -> _ApiRoots: ...


class _ApiRoots(Protocol):
    ingest_roots: list[str]
    media_roots: list[str]


class _Videos(Protocol):
    def get_video(self, video_id: str) -> Video | None: ...


def media_roots(settings: _MediaSettings) -> tuple[Path, ...]:
    """The library's own folders: local files outside them are never served."""
    roots = resolve_roots(
        [settings.data_dir, *settings.api.ingest_roots, *settings.api.media_roots]
    )
    return roots or ()


def media_route(video_id: str, kind: MediaKind) -> str:
    return f"/v1/videos/{quote(video_id, safe='')}/{kind}"


def library_file(library: _Videos, video_id: str, kind: MediaKind, roots: tuple[Path, ...]) -> Path:
    """The local media file or thumbnail of a library video, if it may be served.

    Raises:
        NotFoundError: no such video, no local file of that kind, or a file outside ``roots``
            (the message never names the server path).
    """
    video = library.get_video(video_id)
    value = getattr(video, _ATTR[kind], None) if video is not None else None
    missing = NotFoundError(
        f"No {kind} file to serve for video {video_id!r}",
        hint="Its web link (url) may play it; files are served only from the library's folders",
    )
    if not value or is_web_url(str(value)):
        raise missing
    try:
        return checked_file(str(value), kind, roots=roots)
    except InvalidInputError:
        raise missing from None


@dataclass(frozen=True)
class PublicLinks:
    """What an answer may show of a video's whereabouts."""

    url: str | None
    play_url: str | None
    thumbnail: str | None


def public_links(video: Video, start: float) -> PublicLinks:
    """Web links (http(s) only) and the media routes, with the play position ``start`` seconds."""
    t = int(start)
    url = video.url if video.url and is_web_url(video.url) else None
    play: str | None = None
    if url:
        play = f"{url}{'&' if '?' in url else '?'}t={t}"
    elif video.media_path and not is_web_url(video.media_path):
        play = f"{media_route(video.id, 'media')}#t={t}"
    thumb = video.thumbnail
    thumbnail = None
    if thumb:
        thumbnail = thumb if is_web_url(thumb) else media_route(video.id, "thumbnail")
    return PublicLinks(url=url, play_url=play, thumbnail=thumbnail)

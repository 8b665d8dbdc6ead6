"""Discovery: CLI paths, folders and manifest rows turned into ``IngestItem``s, before anything is
read (a media file and its same-stem sidecar captions are one video; unreadable inputs are failures
of their own)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import InvalidInputError, VidrecError, one_line
from retrieval.ingest_stages import IngestItem
from retrieval.paths import checked_file, resolve_roots
from retrieval.settings import IngestSettings
from retrieval.types import IngestFailure, Video

log = logging.getLogger(__name__)


@dataclass
class Discovery:
    items: list[IngestItem] = field(default_factory=list)
    failures: list[IngestFailure] = field(default_factory=list)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return slug or "video"


def _title_from_stem(stem: str) -> str:
    return re.sub(r"[_\s]+", " ", stem).strip() or stem


# --- discovery ----------------------------------------------------------------------------------
def _sidecar(
    media: Path, settings: IngestSettings, roots: Sequence[Path] | None = None
) -> Path | None:
    """Captions beside ``media`` with the same stem (``talk.mp4`` -> ``talk.srt``/``talk.vtt``)."""
    for ext in settings.caption_extensions:
        candidate = media.with_suffix(ext)
        if candidate.is_file():
            try:
                return checked_file(candidate, "captions", roots=roots)
            except InvalidInputError as exc:
                log.warning("sidecar captions skipped: %s", exc)
    return None


def discover(
    paths: Sequence[str | Path],
    manifest: str | Path | None,
    settings: IngestSettings,
    *,
    roots: Sequence[str | Path] | None = None,
) -> Discovery:
    """Turn CLI paths and a manifest into ``IngestItem``s (and failures for what cannot be read).

    With ``roots`` (inputs from outside), every file must resolve under one of them (see
    ``retrieval.paths``); a file that does not is a failure of its own.
    """
    out = Discovery()
    seen_media: set[Path] = set()
    taken: set[str] = set()
    allowed = resolve_roots(roots)
    if manifest is not None:
        from retrieval.manifest import read_manifest

        try:
            result = read_manifest(manifest, roots=allowed)
        except VidrecError as exc:
            out.failures.append(IngestFailure(str(manifest), one_line(exc)))
            result = None
        if result is not None:
            out.failures.extend(result.failures)
            for row in result.rows:
                origin = f"{manifest} (id {row.id})"
                if row.id in taken:
                    out.failures.append(
                        IngestFailure(
                            origin,
                            f"Duplicate video id {row.id!r} in the manifest; give every row a unique id.",
                        )
                    )
                    continue
                taken.add(row.id)
                media = Path(row.media_path) if row.media_path else None
                captions = Path(row.captions_path) if row.captions_path else None
                transcript = Path(row.transcript_path) if row.transcript_path else None
                if media is not None:
                    seen_media.add(media.resolve())
                    if captions is None and transcript is None:
                        captions = _sidecar(media, settings, allowed)
                out.items.append(
                    IngestItem(
                        video_id=row.id,
                        origin=origin,
                        video=row.to_video(),
                        media_path=media,
                        captions_path=captions,
                        transcript_path=transcript,
                    )
                )
    media_ext = {e.lower() for e in settings.media_extensions}
    caption_ext = {e.lower() for e in settings.caption_extensions}
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            candidates = [
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
                and p.suffix.lower() in media_ext | caption_ext
            ]
        elif path.exists() or path.is_symlink():
            candidates = [path]
        else:
            out.failures.append(
                IngestFailure(
                    str(path),
                    "No such file or folder; check the path (ingest takes media files or folders).",
                )
            )
            continue
        for candidate in candidates:
            try:
                checked_file(candidate, "input", roots=allowed)
            except InvalidInputError as exc:
                out.failures.append(IngestFailure(str(candidate), one_line(exc)))
                continue
            files.append(candidate)
    # Group by (folder, stem): a media file and its sidecar captions are one video.
    groups: dict[tuple[Path, str], dict[str, Path]] = {}
    for f in files:
        resolved = f.resolve()
        if resolved in seen_media:
            continue  # already described by a manifest row
        key = (resolved.parent, resolved.stem)
        kind = "captions" if f.suffix.lower() in caption_ext else "media"
        group = groups.setdefault(key, {})
        if kind == "media" and "media" in group and group["media"] != resolved:
            key = (resolved.parent, resolved.name)  # same stem, two containers: keep both
            group = groups.setdefault(key, {})
        group.setdefault(kind, resolved)
    for group in groups.values():
        media = group.get("media")
        captions = group.get("captions")
        if media is not None and captions is None:
            captions = _sidecar(media, settings, allowed)
        anchor = media or captions
        assert anchor is not None
        video_id = slugify(anchor.stem)
        if video_id in taken:
            video_id = f"{video_id}-{hashlib.sha1(str(anchor).encode()).hexdigest()[:6]}"
        taken.add(video_id)
        out.items.append(
            IngestItem(
                video_id=video_id,
                origin=str(anchor),
                video=Video(
                    id=video_id,
                    title=_title_from_stem(anchor.stem),
                    media_path=str(media) if media else None,
                ),
                media_path=media,
                captions_path=captions,
            )
        )
    return out

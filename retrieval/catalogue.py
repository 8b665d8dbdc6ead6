"""The SQL catalogue: videos, their chunks, and per-video source hashes with ingest state.

SQLAlchemy 2.0 over any URL: a SQLite file in the data dir by default, PostgreSQL for shared
deployments. The tables' schema is the Alembic history in ``retrieval/migrations`` (``SCHEMA``):
opening a catalogue brings it to the newest migration; a schema change is a new migration there.

Write protocol (what makes ingest resumable): a video's source row is set ``pending`` with its new
content hash *before* the vector store is touched, and flipped to ``done`` in the same transaction
that replaces the video row and its chunks. Every change bumps ``version``, which tells the lexical
index when to rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from retrieval.sqldb import Schema, make_engine, upgrade
from retrieval.types import Chunk, SearchFilters, Video

log = logging.getLogger(__name__)

SourceStatus = Literal["pending", "done"]


class Base(DeclarativeBase):
    pass


class VideoRow(Base):
    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    published: Mapped[date | None] = mapped_column(Date, nullable=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    language: Mapped[str | None] = mapped_column(String(32), nullable=True)
    media_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    thumbnail: Mapped[str | None] = mapped_column(Text, nullable=True)
    speaker: Mapped[str | None] = mapped_column(Text, nullable=True)
    synthetic_audio: Mapped[bool] = mapped_column(Boolean, default=False)
    transcript_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    extra: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChunkRow(Base):
    __tablename__ = "chunks"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    video_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("videos.id", ondelete="CASCADE"), index=True
    )
    idx: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)


class SourceRow(Base):
    __tablename__ = "sources"

    video_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(Text, default="")
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StateRow(Base):
    __tablename__ = "catalogue_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


SCHEMA = Schema("catalogue", Base.metadata, Path(__file__).resolve().parent / "migrations")


@dataclass(frozen=True)
class SourceState:
    """What the catalogue knows about a video's inputs: hash of what was indexed, and state."""

    video_id: str
    content_hash: str
    status: SourceStatus
    origin: str


def _now() -> datetime:
    return datetime.now(UTC)


def _to_video(row: Any) -> Video:
    """A ``Video`` from a ``VideoRow`` or a plain row of its columns."""
    tsource: Any = row.transcript_source
    return Video(
        id=row.id,
        title=row.title,
        description=row.description or "",
        tags=tuple(row.tags or ()),
        duration=row.duration,
        published=row.published,
        url=row.url,
        language=row.language,
        media_path=row.media_path,
        thumbnail=row.thumbnail,
        speaker=row.speaker,
        synthetic_audio=bool(row.synthetic_audio),
        transcript_source=tsource,
        extra=dict(row.extra or {}),
    )


def _to_chunk(row: Any) -> Chunk:
    return Chunk(
        id=row.id, video_id=row.video_id, index=row.idx, start=row.start, end=row.end, text=row.text
    )


def _video_values(video: Video) -> dict[str, Any]:
    return {
        "title": video.title,
        "description": video.description,
        "tags": list(video.tags),
        "duration": video.duration,
        "published": video.published,
        "url": video.url,
        "language": video.language,
        "media_path": video.media_path,
        "thumbnail": video.thumbnail,
        "speaker": video.speaker,
        "synthetic_audio": video.synthetic_audio,
        "transcript_source": video.transcript_source,
        "extra": dict(video.extra),
        "updated": _now(),
    }


class Catalogue:
    """Videos, chunks and source hashes in SQL. Thread-safe per call (one session each)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        upgrade(self.engine, SCHEMA)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # --- state --------------------------------------------------------------------------------
    def version(self) -> int:
        """Bumped by every change to videos or chunks."""
        with self._session() as session:
            row = session.get(StateRow, "version")
            return row.value if row is not None else 0

    @staticmethod
    def _bump(session: Session) -> None:
        session.execute(
            update(StateRow).where(StateRow.key == "version").values(value=StateRow.value + 1)
        )

    def sources(self) -> dict[str, SourceState]:
        with self._session() as session:
            rows = session.scalars(select(SourceRow)).all()
            return {
                r.video_id: SourceState(r.video_id, r.content_hash, _status(r.status), r.origin)
                for r in rows
            }

    def source(self, video_id: str) -> SourceState | None:
        with self._session() as session:
            r = session.get(SourceRow, video_id)
            if r is None:
                return None
            return SourceState(r.video_id, r.content_hash, _status(r.status), r.origin)

    def mark_pending(self, video_id: str, content_hash: str, origin: str) -> None:
        """Record that ``video_id`` is being (re)written; committed before any store is touched."""
        self.mark_pending_many([(video_id, content_hash, origin)])

    def mark_pending_many(self, sources: Sequence[tuple[str, str, str]]) -> None:
        """:meth:`mark_pending` for each ``(video_id, content_hash, origin)``, one transaction."""
        with self._session.begin() as session:
            for video_id, content_hash, origin in sources:
                row = session.get(SourceRow, video_id)
                if row is None:
                    row = SourceRow(video_id=video_id)
                    session.add(row)
                row.content_hash, row.status, row.origin = content_hash, "pending", origin
                row.updated = _now()

    # --- writes -------------------------------------------------------------------------------
    def commit_video(self, video: Video, chunks: Sequence[Chunk], content_hash: str) -> None:
        """Replace ``video`` and its chunks and mark its source done, in one transaction."""
        self.commit_videos([(video, chunks, content_hash)])

    def commit_videos(self, videos: Sequence[tuple[Video, Sequence[Chunk], str]]) -> None:
        """:meth:`commit_video` for each ``(video, chunks, content_hash)`` in one transaction
        and one catalogue version (an ingest writes a flush of videos at once)."""
        with self._session.begin() as session:
            for video, chunks, content_hash in videos:
                session.execute(delete(ChunkRow).where(ChunkRow.video_id == video.id))
                row = session.get(VideoRow, video.id)
                values = _video_values(video)
                if row is None:
                    session.add(VideoRow(id=video.id, **values))
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
                session.flush()
                session.add_all(
                    ChunkRow(
                        id=c.id,
                        video_id=video.id,
                        idx=c.index,
                        start=c.start,
                        end=c.end,
                        text=c.text,
                    )
                    for c in chunks
                )
                src = session.get(SourceRow, video.id)
                if src is None:
                    src = SourceRow(video_id=video.id, origin="")
                    session.add(src)
                src.content_hash, src.status, src.updated = content_hash, "done", _now()
            self._bump(session)

    def delete_video(self, video_id: str) -> bool:
        """Delete a video, its chunks and its source row; True if anything was there."""
        with self._session.begin() as session:
            n_chunks = session.execute(delete(ChunkRow).where(ChunkRow.video_id == video_id))
            n_videos = session.execute(delete(VideoRow).where(VideoRow.id == video_id))
            n_sources = session.execute(delete(SourceRow).where(SourceRow.video_id == video_id))
            found = any(_rowcount(r) > 0 for r in (n_chunks, n_videos, n_sources))
            if found:
                self._bump(session)
            return found

    # --- reads --------------------------------------------------------------------------------
    def get_video(self, video_id: str) -> Video | None:
        with self._session() as session:
            row = session.get(VideoRow, video_id)
            return _to_video(row) if row is not None else None

    def videos(self) -> list[Video]:
        with self._session() as session:
            return [_to_video(r) for r in session.scalars(select(VideoRow).order_by(VideoRow.id))]

    def videos_by_ids(self, video_ids: Iterable[str]) -> dict[str, Video]:
        return {r.id: _to_video(r) for r in self._rows_in(VideoRow, "id", video_ids)}

    def _rows_in(self, table: Any, key: str, values: Iterable[str], *order: str) -> list[Any]:
        """Plain rows (not ORM objects: this runs on every search, and the ORM's identity map
        took about half of its time) of ``table`` whose ``key`` is one of ``values``, 500 values
        a query, each batch ordered by ``order``."""
        wanted = sorted(set(values))
        columns = table.__table__.c
        out: list[Any] = []
        with self._session() as session:
            for start in range(0, len(wanted), 500):
                stmt = select(*columns).where(columns[key].in_(wanted[start : start + 500]))
                out.extend(session.execute(stmt.order_by(*(columns[c] for c in order))))
        return out

    def video_count(self) -> int:
        with self._session() as session:
            return int(session.scalar(select(func.count()).select_from(VideoRow)) or 0)

    def chunk_counts(self) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(
                select(ChunkRow.video_id, func.count()).group_by(ChunkRow.video_id)
            ).all()
            return {vid: int(n) for vid, n in rows}

    def chunks(self, video_id: str) -> list[Chunk]:
        with self._session() as session:
            rows = session.scalars(
                select(ChunkRow).where(ChunkRow.video_id == video_id).order_by(ChunkRow.idx)
            )
            return [_to_chunk(r) for r in rows]

    def chunk(self, chunk_id: str) -> Chunk | None:
        with self._session() as session:
            row = session.get(ChunkRow, chunk_id)
            return _to_chunk(row) if row is not None else None

    def chunks_by_ids(self, chunk_ids: Iterable[str]) -> dict[str, Chunk]:
        return {r.id: _to_chunk(r) for r in self._rows_in(ChunkRow, "id", chunk_ids)}

    def chunks_of(self, video_ids: Iterable[str]) -> dict[str, list[Chunk]]:
        """Each of ``video_ids``' chunks in order (a video without any is left out), in one
        query per 500 videos instead of one per video."""
        out: dict[str, list[Chunk]] = {}
        for row in self._rows_in(ChunkRow, "video_id", video_ids, "video_id", "idx"):
            out.setdefault(row.video_id, []).append(_to_chunk(row))
        return out

    def all_chunks(self) -> tuple[int, list[tuple[str, str, str]]]:
        """``(version, [(chunk_id, video_id, text), ...])`` read in one transaction, by id."""
        with self._session() as session:
            row = session.get(StateRow, "version")
            version = row.value if row is not None else 0
            rows = session.execute(
                select(ChunkRow.id, ChunkRow.video_id, ChunkRow.text).order_by(ChunkRow.id)
            ).all()
            return version, [(cid, vid, text) for cid, vid, text in rows]

    def video_texts(self) -> tuple[int, list[tuple[Video, list[str]]]]:
        """``(version, [(video, its chunk texts in order), ...])`` read in one transaction."""
        with self._session() as session:
            row = session.get(StateRow, "version")
            version = row.value if row is not None else 0
            texts: dict[str, list[str]] = {}
            for vid, text in session.execute(
                select(ChunkRow.video_id, ChunkRow.text).order_by(ChunkRow.video_id, ChunkRow.idx)
            ):
                texts.setdefault(vid, []).append(text)
            videos = session.scalars(select(VideoRow).order_by(VideoRow.id))
            return version, [(_to_video(v), texts.get(v.id, [])) for v in videos]

    def matching_video_ids(self, filters: SearchFilters) -> set[str]:
        """Ids of videos passing every filter (the same rules the vector store applies)."""
        want_any = {t.lower() for t in filters.tags_any}
        want_none = {t.lower() for t in filters.tags_none}
        # the tags (JSON, decoded row by row) are read only when a tag filter needs them
        stmt = select(VideoRow.id, VideoRow.tags if want_any or want_none else literal(None))
        if filters.min_duration is not None:
            stmt = stmt.where(VideoRow.duration >= filters.min_duration)
        if filters.max_duration is not None:
            stmt = stmt.where(VideoRow.duration <= filters.max_duration)
        if filters.published_after is not None:
            stmt = stmt.where(VideoRow.published >= filters.published_after)
        if filters.published_before is not None:
            stmt = stmt.where(VideoRow.published <= filters.published_before)
        if filters.languages:
            langs = sorted({lang.lower() for lang in filters.languages})
            stmt = stmt.where(func.lower(VideoRow.language).in_(langs))
        if filters.exclude_ids:
            stmt = stmt.where(VideoRow.id.not_in(sorted(filters.exclude_ids)))
        out: set[str] = set()
        with self._session() as session:
            for vid, tags in session.execute(stmt):
                lowered = {str(t).lower() for t in tags or ()}
                if want_any and not lowered & want_any:
                    continue
                if lowered & want_none:
                    continue
                out.add(vid)
        return out


def _status(value: str) -> SourceStatus:
    return "done" if value == "done" else "pending"


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)

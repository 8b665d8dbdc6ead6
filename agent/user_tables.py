"""The SQL tables of users, their feedback events, their sessions and the sessions' turns.

Their schema is the Alembic history in ``agent/migrations`` (``SCHEMA``), applied when a
:class:`agent.users.UserStore` opens a database.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from retrieval.sqldb import Schema

__all__ = ["MAX_ID_LENGTH", "SCHEMA", "EventRow", "SessionRow", "TurnRow", "UserRow"]

MAX_ID_LENGTH = 200


class _Base(DeclarativeBase):
    pass


class UserRow(_Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EventRow(_Base):
    __tablename__ = "user_events"
    __table_args__ = (Index("ix_user_events_user_time", "user_id", "timestamp"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(
        String(MAX_ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    video_id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SessionRow(_Base):
    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(MAX_ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TurnRow(_Base):
    __tablename__ = "session_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("user_sessions.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int] = mapped_column(Integer)
    messages: Mapped[str] = mapped_column(Text)  # JSON list of {role, content}
    reply: Mapped[str] = mapped_column(Text)
    recommended: Mapped[str] = mapped_column(Text)  # JSON list of video ids, ranked
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


SCHEMA = Schema("users", _Base.metadata, Path(__file__).resolve().parent / "migrations")

"""Users, their feedback events, and their conversation sessions in the SQL store.

The tables live in the same database as the catalogue (``settings.sql_url``) but are their own:
``users``, ``user_events`` (watch with fraction, like, dislike, rating, impression), ``user_sessions``
and ``session_turns`` (the messages of each turn and the video ids recommended in it). Their schema
is the Alembic history in ``agent/migrations`` (``SCHEMA``), applied when a store opens a database.
``export`` returns everything held about one user; ``forget`` deletes all of it in one transaction.
The tables are defined in :mod:`agent.user_tables`, the checks on what is recorded in
:mod:`agent.feedback_input`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from agent.feedback_input import check_id, validate_feedback
from agent.types import FeedbackEvent, FeedbackKind, Message
from agent.user_tables import SCHEMA, EventRow, SessionRow, TurnRow, UserRow
from retrieval.errors import NotFoundError
from retrieval.sqldb import make_engine, upgrade

__all__ = ["SCHEMA", "EventRow", "Turn", "UserRow", "UserStore", "validate_feedback"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """One stored turn of a session: what was said and which videos were recommended."""

    session_id: str
    index: int
    messages: tuple[Message, ...]
    reply: str
    recommended: tuple[str, ...]
    created_at: datetime


def _latest_session(db: Session, user_id: str) -> SessionRow | None:
    return db.scalars(
        select(SessionRow)
        .where(SessionRow.user_id == user_id)
        .order_by(SessionRow.started_at.desc())
        .limit(1)
    ).first()


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class UserStore:
    """SQL-backed users, feedback events and sessions (thread-safe; one engine per store)."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self._engine = engine or make_engine(url)
        upgrade(self._engine, SCHEMA)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._lock = (
            threading.Lock()
        )  # SQLite allows one writer; keep writes in this process serial

    @property
    def engine(self) -> Engine:
        """The store's engine (same database, same pragmas), for bulk reads and maintenance."""
        return self._engine

    @property
    def write_lock(self) -> threading.Lock:
        """Held by every write of this store; bulk writers outside it take it too."""
        return self._lock

    def close(self) -> None:
        self._engine.dispose()

    # --- users ------------------------------------------------------------------------------
    def _ensure_user(self, db: Session, user_id: str) -> None:
        if db.get(UserRow, user_id) is None:
            db.add(UserRow(id=user_id, created_at=_utc(None)))
            db.flush()

    def users(self) -> list[str]:
        with self._sessions() as db:
            return list(db.scalars(select(UserRow.id).order_by(UserRow.id)))

    def exists(self, user_id: str) -> bool:
        with self._sessions() as db:
            return db.get(UserRow, user_id) is not None

    # --- events -----------------------------------------------------------------------------
    def record(
        self,
        user_id: str,
        video_id: str,
        kind: FeedbackKind,
        value: float | None = None,
        *,
        session_id: str | None = None,
        at: datetime | None = None,
    ) -> FeedbackEvent:
        """Validate and store one event; the user is created on first use."""
        (recorded,) = self.record_many(
            user_id, [(video_id, kind, value)], session_id=session_id, at=at
        )
        return recorded

    def record_many(
        self,
        user_id: str,
        items: Iterable[tuple[str, FeedbackKind, float | None]],
        *,
        session_id: str | None = None,
        at: datetime | None = None,
    ) -> list[FeedbackEvent]:
        """Store several events in one transaction (all or nothing)."""
        user_id = check_id("user id", user_id)
        when = _utc(at)
        rows = []
        for video_id, kind, value in items:
            rows.append(
                EventRow(
                    user_id=user_id,
                    video_id=check_id("video id", video_id, characters=False),
                    kind=kind,
                    value=validate_feedback(kind, value),
                    timestamp=when,
                    session_id=session_id,
                )
            )
        with self._lock, self._sessions.begin() as db:
            self._ensure_user(db, user_id)
            db.add_all(rows)
        return [self._event(r) for r in rows]

    @staticmethod
    def _event(row: EventRow) -> FeedbackEvent:
        return FeedbackEvent(
            user_id=row.user_id,
            video_id=row.video_id,
            kind=cast(FeedbackKind, row.kind),
            value=row.value,
            timestamp=_utc(row.timestamp),
            session_id=row.session_id,
        )

    def history(
        self, user_id: str, kinds: Sequence[FeedbackKind] | None = None
    ) -> list[FeedbackEvent]:
        """The user's events, oldest first (optionally only some kinds); [] for an unknown user."""
        query = select(EventRow).where(EventRow.user_id == user_id)
        if kinds:
            query = query.where(EventRow.kind.in_(list(kinds)))
        with self._sessions() as db:
            rows = db.scalars(query.order_by(EventRow.timestamp, EventRow.id)).all()
            return [self._event(r) for r in rows]

    # --- sessions ---------------------------------------------------------------------------
    def start_session(self, user_id: str) -> str:
        user_id = check_id("user id", user_id)
        session_id = uuid.uuid4().hex
        with self._lock, self._sessions.begin() as db:
            self._ensure_user(db, user_id)
            db.add(SessionRow(id=session_id, user_id=user_id, started_at=_utc(None)))
        return session_id

    def latest_session(self, user_id: str) -> str | None:
        with self._sessions() as db:
            row = _latest_session(db, user_id)
        return None if row is None else row.id

    def current_session(self, user_id: str, within: timedelta) -> str | None:
        """The user's latest session if its last turn (or its start) is less than ``within``
        ago: the conversation a like or a watch recorded now belongs to."""
        with self._sessions() as db:
            row = _latest_session(db, user_id)
            if row is None:
                return None
            last = db.scalars(
                select(TurnRow.created_at)
                .where(TurnRow.session_id == row.id)
                .order_by(TurnRow.created_at.desc())
                .limit(1)
            ).first()
        active = _utc(last or row.started_at)
        return row.id if _utc(None) - active < within else None

    def add_turn(
        self,
        session_id: str,
        messages: Sequence[Message],
        reply: str,
        recommended: Sequence[str],
    ) -> Turn:
        """Append a turn (the messages it answered, the reply, the ranked video ids)."""
        with self._lock, self._sessions.begin() as db:
            if db.get(SessionRow, session_id) is None:
                raise NotFoundError(
                    "No such session",
                    expected="a session id from start_session",
                    got=repr(session_id),
                )
            count = len(
                db.scalars(select(TurnRow.id).where(TurnRow.session_id == session_id)).all()
            )
            row = TurnRow(
                session_id=session_id,
                index=count,
                messages=json.dumps([{"role": m.role, "content": m.content} for m in messages]),
                reply=reply,
                recommended=json.dumps(list(recommended)),
                created_at=_utc(None),
            )
            db.add(row)
        return self._turn(row)

    @staticmethod
    def _turn(row: TurnRow) -> Turn:
        return Turn(
            session_id=row.session_id,
            index=row.index,
            messages=tuple(
                Message(role=m["role"], content=m["content"]) for m in json.loads(row.messages)
            ),
            reply=row.reply,
            recommended=tuple(json.loads(row.recommended)),
            created_at=_utc(row.created_at),
        )

    def turns(self, session_id: str) -> list[Turn]:
        with self._sessions() as db:
            rows = db.scalars(
                select(TurnRow).where(TurnRow.session_id == session_id).order_by(TurnRow.index)
            ).all()
            return [self._turn(r) for r in rows]

    def sessions(self, user_id: str) -> list[str]:
        with self._sessions() as db:
            return list(
                db.scalars(
                    select(SessionRow.id)
                    .where(SessionRow.user_id == user_id)
                    .order_by(SessionRow.started_at)
                )
            )

    # --- privacy ----------------------------------------------------------------------------
    def export(self, user_id: str) -> dict[str, object]:
        """Everything held about the user, as JSON-ready data."""
        with self._sessions() as db:
            user = db.get(UserRow, user_id)
            if user is None:
                raise NotFoundError(
                    "No such user",
                    expected="a user id that has feedback or conversations",
                    got=repr(user_id),
                    hint="List users with `vidrec users list`",
                )
            created = _utc(user.created_at).isoformat()
        sessions = []
        for session_id in self.sessions(user_id):
            sessions.append(
                {
                    "id": session_id,
                    "turns": [
                        {
                            "index": t.index,
                            "messages": [
                                {"role": m.role, "content": m.content} for m in t.messages
                            ],
                            "reply": t.reply,
                            "recommended": list(t.recommended),
                            "created_at": t.created_at.isoformat(),
                        }
                        for t in self.turns(session_id)
                    ],
                }
            )
        return {
            "user_id": user_id,
            "created_at": created,
            "events": [
                {
                    "video_id": e.video_id,
                    "kind": e.kind,
                    "value": e.value,
                    "timestamp": e.timestamp.isoformat(),
                    "session_id": e.session_id,
                }
                for e in self.history(user_id)
            ],
            "sessions": sessions,
        }

    def forget(self, user_id: str) -> bool:
        """Delete the user and everything held about them; False if nothing was held."""
        with self._lock, self._sessions.begin() as db:
            session_ids = list(
                db.scalars(select(SessionRow.id).where(SessionRow.user_id == user_id))
            )
            if session_ids:
                db.execute(delete(TurnRow).where(TurnRow.session_id.in_(session_ids)))
            db.execute(delete(SessionRow).where(SessionRow.user_id == user_id))
            events = db.execute(delete(EventRow).where(EventRow.user_id == user_id))
            users = db.execute(delete(UserRow).where(UserRow.id == user_id))
            found = bool(
                getattr(users, "rowcount", 0) or getattr(events, "rowcount", 0) or session_ids
            )
        log.info("forgot user %s (found=%s)", user_id, found)
        return found

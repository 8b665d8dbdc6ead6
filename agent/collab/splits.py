"""Held-out splits of the event log for tuning: each user's latest positive video
(:func:`leave_last_out`), each conversation session's latest liked video
(:func:`leave_last_in_session`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from agent.collab.matrix import IMPORTED_SESSION_PREFIX, event_strength
from agent.settings import CollabSettings
from agent.types import FeedbackEvent

__all__ = ["HeldSession", "leave_last_in_session", "leave_last_out"]


def leave_last_out(
    events: Sequence[FeedbackEvent], cfg: CollabSettings, *, min_positive: int = 3
) -> tuple[list[FeedbackEvent], dict[str, str]]:
    """Hold out each user's most recent positive video (users with >= ``min_positive`` of them).

    Returns the events without the held-out pairs, and user -> held-out video id.
    """
    latest: dict[str, dict[str, datetime]] = {}
    for event in events:
        if event_strength(event, cfg) > 0:
            per_user = latest.setdefault(event.user_id, {})
            seen = per_user.get(event.video_id)
            if seen is None or event.timestamp > seen:
                per_user[event.video_id] = event.timestamp
    held: dict[str, str] = {}
    for user, items in latest.items():
        if len(items) >= min_positive:
            held[user] = max(items.items(), key=lambda kv: (kv[1], kv[0]))[0]
    train = [e for e in events if held.get(e.user_id) != e.video_id]
    return train, held


@dataclass(frozen=True)
class HeldSession:
    """One session's latest liked video, held out, and the ones liked before it (newest first)."""

    user_id: str
    seeds: list[str]
    target: str


def leave_last_in_session(
    events: Sequence[FeedbackEvent], cfg: CollabSettings, *, min_items: int = 2
) -> tuple[list[FeedbackEvent], list[HeldSession]]:
    """Hold out the latest positive video of every conversation session that has at least
    ``min_items`` of them; returns the events without the held-out ones."""
    latest: dict[tuple[str, str], dict[str, datetime]] = {}
    for event in events:
        sid = event.session_id
        if sid and not sid.startswith(IMPORTED_SESSION_PREFIX) and event_strength(event, cfg) > 0:
            per = latest.setdefault((event.user_id, sid), {})
            seen = per.get(event.video_id)
            if seen is None or event.timestamp > seen:
                per[event.video_id] = event.timestamp
    held: list[HeldSession] = []
    dropped: set[tuple[str, str, str]] = set()
    for (user, sid), items in sorted(latest.items()):
        if len(items) < min_items:
            continue
        order = sorted(items, key=lambda v: (items[v], v), reverse=True)
        held.append(HeldSession(user, order[1:], order[0]))
        dropped.add((user, sid, order[0]))
    train = [e for e in events if (e.user_id, e.session_id or "", e.video_id) not in dropped]
    return train, held

"""Held-out splits of the event log for tuning: each user's latest positive video
(:func:`leave_last_out`), each conversation session's latest liked video
(:func:`leave_last_in_session`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from agent.collab.matrix import IMPORTED_SESSION_PREFIX, event_strength
from agent.settings import CollabSettings
from agent.types import FeedbackEvent

__all__ = ["HeldSession", "latest_per_group", "leave_last_in_session", "leave_last_out"]


def latest_per_group(groups: np.ndarray, times: np.ndarray, ties: np.ndarray) -> np.ndarray:
    """The index of each group's latest entry: the largest ``times``, among equal times the
    largest ``ties`` (e.g. the item id), in group order. The one definition of "last" behind
    every leave-last-out split (:func:`leave_last_out` here, the MovieLens harness's)."""
    if len(groups) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((ties, times, groups))
    ordered = groups[order]
    last = np.r_[ordered[1:] != ordered[:-1], True]
    return order[last].astype(np.int64)


def leave_last_out(
    events: Sequence[FeedbackEvent], cfg: CollabSettings, *, min_positive: int = 3
) -> tuple[list[FeedbackEvent], dict[str, str]]:
    """Hold out each user's most recent positive video (users with >= ``min_positive`` of them).

    Returns the events without the held-out pairs, and user -> held-out video id.
    """
    positive = [e for e in events if event_strength(e, cfg) > 0]
    distinct: dict[str, set[str]] = {}
    for event in positive:
        distinct.setdefault(event.user_id, set()).add(event.video_id)
    users = np.array([e.user_id for e in positive], dtype=object)
    _, groups = np.unique(users.astype(str), return_inverse=True) if len(users) else (None, users)
    times = np.array([e.timestamp.timestamp() for e in positive], dtype=np.float64)
    ties = np.array([e.video_id for e in positive], dtype=str)
    held: dict[str, str] = {}
    for i in latest_per_group(np.asarray(groups), times, ties):
        event = positive[int(i)]
        if len(distinct[event.user_id]) >= min_positive:
            held[event.user_id] = event.video_id
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

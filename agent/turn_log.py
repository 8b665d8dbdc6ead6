"""A conversation's turns in the user's session: what it showed before, and each turn kept.

A conversation of more than one user message continues the user's latest session; its earlier
picks (impressions) are what "something else" or "not those" refers to, and each turn's picks are
recorded as impressions for the next one and for the collaborative model.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.conversation import user_texts
from agent.types import Answer, FeedbackEvent, Message
from agent.users import UserStore

__all__ = ["shown_before", "store_turn"]


def shown_before(
    store: UserStore, user_id: str, messages: Sequence[Message], history: Sequence[FeedbackEvent]
) -> list[str]:
    """The videos this conversation showed before (its session's impressions), newest first."""
    if len(user_texts(messages)) < 2:
        return []
    session = store.latest_session(user_id)
    if session is None:
        return []
    shown = [e.video_id for e in history if e.kind == "impression" and e.session_id == session]
    return list(dict.fromkeys(reversed(shown)))


def store_turn(store: UserStore, user_id: str, messages: Sequence[Message], answer: Answer) -> None:
    """Keep the turn in the user's session and record the picks as impressions."""
    session_id = store.latest_session(user_id) if len(user_texts(messages)) > 1 else None
    if session_id is None:
        session_id = store.start_session(user_id)
    ids = [r.video.id for r in answer.recommendations]
    store.add_turn(session_id, [messages[-1]], answer.text, ids)
    if ids:
        store.record_many(user_id, [(v, "impression", None) for v in ids], session_id=session_id)

"""The chat app's user panel: feedback on a card, the user's history, the name selector and
"forget me" (asked, then confirmed), as plain functions over the ``Recommender`` facade."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from agent.recommender import Recommender
from agent.types import FeedbackKind, Recommendation
from retrieval.errors import InvalidInputError, VidrecError
from retrieval.types import Video
from ui.cards import FEEDBACK_LABELS, render_card
from ui.notices import check_user, error_line, readable_error, warn

__all__ = [
    "ButtonKind",
    "FeedbackView",
    "ForgetView",
    "forget_cancel",
    "forget_confirm",
    "forget_request",
    "give_feedback",
    "history_markdown",
    "user_choices",
]

log = logging.getLogger(__name__)

ButtonKind = Literal["like", "dislike", "watched"]


@dataclass
class FeedbackView:
    status: str
    card: str | None = None  # the card re-rendered with the feedback note; None: unchanged
    error: str | None = None


def give_feedback(
    recommender: Recommender,
    user_id: str | None,
    recommendations: Sequence[Recommendation] | None,
    slot: int,
    kind: ButtonKind,
) -> FeedbackView:
    """Record like / dislike / watched for the card in ``slot``; it shapes the next answer."""
    recs = list(recommendations or [])
    try:
        user = check_user(user_id)
        if not 0 <= slot < len(recs):
            raise InvalidInputError(
                "That card is no longer shown",
                expected=f"one of the {len(recs)} current cards",
                got=f"card {slot + 1}",
                hint="Ask again to get fresh recommendations",
            )
        rec = recs[slot]
        fb_kind: FeedbackKind = kind
        recommender.feedback(user, rec.video.id, fb_kind, 1.0 if kind == "watched" else None)
    except Exception as exc:
        message = readable_error(exc)
        warn(message)
        return FeedbackView(status=error_line(message), error=message)
    label = FEEDBACK_LABELS[kind].lower()
    status = (
        f"Noted for {user}: {label}: “{rec.video.title}”. Your next answer takes it into account."
    )
    return FeedbackView(status=status, card=render_card(rec, feedback=kind))


def history_markdown(recommender: Recommender, user_id: str | None, limit: int = 20) -> str:
    """The user's recorded feedback, newest first, as markdown (for the "Your history" panel)."""
    try:
        user = check_user(user_id)
        events = recommender.history(user)
    except Exception as exc:
        return error_line(readable_error(exc))
    shown = [e for e in events if e.kind != "impression"]
    if not shown:
        return f"Nothing recorded for **{user}** yet. Like, dislike or mark cards as watched."
    shown.sort(key=lambda e: e.timestamp, reverse=True)
    lines = [f"**{user}**: {len(shown)} recorded"]
    for event in shown[:limit]:
        title = _video_title(recommender, event.video_id)
        when = event.timestamp.strftime("%Y-%m-%d %H:%M")
        lines.append(f"- {when} · {event.kind} · {title}")
    return "\n".join(lines)


def _video_title(recommender: Recommender, video_id: str) -> str:
    video = _get_video(recommender, video_id)
    return video.title if video else video_id


def _get_video(recommender: Recommender, video_id: str) -> Video | None:
    try:
        return recommender.library.get_video(video_id)
    except Exception:
        log.debug("title lookup failed for %s", video_id, exc_info=True)
        return None


# --- users ---------------------------------------------------------------------------------------
def user_choices(recommender: Recommender, current: str | None) -> list[str]:
    """Known users (for the name selector) plus the current name."""
    try:
        names = list(recommender.users())
    except Exception:
        log.warning("could not list users", exc_info=True)
        names = []
    if current and current.strip() and current.strip() not in names:
        names.append(current.strip())
    return sorted(set(names), key=str.lower)


@dataclass
class ForgetView:
    pending: str | None  # the user awaiting confirmation
    confirm_visible: bool
    message: str
    forgotten: bool = False


def forget_request(user_id: str | None) -> ForgetView:
    """First step of "forget me": ask for confirmation, delete nothing yet."""
    try:
        user = check_user(user_id)
    except VidrecError as exc:
        return ForgetView(pending=None, confirm_visible=False, message=error_line(str(exc)))
    return ForgetView(
        pending=user,
        confirm_visible=True,
        message=(
            f"Delete everything vidrec holds about **{user}** (likes, watched videos, "
            "conversations)? This cannot be undone."
        ),
    )


def forget_confirm(
    recommender: Recommender, user_id: str | None, pending: str | None
) -> ForgetView:
    """Second step: delete, but only the user who asked and only after ``forget_request``."""
    try:
        user = check_user(user_id)
        if pending != user:
            raise InvalidInputError(
                "Deletion needs confirmation",
                expected=f"'Forget me' pressed for {user}, then 'Yes, delete'",
                got="no pending request" if pending is None else f"a request for {pending}",
                hint="Press 'Forget me' again",
            )
        recommender.forget_user(user)
    except Exception as exc:
        message = readable_error(exc)
        warn(message)
        return ForgetView(pending=None, confirm_visible=False, message=error_line(message))
    return ForgetView(
        pending=None,
        confirm_visible=False,
        message=f"Everything held about **{user}** was deleted.",
        forgotten=True,
    )


def forget_cancel() -> ForgetView:
    return ForgetView(pending=None, confirm_visible=False, message="Nothing was deleted.")

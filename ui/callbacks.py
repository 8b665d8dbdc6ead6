"""What the chat app does, as plain functions over the ``Recommender`` facade.

Each function here is a few lines over one facade method and returns typed views (dataclasses) that
``ui.app`` maps onto Gradio components, so all of it is testable without a browser or a server.

Errors never escape as stack traces: a :class:`~retrieval.errors.VidrecError` is shown as its own
message (what was expected, what came, how to fix it); anything else becomes one readable line and
its traceback goes to the server log. The app keeps serving either way.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import TimeoutError as FuturesTimeoutError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from agent.recommender import Recommender
from agent.types import Answer, FeedbackKind, Message, Recommendation
from retrieval.errors import InvalidInputError, VidrecError
from retrieval.types import Video
from ui.cards import FEEDBACK_LABELS, picks_markdown, render_card

log = logging.getLogger(__name__)


#: How many recommendation cards one answer shows (the app builds this many card slots).
MAX_CARDS = 5
#: Longest user name accepted in the name box.
MAX_USER_LEN = 64

ChatMessage = dict[str, str]  # {"role": "user" | "assistant", "content": markdown}
ButtonKind = Literal["like", "dislike", "watched"]

#: Stage names of ``Answer.timings`` in display order; ``transcription`` (voice), ``first_token``
#: (first text delta of the reply) and ``total`` are measured here, around the facade call.
TIMING_ORDER = (
    "transcription",
    "understand",
    "retrieve",
    "rank",
    "rerank",
    "cards",
    "first_card",
    "explain",
    "chat",
    "first_token",
    "total",
)


class ProgressFn(Protocol):
    """What ``gr.Progress`` offers: ``progress((done, total), desc=...)``."""

    def __call__(self, progress: Any, desc: str | None = None) -> Any: ...


# --- errors --------------------------------------------------------------------------------------
def readable_error(exc: BaseException) -> str:
    """One line a person can act on; never a traceback (that goes to the server log)."""
    if isinstance(exc, VidrecError):
        return str(exc)
    if isinstance(exc, TimeoutError | FuturesTimeoutError):
        return (
            "The language model did not answer in time. Try again in a moment, or ask a shorter "
            "question."
        )
    log.error("unexpected error in the chat app", exc_info=exc)
    return (
        f"Something went wrong ({type(exc).__name__}). The app is still running: try again; the "
        "server log has the details."
    )


def warn(message: str) -> None:
    """Show ``message`` as a Gradio toast when called inside a Gradio event; log it always.

    Outside the app (tests, scripts) Gradio is not even imported, and its fallback (a Python
    warning) is silenced: the message is in the returned view and in the log.
    """
    log.info("shown to the user: %s", message)
    gr = sys.modules.get("gradio")
    if gr is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gr.Warning(message)


def check_user(user_id: str | None) -> str:
    name = (user_id or "").strip()
    if not name:
        raise InvalidInputError(
            "Enter your name first, so your likes and history stay yours",
            expected="a name in the 'Your name' box",
            got="an empty name",
        )
    if len(name) > MAX_USER_LEN:
        raise InvalidInputError(
            "That name is too long",
            expected=f"at most {MAX_USER_LEN} characters",
            got=f"{len(name)} characters",
            hint="Use a shorter name",
        )
    return name


def check_query(text: str | None) -> str:
    query = (text or "").strip()
    if not query:
        raise InvalidInputError(
            "Type or say what you would like to watch",
            expected="a request such as 'a short talk about the ocean'",
            got="an empty message",
        )
    return query


# --- one chat turn -------------------------------------------------------------------------------
@dataclass
class ChatView:
    """Everything one step of a chat turn changes on screen.

    Attributes:
        history: the chat transcript as Gradio ``messages`` (role + markdown content).
        conversation: the turns the agent sees (user text and assistant replies, no UI decoration).
        recommendations: the picks of the latest answer, best first (the card slots).
        cards: one HTML card per recommendation.
        textbox: the new text of the request box; ``None`` leaves it as it is.
        status: one line under the chat (what is happening, or how long the answer took).
        error: the readable error of this turn, if any.
    """

    history: list[ChatMessage]
    conversation: list[Message]
    recommendations: list[Recommendation] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)
    textbox: str | None = None
    status: str = ""
    error: str | None = None


def format_timings(timings: dict[str, float]) -> str:
    """``{"total": 2.1, "retrieval": 0.12, ...}`` -> ``"2.10 s (retrieval 0.12 s · ...)"``.

    Stages are listed in pipeline order; unknown stages follow, sorted.
    """
    keys = [k for k in TIMING_ORDER if k in timings and k != "total"] + sorted(
        k for k in timings if k not in TIMING_ORDER
    )
    parts = " · ".join(f"{k.replace('_', ' ')} {timings[k]:.2f} s" for k in keys)
    if "total" in timings:
        return f"{timings['total']:.2f} s ({parts})" if parts else f"{timings['total']:.2f} s"
    return parts


def error_line(message: str) -> str:
    return f"⚠ {message}"


def respond(
    recommender: Recommender,
    text: str | None,
    history: Sequence[ChatMessage] | None,
    conversation: Sequence[Message] | None,
    user_id: str | None,
    *,
    k: int = MAX_CARDS,
    textbox_after: str = "",
    extra_timings: dict[str, float] | None = None,
    user_prefix: str = "",
) -> Iterator[ChatView]:
    """Answer one typed (or transcribed) turn, streaming.

    Yields a view after the user's turn is shown, after every text delta and every card, and a
    last one with the timings. A failed turn ends with an error line in the chat (and a toast);
    the user's turn is then left out of the conversation the agent sees, so asking again is clean.

    Args:
        textbox_after: what the request box holds afterwards ("" clears it; a voice turn keeps
            the transcript there so it can be corrected and sent again).
        extra_timings: stages measured before this call (voice: ``transcription``).
        user_prefix: shown before the user's text in the chat (a voice turn is marked "(voice)").
    """
    chat: list[ChatMessage] = [dict(m) for m in history or []]
    conv: list[Message] = list(conversation or [])
    recs: list[Recommendation] = []

    def view(status: str = "", error: str | None = None, textbox: str | None = None) -> ChatView:
        return ChatView(
            history=[dict(m) for m in chat],
            conversation=list(conv),
            recommendations=list(recs),
            cards=[render_card(r) for r in recs],
            textbox=textbox,
            status=status,
            error=error,
        )

    try:
        user = check_user(user_id)
        query = check_query(text)
    except VidrecError as exc:
        message = readable_error(exc)
        warn(message)
        chat.append({"role": "assistant", "content": error_line(message)})
        yield view(status="", error=message)
        return

    chat.append({"role": "user", "content": f"{user_prefix}{query}"})
    chat.append({"role": "assistant", "content": "…"})
    turn = [*conv, Message("user", query)]
    yield view(status="Looking through the library…", textbox=textbox_after)

    reply = ""
    answer: Answer | None = None
    started = time.perf_counter()
    first_token: float | None = None
    try:
        # the turn runs on its own thread, so Gradio may step this generator from any pool thread;
        # leaving the page closes it, which stops the turn at its next event
        with recommender.stream(turn, user, k=k) as events:
            for event in events:
                if event.kind == "text":
                    if first_token is None:
                        first_token = time.perf_counter() - started
                    reply += event.text
                    chat[-1]["content"] = reply or "…"
                    yield view(status="Answering…")
                elif event.kind == "recommendation" and event.recommendation is not None:
                    recs.append(event.recommendation)
                    yield view(status="Answering…")
                elif event.kind == "reason" and event.recommendation is not None:
                    # the model's sentence passed the reason check: it replaces the card's
                    recs[event.recommendation.rank - 1] = event.recommendation
                    yield view(status="Answering…")
                elif event.kind == "understanding":
                    yield view(status="Searching…")
                elif event.kind == "error":
                    raise _StreamError(event.text)
                elif event.kind == "done":
                    answer = event.answer
    except Exception as exc:
        message = exc.message if isinstance(exc, _StreamError) else readable_error(exc)
        warn(message)
        chat[-1]["content"] = (reply + "\n\n" if reply else "") + error_line(message)
        yield view(status="", error=message)
        return

    total = time.perf_counter() - started
    timings = dict(extra_timings or {})
    if answer is not None:
        reply = reply or answer.text
        if not recs:
            recs = list(answer.recommendations)
        if answer.clarifying_question and answer.clarifying_question not in reply:
            reply = f"{reply}\n\n{answer.clarifying_question}".strip()
        timings.update(answer.timings)
    if first_token is not None:
        timings.setdefault("first_token", first_token)
    timings["total"] = timings.get("total", total) + sum((extra_timings or {}).values())
    picks = picks_markdown(recs)
    chat[-1]["content"] = "\n\n".join(p for p in (reply.strip(), picks) if p) or "(no answer)"
    conv = [*turn, Message("assistant", reply.strip())]
    status = f"Answered in {format_timings(timings)}"
    yield view(status=status)


class _StreamError(Exception):
    """An ``error`` event in the answer stream (its text is already written for people)."""

    def __init__(self, message: str) -> None:
        self.message = message or "The answer stopped early. Try again."
        super().__init__(self.message)


# --- voice ---------------------------------------------------------------------------------------
def transcribe_audio(recommender: Recommender, audio_path: str | Path | None) -> tuple[str, float]:
    """Speech to text with the library's Whisper. Returns ``(text, seconds taken)``.

    Raises:
        InvalidInputError: no recording came, or nothing intelligible was heard in it.
        MediaError: the file is not audio the decoder can read (raised by the facade).
    """
    if audio_path is None or not str(audio_path).strip() or not Path(audio_path).is_file():
        raise InvalidInputError(
            "No audio received",
            expected="a microphone recording or an uploaded audio file (wav, mp3, m4a, ogg, flac)",
            got="nothing" if not audio_path else f"a missing file {Path(audio_path).name}",
            hint="Record again, or upload the file once more",
        )
    started = time.perf_counter()
    transcript = recommender.transcribe(audio_path)
    seconds = time.perf_counter() - started
    text = transcript.text.strip()
    if not text:
        heard = f"{transcript.duration:.1f} s of audio" if transcript.duration else "the audio"
        raise InvalidInputError(
            "No speech was heard in the recording",
            expected="spoken words",
            got=f"{heard} without recognisable speech",
            hint="Speak closer to the microphone, or type your request",
        )
    return text, seconds


def voice_turn(
    recommender: Recommender,
    audio_path: str | Path | None,
    history: Sequence[ChatMessage] | None,
    conversation: Sequence[Message] | None,
    user_id: str | None,
    *,
    k: int = MAX_CARDS,
) -> Iterator[ChatView]:
    """Transcribe a recording, show what was heard, then answer it like typed text.

    The transcript becomes the user's turn in the chat and stays in the request box, so a
    misheard word can be fixed and sent again.
    """
    try:
        text, seconds = transcribe_audio(recommender, audio_path)
    except Exception as exc:
        message = readable_error(exc)
        warn(message)
        history = [
            *(dict(m) for m in history or []),
            {
                "role": "assistant",
                "content": error_line(f"Could not use the recording. {message}"),
            },
        ]
        yield ChatView(history=history, conversation=list(conversation or []), error=message)
        return
    yield from respond(
        recommender,
        text,
        history,
        conversation,
        user_id,
        k=k,
        textbox_after=text,
        extra_timings={"transcription": seconds},
        user_prefix="(voice) ",
    )


# --- feedback ------------------------------------------------------------------------------------
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


# --- library (operator) --------------------------------------------------------------------------

"""What the chat app does in one turn, as plain functions over the ``Recommender`` facade.

Each function here is a few lines over one facade method and returns typed views (dataclasses) that
``ui.app`` maps onto Gradio components, so all of it is testable without a browser or a server.
A typed or spoken request runs here; the user panel (feedback, history, "forget me") is
:mod:`ui.user_panel`, the error lines and input checks :mod:`ui.notices`; their names are
re-exported here for ``ui.app``.

Errors never escape as stack traces: a :class:`~retrieval.errors.VidrecError` is shown as its own
message (what was expected, what came, how to fix it); anything else becomes one readable line and
its traceback goes to the server log. The app keeps serving either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.recommender import Recommender
from agent.types import Answer, Message, Recommendation
from retrieval.errors import InvalidInputError, VidrecError
from ui.cards import picks_markdown, render_card
from ui.notices import (
    MAX_USER_LEN,
    check_query,
    check_user,
    error_line,
    readable_error,
    warn,
)
from ui.user_panel import (
    ButtonKind,
    FeedbackView,
    ForgetView,
    forget_cancel,
    forget_confirm,
    forget_request,
    give_feedback,
    history_markdown,
    user_choices,
)

__all__ = [
    "MAX_CARDS",
    "MAX_USER_LEN",
    "TIMING_ORDER",
    "ButtonKind",
    "ChatMessage",
    "ChatView",
    "FeedbackView",
    "ForgetView",
    "check_query",
    "check_user",
    "error_line",
    "forget_cancel",
    "forget_confirm",
    "forget_request",
    "format_timings",
    "give_feedback",
    "history_markdown",
    "readable_error",
    "respond",
    "transcribe_audio",
    "user_choices",
    "voice_turn",
    "warn",
]

log = logging.getLogger(__name__)


#: How many recommendation cards one answer shows (the app builds this many card slots).
MAX_CARDS = 5

ChatMessage = dict[str, str]  # {"role": "user" | "assistant", "content": markdown}

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

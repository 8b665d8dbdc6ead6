"""How the chat app speaks to a person: one readable line per error, a toast, and the checks on
what they typed (their name, their request).

Errors never escape as stack traces: a :class:`~retrieval.errors.VidrecError` is shown as its own
message (what was expected, what came, how to fix it); anything else becomes one readable line and
its traceback goes to the server log.
"""

from __future__ import annotations

import logging
import sys
import warnings
from concurrent.futures import TimeoutError as FuturesTimeoutError

from retrieval.errors import InvalidInputError, VidrecError

__all__ = ["MAX_USER_LEN", "check_query", "check_user", "error_line", "readable_error", "warn"]

log = logging.getLogger(__name__)

#: Longest user name accepted in the name box.
MAX_USER_LEN = 64


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


def error_line(message: str) -> str:
    return f"⚠ {message}"

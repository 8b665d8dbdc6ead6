"""Conversation handling shared by the agent's stages: validation, trimming, rendering.

A conversation is what surfaces pass to ``Recommender.recommend``: a plain string (one user turn)
or a sequence of :class:`agent.types.Message` ending with the user's latest turn. Untrusted text
that goes into prompts (retrieved transcripts, titles) is escaped by :func:`quote_untrusted`.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from agent.types import Message
from retrieval.errors import InvalidInputError

log = logging.getLogger(__name__)

Conversation = Sequence[Message] | str

MAX_MESSAGE_CHARS = 4000
MAX_MESSAGES = 200
PROMPT_MESSAGES = 8  # how many of the latest messages the prompts see
PROMPT_CHARS = 2400  # and at most this many characters of them
MAX_K = 50  # the most recommendations one turn may ask for


def normalise_conversation(conversation: Conversation) -> list[Message]:
    """Validate a conversation and return it as messages (system messages dropped).

    Raises:
        InvalidInputError: empty, malformed, or not ending with a user message.
    """
    if isinstance(conversation, str):
        messages = [Message("user", conversation)]
    elif isinstance(conversation, Sequence):
        messages = []
        for i, msg in enumerate(conversation):
            if not isinstance(msg, Message):
                raise InvalidInputError(
                    f"Conversation item {i} is not a message",
                    expected="agent.types.Message(role, content)",
                    got=f"{type(msg).__name__}",
                    hint="Pass a string or a list of Message('user'|'assistant', text)",
                )
            if msg.role == "system":
                continue  # the agent's own prompts are the only system instructions
            messages.append(msg)
    else:
        raise InvalidInputError(
            "The conversation has the wrong type",
            expected="a string or a list of Message",
            got=type(conversation).__name__,
        )
    if len(messages) > MAX_MESSAGES:
        messages = messages[-MAX_MESSAGES:]
    if not messages or not messages[-1].content.strip():
        raise InvalidInputError(
            "Nothing to answer",
            expected="a conversation ending with a non-empty user message",
            got="an empty message" if messages else "no messages",
            hint="Type what you would like to watch, e.g. 'a short talk about creativity'",
        )
    if messages[-1].role != "user":
        raise InvalidInputError(
            "The conversation must end with the user's turn",
            expected="the last message from role 'user'",
            got=f"role {messages[-1].role!r}",
            hint="Append the user's latest message to the conversation",
        )
    for msg in messages:
        if len(msg.content) > MAX_MESSAGE_CHARS:
            raise InvalidInputError(
                "A message is too long",
                expected=f"at most {MAX_MESSAGE_CHARS} characters per message",
                got=f"{len(msg.content)} characters",
                hint="Shorten the message",
            )
    return messages


def check_request(
    conversation: Conversation, user_id: str, k: int
) -> tuple[list[Message], str, int]:
    """A turn's input checked: the conversation as messages, the user id stripped, ``k``.

    Raises:
        InvalidInputError: empty or malformed conversation, bad user id or ``k``.
    """
    messages = normalise_conversation(conversation)
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidInputError(
            "A user id is required",
            expected="a non-empty user id",
            got=repr(user_id),
            hint="Pass --user NAME (CLI) or user_id (API)",
        )
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InvalidInputError(
            "k is out of range",
            expected=f"a whole number of recommendations from 1 to {MAX_K}",
            got=repr(k),
            hint="Ask for e.g. k=5",
        )
    return messages, user_id.strip(), k


def user_texts(messages: Sequence[Message]) -> list[str]:
    return [m.content for m in messages if m.role == "user"]


def last_user(messages: Sequence[Message]) -> str:
    texts = user_texts(messages)
    return texts[-1] if texts else ""


def render_conversation(
    messages: Sequence[Message],
    *,
    max_messages: int = PROMPT_MESSAGES,
    max_chars: int = PROMPT_CHARS,
) -> str:
    """The latest messages as ``User: ...`` / ``Assistant: ...`` lines, trimmed to a budget."""
    lines: list[str] = []
    used = 0
    for msg in reversed(list(messages)[-max_messages:]):
        who = "User" if msg.role == "user" else "Assistant"
        text = " ".join(msg.content.split())
        budget = max_chars - used
        if budget <= 40 and lines:
            break
        if len(text) > budget:
            text = text[: max(budget, 40)] + "..."
        lines.append(f"{who}: {text}")
        used += len(text)
    return "\n".join(reversed(lines))


def quote_untrusted(text: str, *, max_chars: int = 700) -> str:
    """Make untrusted text safe to place inside ``<evidence>`` delimiters in a prompt.

    Angle brackets, ampersands and quotes are HTML-escaped, so the text cannot close the
    delimiter or open a look-alike tag (``</evidence>``, ``<system>``); whitespace is collapsed
    and the text is cut to ``max_chars``.
    """
    flat = " ".join(text.split())
    if len(flat) > max_chars:
        flat = flat[:max_chars].rsplit(" ", 1)[0] + " ..."
    return html.escape(flat, quote=True)

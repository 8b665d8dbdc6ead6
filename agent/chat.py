"""Small talk: the short streamed reply to a turn that asks for no recommendation."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from agent.conversation import render_conversation
from agent.llm.base import LLM
from agent.turn import CLARIFYING_QUESTION, TurnState
from agent.types import AnswerEvent, Message
from prompts.loader import load_prompt

__all__ = ["CHAT_MAX_TOKENS", "chat_reply", "chat_turn", "without_links"]

CHAT_MAX_TOKENS = 80

_LINK = re.compile(
    r"(?:(?:https?://|www\.)\S*|\S+\.(?:com|org|net|io|be)/\S*)[ \t]*", re.IGNORECASE
)


def without_links(pieces: Iterator[str]) -> Iterator[str]:
    """Pass streamed text on word by word, dropping links: a small model invents URLs, and the
    only links shown are the picks' own."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        cut = max(buffer.rfind(" "), buffer.rfind("\n"))
        if cut < 0:
            continue
        ready, buffer = buffer[: cut + 1], buffer[cut + 1 :]
        cleaned = _LINK.sub("", ready)
        if cleaned:
            yield cleaned
    if buffer:
        cleaned = _LINK.sub("", buffer)
        if cleaned:
            yield cleaned


def chat_reply(llm: LLM, messages: Sequence[Message]) -> Iterator[str]:
    """The model's short reply to the conversation (the ``chat`` prompt), streamed without links."""
    prompt = load_prompt("chat")
    rendered = prompt.render(conversation=render_conversation(messages))
    yield from without_links(
        llm.stream(rendered, max_tokens=CHAT_MAX_TOKENS, temperature=0.0, tag=prompt.tag)
    )


def chat_turn(llm: LLM, state: TurnState) -> Iterator[AnswerEvent]:
    """The ``chat`` stage of a turn that asks for no recommendation: the reply streamed as
    ``text`` events (and a question for a new user)."""
    parts: list[str] = []
    with state.stage("chat"):
        for piece in chat_reply(llm, state.messages):
            parts.append(piece)
            yield AnswerEvent(kind="text", text=piece)
    state.text = "".join(parts)
    state.clarifying_question = CLARIFYING_QUESTION if state.new_user else None

"""Ranking cases: the one definition shared by the evaluation (ReDial, INSPIRED dialogues) and the
learned ranker's training on the operator's logged conversations.

Protocol (He et al., CIKM 2023, "Large Language Models as Zero-Shot Conversational Recommenders"):
every assistant turn that names items is a case; the context is the conversation before it; the
targets are the items it names that were NOT named earlier in the conversation (by either side);
items named earlier are excluded from the ranking. A turn that only repeats earlier items is no
case, nor is one before any user turn.

A logged conversation (:func:`logged_cases`) is one session of a user: each stored turn is the
user's message and vidrec's reply; the items the user's turn "names" are the videos they reacted to
positively (``agent.feedback.polarity``) before it in the session, and the items vidrec's reply
"names" are the videos they reacted to positively after it (before their next turn): what they
took from that answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from agent.feedback import is_positive
from agent.types import FeedbackEvent, Message
from agent.users import UserStore

__all__ = ["LoggedCase", "RankingCase", "Step", "logged_cases", "ranking_cases"]


@dataclass(frozen=True)
class Step:
    """One turn of a conversation and the items it names, in order."""

    role: Literal["user", "assistant"]
    text: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class RankingCase:
    """One ranking question: given ``context``, which new items does the assistant name?"""

    id: str  # f"{dialogue_id}#{turn index}"
    dialogue_id: str
    context: tuple[Message, ...]
    targets: tuple[str, ...]  # items first named in this turn
    excluded: frozenset[str]  # items named earlier: removed from every ranking
    response: str = ""  # the assistant's actual turn (for inspection, never shown to systems)
    # the user's opinions (feedback kinds: like, dislike, watched) of items named BEFORE this turn
    # only: what a user could have said with feedback buttons by then; never about a target
    feedback: tuple[tuple[str, str], ...] = ()


def ranking_cases(
    dialogue_id: str, steps: Sequence[Step], opinions: Sequence[tuple[str, str]] = ()
) -> list[RankingCase]:
    """The cases of one conversation, in order (see the module docstring); ``opinions`` (item,
    feedback kind) become each case's ``feedback`` for the items named before it."""
    cases: list[RankingCase] = []
    seen: list[str] = []
    context: list[Message] = []
    for index, step in enumerate(steps):
        if step.role == "assistant" and step.items:
            new: list[str] = []
            for item in step.items:
                if item not in seen and item not in new:
                    new.append(item)
            if new and any(m.role == "user" for m in context):
                earlier = set(seen)
                cases.append(
                    RankingCase(
                        id=f"{dialogue_id}#{index}",
                        dialogue_id=dialogue_id,
                        context=tuple(context),
                        targets=tuple(new),
                        excluded=frozenset(seen),
                        response=step.text,
                        feedback=tuple((v, k) for v, k in opinions if v in earlier),
                    )
                )
        for item in step.items:
            if item not in seen:
                seen.append(item)
        context.append(Message(role=step.role, content=step.text))
    return cases


@dataclass(frozen=True)
class LoggedCase:
    """A case of a logged conversation, with whose it is and when it was asked."""

    case: RankingCase
    user_id: str
    asked_at: datetime

    def history(self, events: Sequence[FeedbackEvent]) -> list[FeedbackEvent]:
        """The user's events from before the turn (what the turn was answered with)."""
        return [e for e in events if e.timestamp < self.asked_at]


def logged_cases(store: UserStore, users: Sequence[str] | None = None) -> list[LoggedCase]:
    """The cases of every logged conversation (see the module docstring)."""
    out: list[LoggedCase] = []
    for user_id in users if users is not None else store.users():
        events = store.history(user_id)
        for session in store.sessions(user_id):
            turns = store.turns(session)
            if not turns:
                continue
            liked = sorted(
                (e for e in events if e.session_id == session and is_positive(e)),
                key=lambda e: e.timestamp,
            )
            steps: list[Step] = []
            asked: dict[int, datetime] = {}
            for n, turn in enumerate(turns):
                end = turns[n + 1].created_at if n + 1 < len(turns) else None
                before = tuple(e.video_id for e in liked if e.timestamp < turn.created_at)
                after = tuple(
                    e.video_id
                    for e in liked
                    if e.timestamp >= turn.created_at and (end is None or e.timestamp < end)
                )
                text = " ".join(m.content for m in turn.messages if m.role == "user")
                steps.append(Step("user", text, before))
                asked[len(steps)] = turn.created_at
                steps.append(Step("assistant", turn.reply, after))
            for case in ranking_cases(session, steps):
                index = int(case.id.rsplit("#", 1)[1])
                out.append(LoggedCase(case, user_id, asked[index]))
    return out

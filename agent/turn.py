"""The state of one turn as it moves through its stages, and the turn's own words.

``Recommender`` runs a turn as a fixed sequence of stages over one :class:`TurnState`:

``understand`` (parser, the LLM only for what it cannot read) -> ``retrieve`` -> ``rank`` ->
``rerank`` (optional LLM) -> ``cards`` (each pick with its grounded reason, streamed at once) ->
``explain`` (one short LLM request per top card, decoded together; a sentence replaces a grounded
one only if it passes the checks) -> ``done``. Small talk runs ``understand`` -> ``chat`` -> ``done``.

Every stage is timed into ``TurnState.timings`` (seconds), and ``first_card`` is the time from the
start of the turn to the first card, the figure a user feels.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from agent.explain import Explainer, ReasonContext
from agent.types import (
    Answer,
    AnswerEvent,
    Candidate,
    FeedbackEvent,
    Message,
    Recommendation,
    TurnUnderstanding,
)
from retrieval.types import Chunk, SearchFilters

NOTHING_FOUND = "I found nothing in the library that fits this request"
TELL_ME_MORE = "Tell me a little more about what you would like to watch."
CLARIFYING_QUESTION = (
    "What are you in the mood for? Tell me a topic, a speaker you like, or how much time you have."
)


@dataclass
class TurnState:
    """Everything one turn knows, filled stage by stage."""

    messages: list[Message]
    user_id: str
    k: int
    filters: SearchFilters | None = None
    understanding: TurnUnderstanding = field(default_factory=lambda: TurnUnderstanding(""))
    history: list[FeedbackEvent] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # this conversation's earlier picks
    candidates: list[Candidate] = field(default_factory=list)
    context: ReasonContext | None = None
    cards: list[tuple[Recommendation, Chunk]] = field(default_factory=list)
    text: str = ""
    clarifying_question: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (added up if the stage runs twice)."""
        clock = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - clock

    def mark(self, name: str) -> None:
        """Note the time since the turn started (once), e.g. ``first_card``."""
        self.timings.setdefault(name, time.perf_counter() - self.started)

    @property
    def new_user(self) -> bool:
        return not any(e.kind != "impression" for e in self.history)

    def answer(self) -> Answer:
        return Answer(
            text=self.text.strip(),
            recommendations=[rec for rec, _ in self.cards],
            understanding=self.understanding,
            clarifying_question=self.clarifying_question,
            timings=self.timings,
        )


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def lead_line(understanding: TurnUnderstanding, shown: int, asked: int) -> str:
    """What the cards do not say themselves: the limits applied and a short answer; "" when the
    cards say enough (no generic or quoted lead-in)."""
    limits = understanding.filters
    notes = []
    if limits.max_duration is not None:
        notes.append(f"all {_minutes(limits.max_duration)} min or shorter")
    if limits.min_duration is not None:
        notes.append(f"all at least {_minutes(limits.min_duration)} min long")
    if limits.tags_none:
        notes.append("nothing on " + ", ".join(limits.tags_none))
    if understanding.seen:
        notes.append("leaving out what you have seen")
    if shown < asked:
        notes.append(f"only {shown} fit")
    if not notes:
        return ""
    text = "; ".join(notes)
    return text[0].upper() + text[1:] + "."


def card_events(
    state: TurnState,
    explainer: Explainer,
    candidates: Sequence[Candidate],
    titles: Mapping[str, str],
) -> Iterator[AnswerEvent]:
    """The ``cards`` and ``explain`` stages over ``state.context``: each pick with its grounded
    reason the moment it is ready, the lead line, then each reason the model improved once it
    passes the checks (``titles``: the library's, which a reason must not name wrongly)."""
    assert state.context is not None, "the reason context is set before the cards"
    with state.stage("cards"):
        for candidate in candidates:
            if len(state.cards) >= state.k:
                break
            card = explainer.explain(candidate, state.context, len(state.cards) + 1)
            if card is None:
                continue
            state.cards.append(card)
            state.mark("first_card")
            yield AnswerEvent(kind="recommendation", recommendation=card[0])
    state.text = lead_line(state.understanding, len(state.cards), state.k)
    if state.text:
        yield AnswerEvent(kind="text", text=state.text)
    with state.stage("explain"):  # each card's reason the moment it passes the check
        for rec in explainer.refine(state.cards, state.context, titles):
            i = rec.rank - 1
            state.cards[i] = (rec, state.cards[i][1])
            yield AnswerEvent(kind="reason", recommendation=rec)

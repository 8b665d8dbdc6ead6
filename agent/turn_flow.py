"""One turn's stages run in order over a :class:`agent.turn.TurnState` (see :mod:`agent.turn`).

``run_turn`` reads the turn, then either recommends (retrieve, rank, rerank, cards, explain) or
chats, stores the turn and yields its ``done`` event. The parts it needs (library, model, user
store, reader) come from the facade through :class:`agent.pool.PoolParts`, built on first use.
"""

from __future__ import annotations

from collections.abc import Iterator

from agent.chat import chat_turn
from agent.explain import Explainer, ReasonContext
from agent.pool import CandidatePool, Pool, PoolParts, request_text
from agent.text import content_words
from agent.turn import CLARIFYING_QUESTION, NOTHING_FOUND, TELL_ME_MORE, TurnState, card_events
from agent.turn_log import shown_before, store_turn
from agent.types import AnswerEvent
from agent.understand import merge_filters
from retrieval.library import Library
from retrieval.types import SearchFilters

__all__ = ["LIKED_SIMILARITY", "reason_context", "recommend_stages", "run_turn"]

LIKED_SIMILARITY = 0.5  # a pick is "close to X, which you liked" from this cosine on


def run_turn(parts: PoolParts, pool: CandidatePool, state: TurnState) -> Iterator[AnswerEvent]:
    """Every stage of a checked turn, as events, ending with ``done``; the turn is stored."""
    with state.stage("understand"):
        state.understanding = parts.understander().understand(state.messages)
    yield AnswerEvent(kind="understanding", understanding=state.understanding)
    users = parts.users_store
    state.history = users.history(state.user_id)
    state.shown = shown_before(users, state.user_id, state.messages, state.history)
    if state.understanding.wants_recommendations:
        yield from recommend_stages(parts, pool, state)
    else:
        yield from chat_turn(parts.llm, state)
    answer = state.answer()
    store_turn(users, state.user_id, state.messages, answer)
    yield AnswerEvent(kind="done", answer=answer)


def recommend_stages(
    parts: PoolParts, pool: CandidatePool, state: TurnState
) -> Iterator[AnswerEvent]:
    """The stages after ``understand`` of a recommending turn (see :mod:`agent.turn`)."""
    cfg = parts.settings.agent
    u = state.understanding
    vague = not content_words(u.search_text) and not u.liked
    ranked = pool.ranked(
        state.messages,
        u,
        state.filters,
        state.history,
        state.timings,
        rerank=cfg.rerank,
        k=state.k,
        shown=state.shown,
    )
    if state.new_user and vague:
        state.clarifying_question = CLARIFYING_QUESTION
    if not ranked.candidates:
        state.text = (
            TELL_ME_MORE
            if state.clarifying_question
            else NOTHING_FOUND + (" and its filters." if u.filters != SearchFilters() else ".")
        )
        yield AnswerEvent(kind="text", text=state.text)
        return
    explainer = Explainer(parts.library, parts.llm, use_llm=cfg.explain, top=cfg.explain_top)
    with state.stage("cards"):
        state.context = reason_context(parts.library, state, ranked)
    titles = parts.title_index().titles()
    yield from card_events(state, explainer, ranked.candidates, titles)


def reason_context(library: Library, state: TurnState, pool: Pool) -> ReasonContext:
    """The request, the limits and, for picks the user's taste drove, the closest liked video."""
    liked = {v: video.title for v in pool.liked[:10] if (video := library.get_video(v))}
    closest: dict[str, str] = {}
    driven = [c.video.id for c in pool.candidates[: state.k] if c.profile_score > 0]
    if liked and driven:
        vectors = library.video_vectors([*liked, *driven])
        for video_id in driven:
            if video_id not in vectors:
                continue
            scored = [(float(vectors[video_id] @ vectors[v]), v) for v in liked if v in vectors]
            if scored and max(scored)[0] >= LIKED_SIMILARITY:
                closest[video_id] = max(scored)[1]
    return ReasonContext(
        request=request_text(state.messages, state.understanding),
        limits=merge_filters(state.understanding.filters, state.filters),
        liked=liked,
        closest_liked=closest,
    )

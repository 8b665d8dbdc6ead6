"""What a turn asks the search: the user's own words first, the model's rewrite beside them.

A rewritten query is short and loses details the user gave ("the one where he held his breath on
stage"), so the search never runs on the rewrite alone. It gets weighted texts
(``retrieval.types.QueryText``) that ``retrieval.search`` fuses:

* the latest user turn in full, weight ``LATEST``;
* earlier user turns that still apply, newest first, each ``EARLIER_DECAY`` times the weight of
  the one after it, so no earlier turn counts as much as the latest (a turn that describes a talk
  already watched must not pull the search toward it more than what is asked now);
* the model's rewritten query, weight ``REWRITE``, unless the user's words already hold it.

A turn without content words ("shorter ones?") is left out: the rewrite and the earlier turns carry
its topic. The weights are a first choice, not tuned (``vidrec eval ted-chat`` measures the turn).

A talk the user says they watched ("I already saw the one where the astronaut went blind, the
tears would not fall") is excluded by the caller once resolved; its description is no request, so
the clause that holds it (from the "already saw" / "not the" cue, or the clause start, to the end
of the sentence or to a clause that turns to what is asked now: ", so", ", anything" ...) is
taken out of every turn and of the rewrite, and a turn left without content words is dropped.
Otherwise the watched talk's neighbours would fill the list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agent.understand import content_words
from retrieval.types import QueryText

LATEST = 1.0
EARLIER_DECAY = 0.5
REWRITE = 0.5
MAX_EARLIER = 3

_CUE = re.compile(
    r"\b(?:(?:i|i've|i have|we|we've)\s+)?(?:already\s+|have\s+)?(?:seen|watched|saw)\b|"
    r"\b(?:(?:i|i've|i have|we|we've)\s+)?(?:already\s+|just\s+)+(?:finished|did|done)\b|"
    r"\b(?:i|i've|i have|we|we've)\s+finished\b|"
    r"\bnot (?:the|that)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?;\n]")
# a clause that turns to what is asked now (", so anything on ants?"); "deleted it so it looked"
# inside the description is no turn
_TURN = re.compile(
    r"(?:[,;:]|\s-)\s*(?P<turn>so|but|now|anything|something|what about|any|can you|could you|"
    r"show me|give me|i want|i'd like|looking for)\b",
    re.IGNORECASE,
)


def without_watched(text: str, watched: Sequence[str]) -> str:
    """``text`` without the clauses that describe the ``watched`` mentions (see the module doc)."""
    for mention in watched:
        at = text.lower().find(mention.lower()) if mention.strip() else -1
        if at < 0:
            continue
        start = max(text.rfind(c, 0, at) for c in ",;.!?:\n") + 1
        cues = [m.start() for m in _CUE.finditer(text, start, at)]
        start = cues[-1] if cues else start
        rest = text[at + len(mention) :]
        end, turn = _SENTENCE_END.search(rest), _TURN.search(rest)
        ends = [*([end.start()] if end else []), *([turn.start("turn")] if turn else [])]
        text = text[:start] + " " + rest[min(ends) if ends else len(rest) :]
    text = re.sub(r"\s*[,;:]\s*(?=[.!?]|$)", "", " ".join(text.split()))
    return re.sub(r"^[\W_]+(?=\w)", "", re.sub(r"\s+(?=[,.!?])", "", text)).strip()


def turn_query(
    user_turns: Sequence[str], rewritten: str, *, watched: Sequence[str] = ()
) -> list[QueryText]:
    """The weighted texts to search for a turn.

    Args:
        user_turns: what the user wrote that still applies, oldest first, the latest turn last.
        rewritten: the model's search text for the turn ("" when it gave none).
        watched: mentions of talks the user watched that resolved to a video: their clauses are
            not searched.

    Returns:
        The texts with content words, the latest turn first; empty when there is nothing to
        search for.
    """
    texts: list[QueryText] = []
    turns = [without_watched(" ".join(t.split()), watched) for t in user_turns]
    if turns and content_words(turns[-1]):
        texts.append(QueryText(turns[-1], LATEST))
    weight = LATEST
    for turn in reversed(turns[:-1][-MAX_EARLIER:]):
        weight *= EARLIER_DECAY
        if content_words(turn) and all(turn != t.text for t in texts):
            texts.append(QueryText(turn, weight))
    rewrite = without_watched(" ".join(rewritten.split()), watched)
    said = set(content_words(" ".join(t.text for t in texts)))
    if content_words(rewrite) and not set(content_words(rewrite)) <= said:
        texts.append(QueryText(rewrite, REWRITE if texts else LATEST))
    return texts

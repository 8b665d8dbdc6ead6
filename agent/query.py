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
its topic. The weights are a first choice, not yet tuned on a labelled conversational set.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.understand import content_words
from retrieval.types import QueryText

LATEST = 1.0
EARLIER_DECAY = 0.5
REWRITE = 0.5
MAX_EARLIER = 3


def turn_query(user_turns: Sequence[str], rewritten: str) -> list[QueryText]:
    """The weighted texts to search for a turn.

    Args:
        user_turns: what the user wrote that still applies, oldest first, the latest turn last
            (the caller leaves out turns that no longer apply, e.g. a talk already watched).
        rewritten: the model's search text for the turn ("" when it gave none).

    Returns:
        The texts with content words, the latest turn first; empty when there is nothing to
        search for.
    """
    texts: list[QueryText] = []
    turns = [" ".join(t.split()) for t in user_turns]
    if turns and content_words(turns[-1]):
        texts.append(QueryText(turns[-1], LATEST))
    weight = LATEST
    for turn in reversed(turns[:-1][-MAX_EARLIER:]):
        weight *= EARLIER_DECAY
        if content_words(turn) and all(turn != t.text for t in texts):
            texts.append(QueryText(turn, weight))
    rewrite = " ".join(rewritten.split())
    said = set(content_words(" ".join(t.text for t in texts)))
    if content_words(rewrite) and not set(content_words(rewrite)) <= said:
        texts.append(QueryText(rewrite, REWRITE if texts else LATEST))
    return texts

"""Negated phrases: what a sentence says is *not* so, and whether other texts say the same.

The reason check (:mod:`agent.reasons`) counts a reason's words found in the video's evidence; a
negation turns a grounded word into an invented claim ("a master procrastinator who never
procrastinates" against a description where "never" stands elsewhere: "he has never been able to
shake his habit"). So a negation in a reason is checked with the word it negates: the phrase is
supported when a support text negates the same word (same crude stem) within the same reach.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.text import STOPWORDS, stem, words

__all__ = ["NEGATIONS", "negated", "unsupported_negations"]

#: Words that negate what follows them (besides any word ending in "n't").
NEGATIONS = frozenset(
    {"not", "no", "never", "nothing", "none", "nobody", "nowhere", "neither", "nor", "cannot"}
)

#: How many words after a negation the negated word may stand ("never been able to shake").
REACH = 4


def _is_negation(word: str) -> bool:
    return word in NEGATIONS or word.endswith("n't")


def _occurrences(text: str) -> list[tuple[str, list[str]]]:
    """Each negation of ``text`` with the content words within ``REACH`` words after it (up to
    the next negation)."""
    tokens = words(text)
    out: list[tuple[str, list[str]]] = []
    for i, word in enumerate(tokens):
        if not _is_negation(word):
            continue
        reach: list[str] = []
        for after in tokens[i + 1 : i + 1 + REACH]:
            if _is_negation(after):
                break
            if after not in STOPWORDS and len(after) > 1:
                reach.append(after)
        out.append((word, reach))
    return out


def negated(text: str) -> list[tuple[str, str]]:
    """``(negation, negated word)`` pairs of ``text`` (lower case)."""
    return [(negation, w) for negation, reach in _occurrences(text) for w in reach]


def _key(word: str) -> str:
    return stem(word) if len(word) >= 4 else word


def unsupported_negations(sentence: str, support: Iterable[str]) -> tuple[str, ...]:
    """The negations of ``sentence`` that ``support`` does not back, each as "negation, first
    negated word"; a negation is backed when a word in its reach is negated in a support text."""
    backed = {_key(w) for text in support for _, w in negated(text)}
    return tuple(
        dict.fromkeys(
            f"{negation} {reach[0]}"
            for negation, reach in _occurrences(sentence)
            if reach and not any(_key(w) in backed for w in reach)
        )
    )

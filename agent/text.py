"""Text helpers shared by understanding, reasons and their checks: the words that carry meaning.

One home for the stopword list and the tokeniser, so that the parser, the explainer and the reason
check read a sentence the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

WORD_RE = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "about",
        "from",
        "by",
        "at",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "some",
        "any",
        "something",
        "anything",
        "someone",
        "talk",
        "talks",
        "video",
        "videos",
        "movie",
        "movies",
        "film",
        "films",
        "watch",
        "watching",
        "want",
        "wanted",
        "would",
        "like",
        "love",
        "liked",
        "show",
        "recommend",
        "recommendation",
        "recommendations",
        "suggest",
        "please",
        "maybe",
        "really",
        "very",
        "more",
        "less",
        "just",
        "also",
        "can",
        "could",
        "get",
        "got",
        "give",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "there",
        "here",
        "one",
        "ones",
        "thing",
        "things",
        "kind",
        "sort",
        "good",
        "great",
        "nice",
        "interesting",
        "new",
        "other",
        "another",
        "so",
        "too",
        "not",
        "no",
        "under",
        "over",
        "than",
        "minutes",
        "minute",
        "min",
        "mins",
        "hour",
        "hours",
        "long",
        "short",
        "longer",
        "shorter",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "thx",
        "ok",
        "okay",
        "cool",
        "bye",
        "goodbye",
        "yes",
        "yeah",
        "sure",
    ]
)


def words(text: str) -> list[str]:
    """Lower-cased words of ``text`` (letters, digits, inner apostrophes and hyphens)."""
    return WORD_RE.findall(text.lower())


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that carry meaning (no stopwords, no 1-letter words)."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


_SUFFIXES = ("ingly", "ings", "ing", "edly", "ed", "ies", "es", "s", "ly")


def stem(word: str) -> str:
    """A crude stem: a common suffix off, then the first five letters ("glowing", "glow" ->
    "glow"; "explains", "explained" -> "expla")."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:5]


def stems(items: Iterable[str]) -> set[str]:
    """Stems of the words of 4+ letters (shorter ones are too ambiguous to match on)."""
    return {stem(w) for w in items if len(w) >= 4}


def sentences(text: str) -> list[str]:
    """``text`` split after ``.``, ``!`` or ``?`` (whitespace normalised, empty ones dropped)."""
    return [s.strip() for s in SENTENCE_RE.split(" ".join(text.split())) if s.strip()]

"""Titles named anywhere in a conversation, and what the user said about each.

A conversation about movies (or talks) names them as it goes: "I loved The Matrix (1999)", "have
you seen Inception?", "I hated Cats, too long". Each title of the library found in the text is a
:class:`Mention`; read without a language model:

* titles are found by their words (:class:`TitleSpotter`): the whole title, or a title without its
  trailing "(year)" when only one video of the library carries it; a bare one-word title only when
  it is written capitalised and is no ordinary word ("Inception", not "it" or "up");
* the polarity of a mention is what the clause around it says (:func:`clause_polarity`): a
  dislike cue ("hated", "didn't like", "not a fan of", "boring") makes it -1, anything else +1:
  naming a title in a conversation about what to watch says it is near the user's taste.

The turn turns them into feedback events of the conversation (:func:`mention_events`: like or
dislike, whose meaning is :func:`agent.feedback.polarity`), so a liked mention seeds the
collaborative model and similar-title retrieval, a disliked one counts against its neighbours,
and every named title is left out of the answer (the user knows it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from agent.feedback import is_positive
from agent.text import STOPWORDS
from agent.types import FeedbackEvent, Message
from retrieval.types import Video

__all__ = [
    "ANAPHORA_RE",
    "Mention",
    "TitleSpotter",
    "clause_polarity",
    "clauses",
    "conversation_mentions",
    "mention_events",
    "seeds_of",
    "turn_feedback",
]

_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_YEAR_RE = re.compile(r"\s*\((?:19|20)\d\d\)\s*$")
_CLAUSE_RE = re.compile(r"[.!?;]+|\bbut\b|\bhowever\b|\bthough\b", re.IGNORECASE)
_DISLIKE_RE = re.compile(
    r"\b(?:hate[ds]?|hating|dislike[ds]?|didn'?t (?:like|enjoy|care for)|did not (?:like|enjoy)|"
    r"don'?t (?:like|enjoy|care for)|do not (?:like|enjoy)|not (?:a|much of a) fan|"
    r"not (?:for me|my (?:thing|type|cup of tea))|can'?t stand|boring|awful|terrible|horrible|"
    r"worst|overrated|disappointing|disappointed|too (?:scary|slow|long|violent|gory)|"
    r"not (?:into|interested in)|stay away from|couldn'?t finish|fell asleep)\b",
    re.IGNORECASE,
)
# a user clause pointing back at what the assistant just named
ANAPHORA_RE = re.compile(
    r"\b(?:that one|this one|those(?: ones?)?|these ones?|like (?:that|this|it|those))\b",
    re.IGNORECASE,
)
MAX_TITLE_WORDS = 16  # longer titles are not looked for inside running text


@dataclass(frozen=True)
class Mention:
    """A library video named in the conversation.

    Attributes:
        video_id: the video named.
        turn: index of the message that named it first (0 = oldest).
        by_user: the user named it (else the assistant did).
        polarity: +1 (the user is for it, or named it without a word against) or -1 (against).
    """

    video_id: str
    turn: int
    by_user: bool
    polarity: int


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _key(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(w.lower() for w in words)


class TitleSpotter:
    """Finds the library's titles inside running text (longest match first, left to right).

    Args:
        videos: the library's videos.
    """

    def __init__(self, videos: Iterable[Video]) -> None:
        self._full: dict[tuple[str, ...], set[str]] = {}
        self._bare: dict[tuple[str, ...], set[str]] = {}
        for video in videos:
            full = _key(_tokens(video.title))
            if not full or len(full) > MAX_TITLE_WORDS:
                continue
            self._full.setdefault(full, set()).add(video.id)
            bare = _key(_tokens(_YEAR_RE.sub("", video.title)))
            if bare and bare != full:
                self._bare.setdefault(bare, set()).add(video.id)
        self._longest = max((len(k) for k in (*self._full, *self._bare)), default=0)

    def _bare_ok(self, key: tuple[str, ...], written: Sequence[str]) -> bool:
        """A title said without its year is taken only when it cannot be an ordinary phrase."""
        if all(w in STOPWORDS for w in key):
            return False
        if len(key) == 1:
            return written[0][:1].isupper() and len(key[0]) >= 4
        return True

    def find(self, text: str) -> list[str]:
        """Ids of the videos whose titles ``text`` names, in order of mention, each once."""
        words = _tokens(text)
        lowered = _key(words)
        found: list[str] = []
        i = 0
        while i < len(words):
            step = 1
            for n in range(min(self._longest, len(words) - i), 0, -1):
                key = lowered[i : i + n]
                ids = self._full.get(key)
                if ids is None:
                    ids = self._bare.get(key)
                    if ids is not None and not self._bare_ok(key, words[i : i + n]):
                        ids = None
                if ids is not None and len(ids) == 1:  # two videos of one title: say nothing
                    video_id = next(iter(ids))
                    if video_id not in found:
                        found.append(video_id)
                    step = n
                    break
            i += step
        return found


def clause_polarity(text: str) -> int:
    """-1 when ``text`` (one clause) says the user is against what it names, else +1."""
    return -1 if _DISLIKE_RE.search(text) else 1


def clauses(text: str) -> list[str]:
    """The clauses of a message (split at sentence ends and at \"but\")."""
    return [c for c in _CLAUSE_RE.split(text) if c and c.strip()]


def conversation_mentions(messages: Sequence[Message], spotter: TitleSpotter) -> list[Mention]:
    """Every library video the conversation names, first mention first.

    A title the user names carries the polarity of the user's clause about it; one the assistant
    named carries +1 unless a later user clause naming it again, or pointing back at it ("I
    didn't like that one" right after the assistant named it), says otherwise (the latest user
    word about a title wins).
    """
    out: dict[str, Mention] = {}
    last_named: list[str] = []  # the titles of the latest assistant message that named any
    for turn, message in enumerate(messages):
        by_user = message.role == "user"
        for clause in clauses(message.content) if by_user else [message.content]:
            sign = clause_polarity(clause) if by_user else 1
            found = spotter.find(clause)
            if not by_user and found:
                last_named = found
            elif by_user and not found and ANAPHORA_RE.search(clause):
                found = last_named
            for video_id in found:
                first = out.get(video_id)
                if first is None:
                    out[video_id] = Mention(video_id, turn, by_user, sign)
                elif by_user:
                    out[video_id] = Mention(video_id, first.turn, True, sign)
    return sorted(out.values(), key=lambda m: m.turn)


def mention_events(mentions: Sequence[Mention], now: datetime) -> list[FeedbackEvent]:
    """The mentions as the conversation's feedback events: a like for +1, a dislike for -1,
    oldest first (their order is the order of mention)."""
    return [
        FeedbackEvent("", m.video_id, "like" if m.polarity > 0 else "dislike", None, now)
        for m in mentions
    ]


def turn_feedback(
    mentions: Sequence[Mention],
    liked: Sequence[str],
    disliked: Sequence[str],
    history: Sequence[FeedbackEvent],
    now: datetime,
) -> list[FeedbackEvent]:
    """What the conversation says about videos, as feedback events of this turn: the named
    titles (:func:`mention_events`) except those the turn's understanding (``liked`` /
    ``disliked`` ids) or the user's own recorded feedback already speaks of, which say more than
    a clause; then the understood likes (unless also disliked) and dislikes."""
    known = {*liked, *disliked, *(e.video_id for e in history if e.kind != "impression")}
    return (
        [e for e in mention_events(mentions, now) if e.video_id not in known]
        + [FeedbackEvent("", v, "like", None, now) for v in liked if v not in disliked]
        + [FeedbackEvent("", v, "dislike", None, now) for v in disliked]
    )


def seeds_of(events: Sequence[FeedbackEvent]) -> list[str]:
    """The positive videos of ``events`` (:func:`agent.feedback.polarity`), newest first."""
    return list(dict.fromkeys(e.video_id for e in reversed(events) if is_positive(e)))

"""Titles named anywhere in a conversation, and what the user said about each.

A conversation about movies (or talks) names them as it goes: "I loved The Matrix (1999)", "have
you seen Inception?", "I hated Cats, too long". Each title of the library found in the text is a
:class:`Mention`; read without a language model:

* titles are found by their words (:class:`TitleSpotter`): the whole title, or a title without its
  trailing "(year)" when only one video of the library carries it; a bare one-word title only when
  it is written capitalised and is no ordinary word ("Inception", not "it" or "up");
* the polarity of a mention is what the clause around it says (:func:`clause_polarity`): a
  dislike cue ("hated", "didn't like", "not a fan of", "boring") makes it -1, anything else +1:
  naming a title in a conversation about what to watch says it is near the user's taste;
* a title the user's latest turn names first, in clauses that say no opinion of it and not that
  it was seen (:func:`clause_opinion`), is ``asked`` for: "the magic of Fibonacci numbers, not
  too long" asks for that talk (or one like it) and must not lose it.

The turn turns them into feedback events of the conversation (:func:`mention_events`: like or
dislike, whose meaning is :func:`agent.feedback.polarity`), so a liked mention seeds the
collaborative model and similar-title retrieval, a disliked one counts against its neighbours,
and every named title is left out of the answer (the user knows it), except those ``asked`` for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from agent.feedback import is_positive
from agent.text import STOPWORDS
from agent.types import FeedbackEvent, Message, TurnUnderstanding
from retrieval.types import Video

__all__ = [
    "ANAPHORA_RE",
    "Mention",
    "TitleSpotter",
    "clause_opinion",
    "clause_polarity",
    "clauses",
    "conversation_mentions",
    "mention_events",
    "seeds_of",
    "turn_feedback",
    "unread",
]

# A title's words as written, with their offsets and case (the capitalisation rules need both)
# and every word kept: not BM25's index terms (retrieval.lexical.tokenize: lower case, words of two
# characters or more, stop-words out, stemmed), under which the title "It" has no words at all and
# "2 Fast 2 Furious" reads as "fast furious".
_TOKEN_RE = re.compile(r"[A-Za-z0-9]+")
_YEAR_RE = re.compile(r"\s*\((?:19|20)\d\d\)\s*$")
_CLAUSE_RE = re.compile(r"[.!?;]+|\bbut\b|\bhowever\b|\bthough\b", re.IGNORECASE)
_DISLIKE_RE = re.compile(
    r"\b(?:hate[ds]?|hating|dislike[ds]?|didn'?t (?:like|enjoy|care for)|did not (?:like|enjoy)|"
    r"don'?t (?:like|enjoy|care for)|do not (?:like|enjoy)|not (?:a|much of a) fan|"
    r"not (?:for me|my (?:thing|type|cup of tea))|can'?t stand|boring|awful|terrible|horrible|"
    r"worst|overrated|disappointing|disappointed|(?<!not )(?<!n't )too (?:scary|slow|long|violent|gory)|"
    r"not (?:into|interested in)|stay away from|couldn'?t finish|fell asleep)\b",
    re.IGNORECASE,
)
# a clause saying the user likes, or has seen, what it names ("something like" asks, says nothing)
_OPINION_RE = re.compile(
    r"\b(?:(?:i|we|you|really|also|both|do|did|just|totally)\s+(?:like|love|enjoy|adore)|"
    r"liked|loved|enjoyed|adored|favou?rites?|great|amazing|awesome|brilliant|fantastic|"
    r"excellent|masterpiece|good|fun|funny|grew on me|seen|saw|watched|rewatched|already)\b",
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
        asked: first named by the user in the latest turn, in clauses with no opinion of it and
            no word of having seen it: the user asks for it (or for one like it).
    """

    video_id: str
    turn: int
    by_user: bool
    polarity: int
    asked: bool = False


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _key(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(w.lower() for w in words)


def _capitalised(word: str) -> bool:
    return word[:1].isupper() or word[:1].isdigit()


class TitleSpotter:
    """Finds the library's titles inside running text (longest match first, left to right).

    A title with its year ("Heat (1995)") is taken wherever it stands. One said without a year
    (or a video whose title has none) must not read as ordinary words: three words or more with
    two that carry meaning, or its words written capitalised ("Star Wars", not "star wars"); a one-word title written
    capitalised inside a sentence, not beside another capitalised word ("I loved Inception", not
    "Life is short" or "Michael Caine").

    Args:
        videos: the library's videos.
    """

    def __init__(self, videos: Iterable[Video]) -> None:
        self._full: dict[tuple[str, ...], set[str]] = {}
        self._bare: dict[tuple[str, ...], set[str]] = {}
        self._dated: set[tuple[str, ...]] = set()
        for video in videos:
            full = _key(_tokens(video.title))
            if not full or len(full) > MAX_TITLE_WORDS:
                continue
            self._full.setdefault(full, set()).add(video.id)
            bare = _key(_tokens(_YEAR_RE.sub("", video.title)))
            if bare and bare != full:
                self._bare.setdefault(bare, set()).add(video.id)
                self._dated.add(full)
        self._longest = max((len(k) for k in (*self._full, *self._bare)), default=0)

    @staticmethod
    def _plain_ok(words: Sequence[str], starts: Sequence[bool], i: int, n: int) -> bool:
        """Whether words ``i .. i+n`` of a text, a title without its year, name it."""
        said = words[i : i + n]
        content = [w for w in said if w.lower() not in STOPWORDS and len(w) > 1]
        if not content:
            return False
        if n >= 3 and len(content) >= 2:
            return True
        if n == 2:
            return all(_capitalised(w) for w in content)
        beside = [words[j] for j in (i - 1, i + 1) if 0 <= j < len(words) and not starts[j]]
        return (
            _capitalised(said[0])
            and len(said[0]) >= 4
            and not starts[i]
            and not any(_capitalised(w) for w in beside)
        )

    def find(self, text: str) -> list[str]:
        """Ids of the videos whose titles ``text`` names, in order of mention, each once."""
        return list(dict.fromkeys(video_id for video_id, _ in self.spans(text)))

    def spans(self, text: str) -> list[tuple[str, int]]:
        """Every title ``text`` names: ``(video id, offset of its first character)``."""
        tokens = list(_TOKEN_RE.finditer(text))
        words = [m.group(0) for m in tokens]
        before = [text[: m.start()].rstrip() for m in tokens]
        # a word that opens a sentence is capitalised whatever it is
        starts = [not b or b[-1] in '.!?:"(' for b in before]
        lowered = _key(words)
        found: list[tuple[str, int]] = []
        i = 0
        while i < len(words):
            step = 1
            for n in range(min(self._longest, len(words) - i), 0, -1):
                key = lowered[i : i + n]
                ids = self._full.get(key) if key in self._dated else None
                if ids is None:
                    ids = self._full.get(key) or self._bare.get(key)
                    if ids is not None and not self._plain_ok(words, starts, i, n):
                        ids = None
                if ids is not None and len(ids) == 1:  # two videos of one title: say nothing
                    found.append((next(iter(ids)), tokens[i].start()))
                    step = n
                    break
            i += step
        return found


def clause_polarity(text: str) -> int:
    """-1 when ``text`` (one clause) says the user is against what it names, else +1."""
    return -1 if _DISLIKE_RE.search(text) else 1


def clause_opinion(text: str) -> bool:
    """Whether ``text`` (one clause) says the user likes, dislikes or has seen what it names."""
    return bool(_DISLIKE_RE.search(text) or _OPINION_RE.search(text))


def clauses(text: str) -> list[str]:
    """The clauses of a message (split at sentence ends and at "but")."""
    return [text[a:b] for a, b in _clause_bounds(text) if text[a:b].strip()]


def _clause_bounds(text: str) -> list[tuple[int, int]]:
    cuts = [0, *(x for m in _CLAUSE_RE.finditer(text) for x in (m.start(), m.end())), len(text)]
    return [(cuts[j], cuts[j + 1]) for j in range(0, len(cuts) - 1, 2)]


def conversation_mentions(messages: Sequence[Message], spotter: TitleSpotter) -> list[Mention]:
    """Every library video the conversation names, first mention first.

    A title the user names carries the polarity of the user's clause about it; one the assistant
    named carries +1 unless a later user clause naming it again, or pointing back at it ("I
    didn't like that one" right after the assistant named it), says otherwise (the latest user
    word about a title wins). A title first named in the user's latest turn, with no opinion in
    any of its clauses there, is ``asked`` for (:class:`Mention`).
    """
    out: dict[str, Mention] = {}
    opinions: set[str] = set()  # the titles the latest turn names with an opinion
    last_named: list[str] = []  # the titles of the latest assistant message that named any
    for turn, message in enumerate(messages):
        by_user = message.role == "user"
        spans = spotter.spans(message.content)
        if not by_user:
            named = list(dict.fromkeys(v for v, _ in spans))
            last_named = named or last_named
            said = [(v, 1) for v in named]
        else:
            said = []
            for a, b in _clause_bounds(message.content):
                clause = message.content[a:b]
                sign = clause_polarity(clause)
                here = [v for v, at in spans if a <= at < b]
                if not here and ANAPHORA_RE.search(clause):
                    here = last_named
                said.extend((v, sign) for v in here)
                if turn == len(messages) - 1 and clause_opinion(clause):
                    opinions.update(here)
        for video_id, sign in said:
            first = out.get(video_id)
            if first is None:
                out[video_id] = Mention(video_id, turn, by_user, sign)
            elif by_user:
                out[video_id] = Mention(video_id, first.turn, True, sign)
    latest = len(messages) - 1
    return sorted(
        (
            replace(m, asked=m.by_user and m.turn == latest and m.video_id not in opinions)
            for m in out.values()
        ),
        key=lambda m: m.turn,
    )


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


def unread(
    understanding: TurnUnderstanding, mentions: Sequence[Mention]
) -> tuple[TurnUnderstanding, list[Mention]]:
    """The turn with no opinion read (``agent.opinions`` off, the ablation "no likes/dislikes"):
    every title the understanding says is liked, disliked or seen is one more named title, a
    like, and every mention counts +1; a topic of ``disliked`` lowers nothing (the filters'
    avoided topics stay)."""
    named = tuple(
        dict.fromkeys([*understanding.liked, *understanding.disliked, *understanding.seen])
    )
    plain = replace(understanding, liked=named, disliked=(), seen=())
    return plain, [replace(m, polarity=1) for m in mentions]

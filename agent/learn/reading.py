"""What the dialogue says about the catalogue's metadata, read by rules (no language model).

A :class:`Vocabulary` is built from the library's own metadata fields, so the same reading serves
a movie catalogue (MovieLens genres and tags, year) and a TED-like library (topics, speaker,
event tags, year): the tags every video carries, the speakers' names and the years.

:func:`read_dialogue` finds in the user's words

* tags of the catalogue named outright ("horror", "time travel", "technology"), plural or not,
  and the moods and everyday words that stand for a tag the catalogue has ("scary" -> horror,
  "funny" -> comedy; :data:`MOODS`, used only where the catalogue has that tag);
* which of them are said against ("I don't like horror", "no musicals": a negation within a few
  words before the tag, in the same sentence);
* speakers named by their full name;
* the years asked for: a decade ("80s", "the 1990s", "eighties"), a year ("from 2015"), or
  "old" / "classic" (before 1980) and "new" / "recent" (the catalogue's last three years).

:func:`agreement` turns one video's metadata and a :class:`Reading` into numbers that become
features of the learned ranker (``agent.learn.features``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from retrieval.types import Video

__all__ = ["MOODS", "Agreement", "Reading", "Vocabulary", "agreement", "read_dialogue"]

MOODS: dict[str, tuple[str, ...]] = {
    "scary": ("horror",),
    "scare": ("horror",),
    "creepy": ("horror",),
    "frightening": ("horror",),
    "funny": ("comedy",),
    "hilarious": ("comedy",),
    "laugh": ("comedy",),
    "comedic": ("comedy",),
    "lighthearted": ("comedy",),
    "romantic": ("romance",),
    "love story": ("romance",),
    "rom com": ("romance", "comedy"),
    "romcom": ("romance", "comedy"),
    "animated": ("animation",),
    "cartoon": ("animation",),
    "kids": ("children",),
    "kid": ("children",),
    "family": ("children",),
    "sci fi": ("sci-fi",),
    "scifi": ("sci-fi",),
    "science fiction": ("sci-fi",),
    "space": ("sci-fi", "space"),
    "suspense": ("thriller",),
    "suspenseful": ("thriller",),
    "thrilling": ("thriller",),
    "thrillers": ("thriller",),
    "mysterious": ("mystery",),
    "detective": ("mystery",),
    "whodunit": ("mystery",),
    "dramatic": ("drama",),
    "tearjerker": ("drama",),
    "sad": ("drama",),
    "cowboy": ("western",),
    "westerns": ("western",),
    "musicals": ("musical",),
    "documentaries": ("documentary",),
    "docs": ("documentary",),
    "superheroes": ("superhero",),
    "super hero": ("superhero",),
    "marvel": ("superhero", "marvel"),
    "action packed": ("action",),
    "fight": ("action",),
    "epic": ("adventure",),
    "magic": ("fantasy", "magic"),
    "gangster": ("crime",),
    "heist": ("crime", "heist"),
    "zombie": ("zombies",),
    "noir": ("film-noir",),
    "military": ("war",),
    "soldiers": ("war",),
}
_NEGATIONS = frozenset(
    [
        "not",
        "no",
        "don't",
        "dont",
        "didn't",
        "didnt",
        "hate",
        "hated",
        "dislike",
        "disliked",
        "isn't",
        "isnt",
        "aren't",
        "arent",
        "without",
        "never",
        "nothing",
        "avoid",
        "can't",
        "cant",
        "won't",
        "wont",
        "neither",
        "nor",
    ]
)
_NEGATION_REACH = 4  # words before a tag that can negate it
_MAX_NGRAM = 3
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
_SENTENCE = re.compile(r"[.!?;\n]+|\bbut\b")
_NUMBER_WORDS = {
    "twenties": 1920,
    "thirties": 1930,
    "forties": 1940,
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
}
_DECADE = re.compile(r"\b(?:(19|20)?([0-9])0)'?s\b")
_YEAR = re.compile(r"\b(19[2-9][0-9]|20[0-4][0-9])\b")
_OLD = frozenset({"old", "older", "classic", "classics", "oldie", "oldies", "vintage"})
_NEW = frozenset({"new", "newer", "recent", "latest", "modern", "current"})
OLD_BEFORE = 1980
RECENT_YEARS = 3


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("-", " ")))


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


class Vocabulary:
    """The catalogue's tags, speakers and years, normalised for matching."""

    def __init__(self, videos: Iterable[Video], *, min_len: int = 3) -> None:
        self.tags: dict[str, str] = {}  # normalised phrase -> the tag as the catalogue spells it
        self.speakers: dict[str, str] = {}
        years: list[int] = []
        for video in videos:
            for tag in video.tags:
                key = _norm(tag)
                if len(key) >= min_len and len(key.split()) <= _MAX_NGRAM:
                    self.tags.setdefault(key, tag.lower())
            if video.speaker:
                key = _norm(video.speaker)
                if len(key.split()) >= 2:
                    self.speakers.setdefault(key, video.speaker)
            if video.published is not None:
                years.append(video.published.year)
        self.latest_year = max(years) if years else None

    def __len__(self) -> int:
        return len(self.tags) + len(self.speakers)


@dataclass(frozen=True)
class Reading:
    """What the user's words ask for, in the catalogue's terms."""

    tags: frozenset[str] = frozenset()  # catalogue tags asked for (lower case)
    avoid_tags: frozenset[str] = frozenset()  # catalogue tags said against
    speakers: frozenset[str] = frozenset()  # speakers named (lower case)
    years: tuple[int, int] | None = None  # the years asked for, inclusive
    words: tuple[str, ...] = field(default=(), compare=False)

    @property
    def empty(self) -> bool:
        return not (self.tags or self.avoid_tags or self.speakers or self.years)


def _grams(words: Sequence[str]) -> Iterable[tuple[int, str]]:
    for n in range(1, _MAX_NGRAM + 1):
        for i in range(len(words) - n + 1):
            yield i, " ".join(words[i : i + n])


def _tags_of(phrase: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    found = [vocabulary.tags[phrase]] if phrase in vocabulary.tags else []
    single = " ".join(_singular(w) for w in phrase.split())
    if single != phrase and single in vocabulary.tags:
        found.append(vocabulary.tags[single])
    for tag in MOODS.get(phrase, ()):
        if tag in vocabulary.tags:
            found.append(vocabulary.tags[tag])
    return tuple(found)


def _years(text: str, latest: int | None, words: set[str]) -> tuple[int, int] | None:
    spans: list[tuple[int, int]] = []
    for century, digit in _DECADE.findall(text):
        decade = int(digit) * 10
        start = (int(century) * 100 if century else (1900 if decade >= 20 else 2000)) + decade
        spans.append((start, start + 9))
    for word, start in _NUMBER_WORDS.items():
        if word in words:
            spans.append((start, start + 9))
    for year in _YEAR.findall(text):
        spans.append((int(year), int(year)))
    if not spans and words & _OLD:
        spans.append((1900, OLD_BEFORE - 1))
    if not spans and latest is not None and words & _NEW:
        spans.append((latest - RECENT_YEARS + 1, latest))
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def read_dialogue(texts: Sequence[str], vocabulary: Vocabulary) -> Reading:
    """Read the user's turns (oldest first) against the catalogue's vocabulary."""
    tags: set[str] = set()
    avoid: set[str] = set()
    speakers: set[str] = set()
    all_words: list[str] = []
    for text in texts:
        for sentence in _SENTENCE.split(text.lower()):
            words = _norm(sentence).split()
            all_words.extend(words)
            for i, phrase in _grams(words):
                if phrase in vocabulary.speakers:
                    speakers.add(phrase)
                found = _tags_of(phrase, vocabulary)
                if not found:
                    continue
                negated = any(w in _NEGATIONS for w in words[max(0, i - _NEGATION_REACH) : i])
                (avoid if negated else tags).update(found)
    years = _years(" ".join(t.lower() for t in texts), vocabulary.latest_year, set(all_words))
    return Reading(
        frozenset(tags - avoid), frozenset(avoid), frozenset(speakers), years, tuple(all_words)
    )


@dataclass(frozen=True)
class Agreement:
    """How one video's metadata meets a reading."""

    tags: int  # its tags the user asked for
    tag_share: float  # ... as a share of the tags asked for (0 when none were)
    avoided: int  # its tags the user said they do not want
    year: int  # +1 in the years asked for, -1 outside them, 0 no year asked or unknown
    speaker: int  # 1 when its speaker was named


def agreement(video: Video, reading: Reading) -> Agreement:
    if reading.empty:
        return Agreement(0, 0.0, 0, 0, 0)
    own = {t.lower() for t in video.tags}
    hits = len(own & reading.tags)
    year = 0
    if reading.years is not None and video.published is not None:
        lo, hi = reading.years
        year = 1 if lo <= video.published.year <= hi else -1
    speaker = int(bool(video.speaker) and _norm(video.speaker or "") in reading.speakers)
    return Agreement(
        hits,
        hits / len(reading.tags) if reading.tags else 0.0,
        len(own & reading.avoid_tags),
        year,
        speaker,
    )

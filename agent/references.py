"""References by description: "the one by the astronaut about fear and danger", "the stress one".

Users rarely give exact titles. :class:`DescribedVideos` resolves such a mention against what the
library holds about each video (title, speaker, description, tags) and prefers the videos this
conversation already showed: a mention is matched to the video whose text contains the largest
share of the mention's words (crude stems, so "danger" finds "dangerous"), among the shown videos
first; it resolves only when that share is high enough and no other video ties it.

A talk the user watched is often described by what happens in it ("the one where the astronaut
went blind, the tears would not fall"), words its title and description do not hold.
:func:`resolve_by_search` then takes the library search's first hit for the mention, only when
the mention has enough identifying words (fewer for a definite "the ... one", which points at
one talk, than for "many talks about bees") and that video's own text (metadata and transcript)
holds most of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from agent.text import content_words, stem, words
from retrieval.types import Video

# words of a mention that describe how it is said, not which video it is
_GENERIC = frozenset(
    [
        "one",
        "ones",
        "talk",
        "talks",
        "video",
        "videos",
        "showed",
        "show",
        "shown",
        "gave",
        "sent",
        "suggested",
        "recommended",
        "earlier",
        "before",
        "already",
        "saw",
        "seen",
        "watched",
        "guy",
        "woman",
        "man",
        "person",
        "lady",
        "speaker",
        "people",
        "about",
    ]
)
MIN_SHARE = 0.5  # at least half of the mention's words must describe the video
SHOWN_SHARE = 0.34  # a video shown in this conversation needs only a third
SEARCH_WORDS = 4  # a mention resolved by search names at least this many identifying words,
SEARCH_WORDS_DEFINITE = 2  # or this many when it points at one talk ("the power pose talk")
_QUOTED = re.compile(
    r"(?:^|\s)['\"\u2018\u201c]([^'\"\u2019\u201d]{2,60})['\"\u2019\u201d](?=[\s,.;:!?]|$)"
)
SEARCH_SHARE = 0.6  # ... and the first hit's own text holds this share of them


def _bag(text: str) -> set[str]:
    found = words(text)
    return set(found) | {stem(w) for w in found}


def mention_words(mention: str) -> list[str]:
    """The words of a mention that can identify a video."""
    return [w for w in dict.fromkeys(content_words(mention)) if w not in _GENERIC]


class DescribedVideos:
    """The library's videos as bags of stems, for resolving described mentions.

    Args:
        videos: the library's videos.
    """

    def __init__(self, videos: Iterable[Video]) -> None:
        self._stems: dict[str, set[str]] = {}
        self._title_stems: dict[str, set[str]] = {}
        for v in videos:
            text = " ".join((v.title, v.speaker or "", v.description, " ".join(v.tags)))
            self._stems[v.id] = _bag(text)
            self._title_stems[v.id] = _bag(v.title)

    def share(self, mention: str, video_id: str, *, title_only: bool = False) -> float:
        """How much of ``mention`` describes the video (0..1), or its title alone."""
        wanted = mention_words(mention)
        have = (self._title_stems if title_only else self._stems).get(video_id)
        if not wanted or have is None:
            return 0.0
        return sum(w in have or stem(w) in have for w in wanted) / len(wanted)

    def _score(self, mention: str, video_id: str) -> tuple[float, float]:
        # the whole text decides; among equals, the video whose title says it
        return self.share(mention, video_id), self.share(mention, video_id, title_only=True)

    def resolve(self, mention: str, shown: Sequence[str] = ()) -> str | None:
        """The id of the video ``mention`` describes, or None when none (or several) fit."""
        if not mention_words(mention):
            return None
        for pool, least in ((list(dict.fromkeys(shown)), SHOWN_SHARE), (self._stems, MIN_SHARE)):
            scored = sorted(((self._score(mention, v), v) for v in pool), reverse=True)
            if not scored or scored[0][0][0] < least:
                continue
            if len(scored) > 1 and scored[1][0] == scored[0][0]:
                continue  # ambiguous: say nothing rather than exclude the wrong video
            return scored[0][1]
        return None


def resolve_by_search(
    mention: str,
    search: Callable[[str], Sequence[str]],
    text_of: Callable[[str], str],
) -> str | None:
    """The video a detailed ``mention`` describes, found by searching for it.

    Args:
        mention: what the user said about the video.
        search: the library search, mention -> video ids, best first.
        text_of: a video's whole text (title, description, tags, transcript).

    Returns:
        The search's first video when the mention has at least ``SEARCH_WORDS`` identifying words
        (``SEARCH_WORDS_DEFINITE`` when it starts with "the", "that" or "this") and that video's
        text holds ``SEARCH_SHARE`` of them; otherwise None.
    """
    # a quoted catchphrase counts word for word ("the 'not yet' one")
    quoted = [w for q in _QUOTED.findall(mention) for w in words(q)]
    wanted = list(dict.fromkeys([*mention_words(mention), *quoted]))
    definite = re.match(r"\s*(?:the|that|this)\b", mention, re.IGNORECASE) is not None
    if len(wanted) < (SEARCH_WORDS_DEFINITE if definite else SEARCH_WORDS):
        return None
    hits = search(mention)
    if not hits:
        return None
    have = _bag(text_of(hits[0]))
    share = sum(w in have or stem(w) in have for w in wanted) / len(wanted)
    return hits[0] if share >= SEARCH_SHARE else None

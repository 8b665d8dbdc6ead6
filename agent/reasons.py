"""The reason check: does a pick's reason say only what its evidence supports?

For one reason, the video it is about and the request, :func:`check_reason_quality` reports:

* ``supported``: the share of the reason's content words (stopwords, the request's own words and
  the neutral words of saying in :data:`NEUTRAL_WORDS` removed) found in the video's title,
  speaker, description, tags or evidence chunk (1.0 when no word is left to check);
* ``cut``: an unfinished sentence (no closing ``.``/``!``/``?``, a trailing ``...`` outside a
  quotation, or a last word such as "how" or "and" that cannot end one);
* ``boilerplate``: the first phrase of :data:`BOILERPLATE` it contains, or ``"repeats the
  request"`` / ``"repeats the title"`` when it says nothing beyond them;
* ``specific``: it names at least one word of the evidence (title, description, tags, chunk) that
  is not in the request (the speaker's name does not count);
* ``negations``: the reason's negated phrases that no evidence text negates
  (:mod:`agent.negation`: "never procrastinates" is not backed by "never been able to shake").

A reason *passes* when it is supported at least ``min_supported``, not cut, not boilerplate,
specific and negates nothing the evidence does not. The turn uses it to decide whether the model's sentence may replace the grounded one
(:mod:`agent.explain`); the evaluation prints the same figures (``python -m
evaluation.agent_reasons``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean

from agent.negation import unsupported_negations
from agent.text import content_words, sentences, stem, words
from retrieval.types import Video

#: Phrases that say nothing about the video (lower case; matched on whitespace-normalised text).
BOILERPLATE: tuple[str, ...] = (
    "clear and concise",
    "the video discusses",
    "this video discusses",
    "the video is about",
    "this video is about",
    "the video provides",
    "this video provides",
    "the video explores",
    "this video explores",
    "the video offers",
    "in this video",
    "designed to help viewers",
    "helps viewers understand",
    "visually stunning",
    "valuable insights",
    "unique perspective",
    "informative and engaging",
    "engaging and informative",
    "a must-watch",
    "must watch",
    "delves into",
    "fits your request",
    "matches your request",
    "is relevant to your request",
    "perfect for you",
    "you will love",
)

#: Words of saying and of the grounded template, which claim nothing about the content.
NEUTRAL_WORDS = frozenset(
    [
        "says",
        "said",
        "say",
        "explains",
        "explained",
        "describes",
        "describe",
        "discusses",
        "discuss",
        "explores",
        "explore",
        "talks",
        "speaks",
        "asks",
        "argues",
        "shows",
        "tells",
        "shares",
        "covers",
        "mentions",
        "matches",
        "match",
        "within",
        "speaker",
        "quote",
        "moment",
        "request",
        "asked",
        "close",
        "similar",
        "fits",
        "ted",
        "min",
        "minutes",
        # function words the shared stopword list keeps (it is tuned for search queries)
        *[
            "while",
            "because",
            "into",
            "through",
            "onto",
            "upon",
            "them",
            "they",
            "their",
            "he",
            "she",
            "his",
            "her",
            "him",
            "it's",
            "both",
            "each",
            "all",
            "many",
            "much",
            "own",
            "way",
            "ways",
            "well",
            "even",
            "still",
            "only",
            "then",
            "than",
            "yet",
            "such",
            "same",
            "whole",
            "every",
            "most",
            "let",
            "lets",
            "using",
            "used",
            "use",
            "uses",
            "make",
            "makes",
            "made",
            "help",
            "helps",
            "being",
            "been",
            "will",
            "would",
            "should",
            "might",
            "must",
            "shall",
        ],
    ]
)

# words a sentence cannot end on: "...designed to help viewers understand how,"
_DANGLING = frozenset(
    [
        "a",
        "about",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "her",
        "his",
        "how",
        "in",
        "is",
        "its",
        "my",
        "of",
        "on",
        "or",
        "our",
        "that",
        "the",
        "their",
        "these",
        "this",
        "those",
        "to",
        "was",
        "were",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "with",
        "your",
    ]
)
_QUOTED = re.compile(r'"[^"]*"|“[^”]*”')
_END = re.compile(r"[.!?][\"'”)\]]*$")
_TIMESTAMP = re.compile(r"\b\d{1,2}:\d\d(?::\d\d)?\b")  # the card's own evidence time


@dataclass(frozen=True)
class ReasonCheck:
    """The figures of one reason (see the module docstring)."""

    supported: float
    cut: bool
    boilerplate: str | None
    specific: bool
    unsupported: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()  # negated phrases the evidence does not negate

    def passes(self, min_supported: float = 0.9) -> bool:
        return (
            self.supported >= min_supported
            and not self.cut
            and self.boilerplate is None
            and self.specific
            and not self.negations
        )


def _support_stems(texts: Iterable[str]) -> tuple[set[str], set[str]]:
    """Exact words and stems of the evidence texts."""
    exact = {w for text in texts for w in words(text)}
    return exact, {stem(w) for w in exact if len(w) >= 4}


def _found(word: str, exact: set[str], stems_: set[str]) -> bool:
    if word in exact:
        return True
    parts = [p for p in re.split(r"['-]", word) if p]
    if len(parts) > 1 and all(p in exact or (len(p) >= 4 and stem(p) in stems_) for p in parts):
        return True
    return len(word) >= 4 and stem(word) in stems_


def is_cut(reason: str) -> bool:
    """Whether the reason ends mid-sentence."""
    text = " ".join(reason.split())
    if not text:
        return True
    if not _END.search(text):
        return True
    outside = _QUOTED.sub(" QUOTED ", text)
    if re.search(r"(?:\.\.\.|…)\s*$", outside):
        return True
    tail = words(outside.rstrip(".!?\"'”)] "))
    return bool(tail) and tail[-1] in _DANGLING


def boilerplate_of(reason: str, request: str, title: str = "", speaker: str = "") -> str | None:
    """The first boilerplate phrase in ``reason``, or "repeats the request" / "repeats the
    title" (it says nothing else but who speaks), or None."""
    norm = " ".join(reason.lower().split())
    for phrase in BOILERPLATE:
        if phrase in norm:
            return phrase
    asked = " ".join(request.lower().split()).strip(" .!?")
    if len(asked) >= 12 and asked in norm:
        return "repeats the request"
    said = set(content_words(_QUOTED.sub(" ", reason))) - NEUTRAL_WORDS - set(words(speaker))
    request_words = set(content_words(request))
    if said and said <= request_words:
        return "repeats the request"
    if said and said <= request_words | set(content_words(title)):
        return "repeats the title"
    return None


def video_texts(video: Video, evidence: str) -> list[str]:
    """What a reason about ``video`` may draw on: its metadata and the evidence chunk."""
    minutes = f"{round(video.duration / 60)}" if video.duration else ""
    return [
        video.title,
        video.speaker or "",
        video.description or "",
        " ".join(video.tags),
        evidence,
        minutes,
    ]


def check_reason_quality(
    reason: str, *, request: str, video: Video, evidence: str, allowed: Sequence[str] = ()
) -> ReasonCheck:
    """The reason check of one pick.

    Args:
        reason: the sentence shown on the card.
        request: what the user asked (its words neither count as support nor as specific).
        video: the pick (title, speaker, description, tags, duration).
        evidence: the text of the evidence chunk the card quotes.
        allowed: other texts the reason may rightly name (e.g. the title of a video the user
            liked, for "close to X, which you liked"; the length limit the user asked for).
            A timestamp ("3:12") is the card's own evidence time and is not checked.
    """
    support = [*video_texts(video, evidence), *allowed]
    exact, stems_ = _support_stems(support)
    asked = set(content_words(request))
    asked_stems = {stem(w) for w in asked if len(w) >= 4}
    checked = [
        w
        for w in dict.fromkeys(content_words(_TIMESTAMP.sub(" ", reason)))
        if w not in NEUTRAL_WORDS and w not in asked and stem(w) not in asked_stems
    ]
    unsupported = tuple(w for w in checked if not _found(w, exact, stems_))
    supported = 1.0 - len(unsupported) / len(checked) if checked else 1.0
    evidence_exact, evidence_stems = _support_stems(video_texts(video, evidence))
    # who speaks is on every card: naming them is not yet saying anything specific
    speaker = set(words(video.speaker or ""))
    specific = any(
        _found(w, evidence_exact, evidence_stems)
        for w in checked
        if not w.isdigit() and w not in speaker
    )
    return ReasonCheck(
        supported=supported,
        cut=is_cut(reason),
        boilerplate=boilerplate_of(reason, request, video.title, video.speaker or ""),
        specific=specific,
        unsupported=unsupported,
        negations=unsupported_negations(reason, support),
    )


@dataclass(frozen=True)
class ReasonSummary:
    """The figures over many reasons: mean supported, and how many were cut, boilerplate, vague."""

    reasons: int
    supported_mean: float
    cut: int
    boilerplate: int
    specific_share: float
    passing_share: float


def summarise(checks: Sequence[ReasonCheck], min_supported: float = 0.9) -> ReasonSummary:
    if not checks:
        return ReasonSummary(0, float("nan"), 0, 0, float("nan"), float("nan"))
    return ReasonSummary(
        reasons=len(checks),
        supported_mean=fmean(c.supported for c in checks),
        cut=sum(c.cut for c in checks),
        boilerplate=sum(c.boilerplate is not None for c in checks),
        specific_share=fmean(c.specific for c in checks),
        passing_share=fmean(c.passes(min_supported) for c in checks),
    )


# --- the shape of a model sentence as a card shows it ----------------------------------------

MAX_REASON_CHARS = 320


def trim_reason(reason: str, *, max_sentences: int = 2) -> str:
    """At most ``max_sentences`` sentences and ``MAX_REASON_CHARS`` characters."""
    text = " ".join(sentences(reason)[:max_sentences]).strip()
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3].rsplit(" ", 1)[0] + "..."
    return text


_VIDEO_OPENER = re.compile(
    r"^\s*(?:the|this) (?:video|talk)(?: \d+)?\b|^\s*(?:video|talk) \d+\s*:?", re.IGNORECASE
)


def finished_sentence(text: str, *, cut_off: bool) -> str:
    """The model's first sentence, or "" when it is unfinished: ``cut_off`` says the token limit
    ended the answer, so a first sentence without closing punctuation was cut, not finished."""
    parts = sentences(text.strip().strip('"'))
    if not parts:
        return ""
    first = parts[0].strip()
    if cut_off and first[-1:] not in (".", "!", "?"):
        return ""
    return first


def tidy_sentence(sentence: str, video: Video) -> str:
    """The model's sentence as a card shows it: one sentence, "The video 2 shows" -> "Al Gore
    shows" (the small model numbers the videos as the prompt does), and a closing full stop
    where it left a finished sentence without one (a dangling word still reads as cut)."""
    text = trim_reason(sentence, max_sentences=1)
    text = _VIDEO_OPENER.sub(video.speaker or "It", text, count=1).strip()
    if text and text[-1] not in ".!?\"'”)" and not is_cut(text + "."):
        text += "."
    return text

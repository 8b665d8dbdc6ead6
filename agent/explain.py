"""Grounded reasons: why each pick fits, citing what is said in it and when.

For every recommended video the evidence chunk is fetched again from the library and must belong to
that video (``Library.chunk``); otherwise the video's best matching spoken chunk is used instead.
The quote shown is the chunk's sentence that best matches the request (never one that reads like an
instruction to the assistant).

Each card gets a **grounded reason** the moment it exists, built from evidence alone, no model
(:func:`grounded_reason`): the request's words the video's own text matches, the quoted moment and
its timestamp, "close to X, which you liked" when the user's history drove the pick, and "12 min,
within your 15" when the user set a length. Then the model writes one sentence per card (the top
``top`` cards): one short request each (the fixed system text first, so llama.cpp's prompt cache
reuses it; then the request and that card's title and evidence), all sent at once so the server
decodes them together (llama.cpp's parallel slots and continuous batching, or any
OpenAI-compatible server such as vLLM), with a short hard token limit. Each sentence is checked
the moment it arrives, and replaces the grounded one only when it is a finished sentence and
passes every check:

* grounding (:func:`check_reason`): shares wording with the evidence, names no other video of the
  library, carries no instruction-like text, markup or links;
* quality (:func:`agent.reasons.check_reason_quality`): supported by the video's text, a finished
  sentence, no boilerplate, something specific.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from agent.conversation import quote_untrusted
from agent.evidence import is_spoken
from agent.llm.base import LLM, LLMOutputError
from agent.reasons import check_reason_quality, finished_sentence, tidy_sentence, video_texts
from agent.text import STOPWORDS, content_words, sentences, stem, stems
from agent.types import Candidate, Recommendation
from prompts.loader import load_prompt
from retrieval.library import Library
from retrieval.types import Chunk, SearchFilters, Video

log = logging.getLogger(__name__)

QUOTE_WORDS = 30
EVIDENCE_CHARS = 360  # per card: the quoted moment and the start of the description

MODEL_REASON_MIN_CHARS = 40  # a sentence, not a title
TOKENS_PER_REASON = 40  # the hard limit of one card's request


SUSPICIOUS = re.compile(
    r"ignore (?:all |any |your |my |the |previous |prior |above )*(?:instructions?|rules|prompts?)"
    r"|disregard (?:all |your |the |previous )*(?:instructions?|rules)|system prompt"
    r"|\binstructions?\b|you must recommend|<\s*/?\s*[a-z]+[^>]*>|https?://|www\.",
    re.IGNORECASE,
)
# stricter, for choosing the quote: a sentence that talks to an assistant is never quoted
UNQUOTABLE = re.compile(
    r"\b(?:instructions?|ignore|disregard|system|prompt|recommend\w*)\b|[<>]", re.IGNORECASE
)


def format_timestamp(seconds: float) -> str:
    s = max(0, int(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def best_quote(text: str, request: str, *, max_words: int = QUOTE_WORDS) -> str:
    """The sentence of ``text`` that best matches ``request`` (ties: the earliest), cut to size.

    Sentences that read like instructions to an assistant are never quoted ("" if all do).
    """
    parts = sentences(text)
    if not parts:
        return ""
    wanted = stems(content_words(request))
    clean = [s for s in parts if not UNQUOTABLE.search(s)]
    if not clean:
        return ""
    # the best match; among equals a finished sentence that fits, then the earliest
    best = max(
        clean,
        key=lambda s: (
            len(stems(content_words(s)) & wanted),
            s[0].isupper() and s[-1] in ".!?",
            len(s.split()) <= max_words,
            -clean.index(s),
        ),
    )
    words = best.split()
    if len(words) > max_words:
        best = " ".join(words[:max_words]) + " ..."
    return best


def template_reason(video_title: str, speaker: str | None, quote: str, start: float) -> str:
    """The quoted moment: "At 3:12, Edith Widder says: "..."" (a finished sentence)."""
    who = speaker or "the speaker"
    if not quote:
        return f"At {format_timestamp(start)} in {video_title!r}, {who} covers this topic."
    if quote[-1] in ".!?":
        return f'At {format_timestamp(start)}, {who} says: "{quote}"'
    return f'At {format_timestamp(start)}, {who} says: "{quote} ...".'  # a fragment, marked


_CASED_WORD = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")


def matched_terms(request: str, texts: Sequence[str], *, limit: int = 3) -> list[str]:
    """The request's words as the video's own texts write them ("ocean" -> "oceans"), in the
    order of ``texts`` (tags first reads best), at most ``limit``."""
    wanted = {stem(w) for w in content_words(request) if len(w) >= 3}
    out: list[str] = []
    for text in texts:
        for word in _CASED_WORD.findall(text):
            key = stem(word.lower())
            if word.lower() in STOPWORDS or key not in wanted:
                continue
            if key not in {stem(o.lower()) for o in out}:
                out.append(word)
                if len(out) >= limit:
                    return out
    return out


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def length_note(duration: float | None, limits: SearchFilters) -> str:
    """ "12 min, within your 15." when the user set a length, else ""."""
    if duration is None:
        return ""
    minutes = max(1, round(duration / 60))
    if limits.max_duration is not None:
        return f"{minutes} min, within your {max(1, round(limits.max_duration / 60))}."
    if limits.min_duration is not None:
        return f"{minutes} min, at least the {max(1, round(limits.min_duration / 60))} you asked."
    return ""


def grounded_reason(
    video: Video,
    quote: str,
    start: float,
    request: str,
    limits: SearchFilters,
    liked_title: str | None = None,
) -> str:
    """The reason a card shows at once, from evidence alone (see the module docstring)."""
    terms = [
        t
        for t in matched_terms(request, [" ".join(video.tags), video.title, video.description])
        if t not in quote.lower()
    ]
    moment = template_reason(video.title, video.speaker, quote, start)
    parts = [f"On {_and(terms)}: {moment[0].lower()}{moment[1:]}" if terms else moment]
    if liked_title:
        parts.append(f'Close to "{liked_title}", which you liked.')
    if note := length_note(video.duration, limits):
        parts.append(note)
    return " ".join(parts)


def check_reason(
    reason: str,
    *,
    evidence: str,
    video_id: str,
    other_titles: Mapping[str, str],
) -> str | None:
    """Why ``reason`` is not acceptable, or None when it passes every grounding check.

    Args:
        reason: the model's reason.
        evidence: the text of the cited chunk.
        video_id: the video it is about.
        other_titles: video id -> normalised title, for every video of the library.
    """
    text = " ".join(reason.split())
    if not text:
        return "empty"
    if SUSPICIOUS.search(text):
        return "instruction-like text, markup or a link"
    if not stems(content_words(text)) & stems(content_words(evidence)):
        return "shares no wording with the evidence"
    norm = " " + " ".join(re.findall(r"[a-z0-9]+", text.lower())) + " "
    for other_id, title in other_titles.items():
        if other_id == video_id or len(title) < 10 or " " not in title:
            continue
        if f" {title} " in norm:
            return f"names another video ({other_id})"
    return None


@dataclass(frozen=True)
class ReasonContext:
    """What a reason may refer to besides the video: the request, the user's length limits and
    the titles of videos the user liked (id -> title), for "close to X, which you liked"."""

    request: str
    limits: SearchFilters = field(default_factory=SearchFilters)
    liked: Mapping[str, str] = field(default_factory=dict)
    closest_liked: Mapping[str, str] = field(default_factory=dict)  # pick id -> liked id

    def allowed(self, video_id: str) -> list[str]:
        """Texts a reason about ``video_id`` may name: the liked title, the user's limits."""
        liked_id = self.closest_liked.get(video_id)
        out = [self.liked[liked_id]] if liked_id is not None and liked_id in self.liked else []
        for limit in (self.limits.max_duration, self.limits.min_duration):
            if limit is not None:
                out.append(str(max(1, round(limit / 60))))
        return out


class Explainer:
    """Builds each :class:`Recommendation` with a grounded reason, then (one short model request
    per card, sent together) replaces reasons with the model's sentences that pass the checks."""

    def __init__(
        self,
        library: Library,
        llm: LLM | None,
        *,
        use_llm: bool = True,
        top: int = 5,
        tokens_per_reason: int = TOKENS_PER_REASON,
        min_supported: float = 0.9,
    ) -> None:
        self.library = library
        self.llm = llm
        self.use_llm = use_llm and llm is not None and top > 0
        self.top = top
        self.tokens_per_reason = tokens_per_reason
        self.min_supported = min_supported
        self.prompt = load_prompt("explain")

    def evidence_chunk(self, candidate: Candidate, request: str) -> Chunk | None:
        """The candidate's evidence chunk, verified to belong to its video (or a replacement)."""
        video_id = candidate.video.id
        chunk = None
        if candidate.evidence_chunk_id:
            chunk = self.library.chunk(candidate.evidence_chunk_id)
            if chunk is not None and chunk.video_id != video_id:
                log.warning(
                    "evidence chunk %s does not belong to %s; choosing another",
                    candidate.evidence_chunk_id,
                    video_id,
                )
                chunk = None
            if chunk is not None and is_spoken(chunk):
                return chunk
        # no usable chunk, or only the title/description one: the best matching spoken chunk
        chunks = [c for c in self.library.chunks(video_id) if c.video_id == video_id]
        spoken = [c for c in chunks if is_spoken(c)]
        if not spoken:
            return chunk or (chunks[0] if chunks else None)
        wanted = stems(content_words(request))
        return max(spoken, key=lambda c: (len(stems(content_words(c.text)) & wanted), -c.index))

    def explain(
        self, candidate: Candidate, context: ReasonContext | str, rank: int
    ) -> tuple[Recommendation, Chunk] | None:
        """The card for ``candidate`` with its grounded reason, and the evidence chunk it quotes
        (None when the video has no evidence at all). No model call."""
        if isinstance(context, str):
            context = ReasonContext(context)
        chunk = self.evidence_chunk(candidate, context.request)
        if chunk is None:
            log.warning("no evidence chunk for %s; dropped", candidate.video.id)
            return None
        video = candidate.video
        quote = best_quote(chunk.text, context.request)
        liked_id = context.closest_liked.get(video.id)
        reason = grounded_reason(
            video,
            quote,
            chunk.start,
            context.request,
            context.limits,
            context.liked.get(liked_id) if liked_id else None,
        )
        rec = Recommendation(
            video=video,
            score=candidate.score,
            reason=reason,
            evidence_quote=quote,
            evidence_start=chunk.start,
            evidence_end=chunk.end,
            evidence_chunk_id=chunk.id,
            rank=rank,
        )
        return rec, chunk

    def write_one(self, rec: Recommendation, context: ReasonContext) -> str:
        """The model's sentence for one card, unchecked ("" when it wrote no finished sentence
        or its answer was unusable). One short request: the fixed system text, then the request
        and this card's title and evidence."""
        assert self.llm is not None
        messages = self.prompt.render(
            request=quote_untrusted(context.request, max_chars=400),
            title=quote_untrusted(rec.video.title, max_chars=160),
            speaker=quote_untrusted(rec.video.speaker or "", max_chars=80),
            evidence=quote_untrusted(
                f"{rec.evidence_quote} {rec.video.description}", max_chars=EVIDENCE_CHARS
            ),
        )
        try:
            completion = self.llm.complete(
                messages,
                max_tokens=self.tokens_per_reason,
                temperature=0.0,
                tag=self.prompt.tag,
            )
        except LLMOutputError as exc:
            log.warning("model reason for %s unusable, grounded kept: %s", rec.video.id, exc)
            return ""
        cut_off = completion.completion_tokens >= self.tokens_per_reason
        return finished_sentence(completion.text, cut_off=cut_off)

    def drafts(
        self, cards: Sequence[tuple[Recommendation, Chunk]], context: ReasonContext
    ) -> Iterator[tuple[int, str]]:
        """(card index, the model's sentence) for the top ``top`` cards, as each arrives: all
        requests are sent at once, so the server decodes them together."""
        if not self.use_llm or self.llm is None or not cards:
            return
        chosen = list(cards[: self.top])
        pool = ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="explain")
        try:
            pending: dict[Future[str], int] = {
                pool.submit(self.write_one, rec, context): i for i, (rec, _) in enumerate(chosen)
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=pending.__getitem__):
                    yield pending.pop(future), future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def write(
        self, cards: Sequence[tuple[Recommendation, Chunk]], context: ReasonContext
    ) -> list[str]:
        """The model's sentences for the top ``top`` cards, in card order, unchecked."""
        by_card = dict(self.drafts(cards, context))
        return [by_card[i] for i in sorted(by_card)]

    def refine(
        self,
        cards: Sequence[tuple[Recommendation, Chunk]],
        context: ReasonContext,
        other_titles: Mapping[str, str],
    ) -> Iterator[Recommendation]:
        """Each card whose reason the model improved, as soon as its sentence arrives and
        passes every check (:meth:`problem`)."""
        for i, sentence in self.drafts(cards, context):
            rec, chunk = cards[i]
            reason = tidy_sentence(sentence, rec.video) if sentence else ""
            why = self.problem(reason, rec, chunk, context, other_titles)
            if why is not None:
                log.info("model reason for %s kept out (%s)", rec.video.id, why)
                continue
            yield replace(rec, reason=reason)

    def problem(
        self,
        reason: str,
        rec: Recommendation,
        chunk: Chunk,
        context: ReasonContext,
        other_titles: Mapping[str, str],
    ) -> str | None:
        """Why a model sentence may not replace the grounded reason, or None."""
        if len(reason) < MODEL_REASON_MIN_CHARS:
            return "no finished sentence" if not reason else "too short for a sentence"
        why = check_reason(
            reason,
            evidence=" ".join(video_texts(rec.video, chunk.text)),
            video_id=rec.video.id,
            other_titles=other_titles,
        )
        if why is not None:
            return why
        quality = check_reason_quality(
            reason,
            request=context.request,
            video=rec.video,
            evidence=chunk.text,
            allowed=context.allowed(rec.video.id),
        )
        if not quality.passes(self.min_supported):
            return f"reason check: {quality}"
        return None

"""Grounded reasons: why each pick fits, citing what is said in it and when.

For every recommended video the evidence chunk is fetched again from the library and must belong to
that video (``Library.chunk``); otherwise the video's best matching chunk is used instead. The
quote shown to the user is the chunk's sentence that best matches the request (never one that reads
like an instruction to the assistant). The LLM writes a one- or two-sentence reason from the evidence,
quoted inside escaped ``<evidence>`` delimiters; the reason is checked:

* it is non-empty and at most two sentences (longer ones are cut);
* it shares wording with the evidence (it quotes or paraphrases what is said);
* it names no other video of the library by its title;
* it carries no instruction-like text, markup or links (what a prompt injection would leave behind).

A reason that fails falls back to a template that quotes the chunk with its timestamp.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from agent.conversation import quote_untrusted
from agent.llm.base import LLM, LLMOutputError
from agent.ranking import is_spoken
from agent.text import content_words, sentences, stems
from agent.types import Candidate, Recommendation
from prompts.loader import load_prompt
from retrieval.library import Library
from retrieval.types import Chunk

log = logging.getLogger(__name__)

QUOTE_WORDS = 30
MAX_REASON_CHARS = 320
EVIDENCE_CHARS = 600

EXPLAIN_SCHEMA: dict[str, Any] = {
    "title": "reason",
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": MAX_REASON_CHARS}},
    "required": ["reason"],
    "additionalProperties": False,
}

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
    best = max(clean, key=lambda s: (len(stems(content_words(s)) & wanted), -clean.index(s)))
    words = best.split()
    if len(words) > max_words:
        best = " ".join(words[:max_words]) + " ..."
    return best


def template_reason(video_title: str, speaker: str | None, quote: str, start: float) -> str:
    """The fallback: quote the evidence with its timestamp."""
    who = speaker or "the video"
    if not quote:
        return f"At {format_timestamp(start)} in {video_title!r}, {who} covers this topic."
    return f'At {format_timestamp(start)}, {who} says: "{quote}"'


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


def trim_reason(reason: str) -> str:
    """At most two sentences and ``MAX_REASON_CHARS`` characters."""
    text = " ".join(sentences(reason)[:2]).strip()
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 3].rsplit(" ", 1)[0] + "..."
    return text


class Explainer:
    """Builds each :class:`Recommendation` with a grounded reason (LLM or template)."""

    def __init__(
        self, library: Library, llm: LLM | None, *, use_llm: bool = True, max_tokens: int = 96
    ) -> None:
        self.library = library
        self.llm = llm
        self.use_llm = use_llm and llm is not None
        self.max_tokens = max_tokens
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
        self,
        candidate: Candidate,
        request: str,
        rank: int,
        other_titles: Mapping[str, str],
    ) -> Recommendation | None:
        """The recommendation for ``candidate`` (None when the video has no evidence at all)."""
        chunk = self.evidence_chunk(candidate, request)
        if chunk is None:
            log.warning("no evidence chunk for %s; dropped", candidate.video.id)
            return None
        video = candidate.video
        quote = best_quote(chunk.text, request)
        reason = None
        if self.use_llm and self.llm is not None:
            reason = self._llm_reason(candidate, chunk, request, other_titles)
        if reason is None:
            reason = template_reason(video.title, video.speaker, quote, chunk.start)
        return Recommendation(
            video=video,
            score=candidate.score,
            reason=reason,
            evidence_quote=quote,
            evidence_start=chunk.start,
            evidence_end=chunk.end,
            evidence_chunk_id=chunk.id,
            rank=rank,
        )

    def _llm_reason(
        self, candidate: Candidate, chunk: Chunk, request: str, other_titles: Mapping[str, str]
    ) -> str | None:
        assert self.llm is not None
        video = candidate.video
        messages = self.prompt.render(
            request=quote_untrusted(request, max_chars=400),
            title=quote_untrusted(video.title, max_chars=160),
            speaker=quote_untrusted(video.speaker or "", max_chars=80),
            chunk_id=quote_untrusted(chunk.id, max_chars=80),
            timestamp=format_timestamp(chunk.start),
            evidence=quote_untrusted(chunk.text, max_chars=EVIDENCE_CHARS),
        )
        try:
            completion = self.llm.complete(
                messages,
                schema=EXPLAIN_SCHEMA,
                max_tokens=self.max_tokens,
                temperature=0.0,
                tag=self.prompt.tag,
            )
        except LLMOutputError as exc:
            log.warning("reason for %s from template: %s", video.id, exc)
            return None
        data = completion.data if isinstance(completion.data, dict) else {}
        raw = data.get("reason")
        reason = trim_reason(raw) if isinstance(raw, str) else ""
        why = check_reason(
            reason, evidence=chunk.text, video_id=video.id, other_titles=other_titles
        )
        if why is not None:
            log.info("reason for %s failed grounding (%s); template used", video.id, why)
            return None
        return reason

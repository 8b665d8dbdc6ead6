"""LLM listwise rerank of the top candidates, with each one's evidence snippet.

The model sees the request, optionally the user's taste (titles they liked), and for each candidate
its title and evidence quoted inside ``<evidence>`` delimiters (escaped, so the transcript cannot
close the tag or smuggle instructions). Its output is constrained by a JSON schema to an ordering of
the candidates' ids (an enum), so it can only reorder what retrieval found, never add a video.
Missing ids keep their original relative order after the ranked ones; duplicates and unknown ids are
dropped; an unusable answer leaves the order as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.conversation import quote_untrusted
from agent.llm.base import LLM, LLMOutputError
from agent.types import Candidate, Message
from prompts.loader import load_prompt

log = logging.getLogger(__name__)

EVIDENCE_CHARS = 300


@dataclass(frozen=True)
class _PromptCandidate:
    id: str
    title: str
    chunk_id: str
    evidence: str


def rerank_schema(ids: Sequence[str]) -> dict[str, Any]:
    """``{"ranking": [id, ...]}`` with every item one of ``ids``."""
    return {
        "title": "rerank",
        "type": "object",
        "properties": {
            "ranking": {
                "type": "array",
                "items": {"type": "string", "enum": list(ids)},
                "minItems": 1,
                "maxItems": len(ids),
            }
        },
        "required": ["ranking"],
        "additionalProperties": False,
    }


def apply_order(candidates: Sequence[Candidate], ranking: Any) -> list[Candidate]:
    """Reorder ``candidates`` by the model's ``ranking`` (robust to junk, gaps and repeats)."""
    by_id = {c.video.id: c for c in candidates}
    out: list[Candidate] = []
    taken: set[str] = set()
    if isinstance(ranking, list):
        for item in ranking:
            if isinstance(item, str) and item in by_id and item not in taken:
                taken.add(item)
                out.append(by_id[item])
    out.extend(c for c in candidates if c.video.id not in taken)
    return out


class Reranker:
    """Listwise rerank of the top ``top_n`` candidates by the LLM."""

    def __init__(self, llm: LLM, *, top_n: int = 8, max_tokens: int = 160) -> None:
        self.llm = llm
        self.top_n = top_n
        self.max_tokens = max_tokens
        self.prompt = load_prompt("rerank")

    def messages(
        self, request: str, candidates: Sequence[Candidate], taste: Sequence[str] = ()
    ) -> list[Message]:
        """The rendered prompt (untrusted text escaped inside its delimiters)."""
        items = [
            _PromptCandidate(
                id=c.video.id,
                title=quote_untrusted(c.video.title, max_chars=120),
                chunk_id=quote_untrusted(c.evidence_chunk_id or "", max_chars=80),
                evidence=quote_untrusted(c.evidence_text, max_chars=EVIDENCE_CHARS),
            )
            for c in candidates
        ]
        return self.prompt.render(
            request=quote_untrusted(request, max_chars=400),
            taste="; ".join(quote_untrusted(t, max_chars=100) for t in taste[:3]),
            candidates=items,
        )

    def rerank(
        self, request: str, candidates: Sequence[Candidate], taste: Sequence[str] = ()
    ) -> list[Candidate]:
        """The candidates with the top ``top_n`` reordered by the model (the rest unchanged)."""
        head = list(candidates[: self.top_n])
        tail = list(candidates[self.top_n :])
        if len(head) < 2:
            return list(candidates)
        ids = [c.video.id for c in head]
        try:
            completion = self.llm.complete(
                self.messages(request, head, taste),
                schema=rerank_schema(ids),
                max_tokens=self.max_tokens,
                temperature=0.0,
                tag=self.prompt.tag,
            )
        except LLMOutputError as exc:
            log.warning("rerank skipped, model output unusable: %s", exc)
            return list(candidates)
        data = completion.data if isinstance(completion.data, dict) else {}
        reordered = apply_order(head, data.get("ranking"))
        log.debug("rerank %s -> %s", ids, [c.video.id for c in reordered])
        return reordered + tail

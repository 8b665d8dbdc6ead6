"""LLM listwise rerank of the top candidates, with each one's evidence snippet.

The model sees the request, optionally the user's taste (titles they liked), and for each candidate
a short id (its number in the list), its title and its evidence quoted inside ``<evidence>``
delimiters (escaped, so the transcript cannot close the tag or smuggle instructions). Its output is
constrained by a JSON schema to an ordering of those ids (an enum), so it can only reorder what
retrieval found, never add a video. It is asked for the best ``picks`` only (short answers decode
fast on a CPU); candidates it leaves out keep their original relative order after the ranked ones;
duplicates and unknown ids are dropped; an unusable answer leaves the order as it was.
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


def rerank_schema(ids: Sequence[str], picks: int | None = None) -> dict[str, Any]:
    """``{"ranking": [id, ...]}``: at most ``picks`` items, each one of ``ids``."""
    return {
        "title": "rerank",
        "type": "object",
        "properties": {
            "ranking": {
                "type": "array",
                "items": {"type": "string", "enum": list(ids)},
                "minItems": 1,
                "maxItems": min(picks or len(ids), len(ids)),
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

    def __init__(self, llm: LLM, *, top_n: int = 8, max_tokens: int = 64) -> None:
        self.llm = llm
        self.top_n = top_n
        self.max_tokens = max_tokens
        self.prompt = load_prompt("rerank")

    def messages(
        self,
        request: str,
        candidates: Sequence[Candidate],
        taste: Sequence[str] = (),
        picks: int = 5,
    ) -> list[Message]:
        """The rendered prompt (untrusted text escaped inside its delimiters); ids are 1..N."""
        items = [
            _PromptCandidate(
                id=str(i),
                title=quote_untrusted(c.video.title, max_chars=120),
                chunk_id=quote_untrusted(c.evidence_chunk_id or "", max_chars=80),
                evidence=quote_untrusted(c.evidence_text, max_chars=EVIDENCE_CHARS),
            )
            for i, c in enumerate(candidates, start=1)
        ]
        return self.prompt.render(
            request=quote_untrusted(request, max_chars=400),
            taste="; ".join(quote_untrusted(t, max_chars=100) for t in taste[:3]),
            candidates=items,
            picks=min(picks, len(items)),
        )

    def rerank(
        self,
        request: str,
        candidates: Sequence[Candidate],
        taste: Sequence[str] = (),
        picks: int = 5,
    ) -> list[Candidate]:
        """The candidates with the model's best ``picks`` of the top ``top_n`` first."""
        head = list(candidates[: self.top_n])
        tail = list(candidates[self.top_n :])
        if len(head) < 2:
            return list(candidates)
        labels = [str(i) for i in range(1, len(head) + 1)]
        try:
            completion = self.llm.complete(
                self.messages(request, head, taste, picks),
                schema=rerank_schema(labels, picks),
                max_tokens=self.max_tokens,
                temperature=0.0,
                tag=self.prompt.tag,
            )
        except LLMOutputError as exc:
            log.warning("rerank skipped, model output unusable: %s", exc)
            return list(candidates)
        data = completion.data if isinstance(completion.data, dict) else {}
        ranking = data.get("ranking")
        by_label = dict(zip(labels, (c.video.id for c in head), strict=True))
        ids = (
            [by_label.get(x) if isinstance(x, str) else None for x in ranking]
            if isinstance(ranking, list)
            else ranking
        )
        reordered = apply_order(head, ids)
        log.debug("rerank %s -> %s", [c.video.id for c in head], [c.video.id for c in reordered])
        return reordered + tail

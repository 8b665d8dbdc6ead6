"""A query keeps its newest words.

A sentence-transformer reads at most ``max_seq_length`` word pieces (256 for all-MiniLM-L6-v2)
and cuts the rest from the end. For a document chunk that is the usual choice; for a query made
of a conversation (``agent.collab.requests.conversation_text``: every message, oldest first) it
cuts the newest words, the ones that say what the user wants now: 17 % of INSPIRED's
conversations and 1 % of ReDial's run past 256 word pieces. Queries are therefore cut from the
front, at a word-piece boundary, before they are encoded, and the query encoder is trained on
texts cut the same way (:mod:`retrieval.embed.query_adapt`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["WINDOW", "newest_words"]

# what a cache of trained query encoders keys on: encoders trained before the cut differ
WINDOW = "queries keep their newest words"

_SPECIAL = 2  # [CLS] and [SEP] (BERT-like) or <s> and </s>: counted in max_seq_length


def newest_words(model: Any, texts: Sequence[str]) -> list[str]:
    """Each text cut from the front to the window of ``model`` (a SentenceTransformer: its
    ``tokenizer`` and ``max_seq_length``); a text that fits is returned as it is."""
    window = getattr(model, "max_seq_length", None)
    tokenizer = getattr(model, "tokenizer", None)
    if not window or tokenizer is None or not getattr(tokenizer, "is_fast", False):
        return list(texts)  # no offsets to cut at: the model's own truncation stands
    limit = int(window) - _SPECIAL
    out: list[str] = []
    for text in texts:
        if len(text.encode("utf-8")) <= limit:  # a word piece covers at least one byte
            out.append(text)
            continue
        offsets = tokenizer(
            text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )["offset_mapping"]
        out.append(text if len(offsets) <= limit else text[offsets[len(offsets) - limit][0] :])
    return out

"""Building a BM25 index prints nothing: bm25s's own DEBUG logging is quieted on every use."""

from __future__ import annotations

import logging

import pytest

from retrieval.lexical import english_stemmer, tokenize


def test_bm25s_debug_records_never_reach_the_root_handler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.DEBUG)  # what importing bm25s does
    caplog.set_level(logging.DEBUG)  # a root handler that would print everything
    retriever = bm25s.BM25()
    # through vidrec's tokenizer, as every lexical index builds
    retriever.index(tokenize(["pasta at home", "dying reefs"], stemmer=english_stemmer()))
    assert [r for r in caplog.records if r.name.startswith("bm25s")] == []

"""The facade's test setup: one tiny library per test module (fake LLM + fake embedder + real
Chroma and SQLite in a tmp dir), and a fresh scripted LLM for each test.

The fixtures are module- or function-scoped in each test module that imports them, as if defined
there (``name=`` keeps the function names apart from the arguments that request them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.recommender import Recommender
from tests.agent_data import build_recommender, with_settings
from tests.fakes.llm import FakeLLM


@pytest.fixture(scope="module", name="base")
def base_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recommender]:
    rec = build_recommender(tmp_path_factory.mktemp("facade"))
    yield rec
    rec.close()


@pytest.fixture(name="llm")
def llm_fixture() -> FakeLLM:
    return FakeLLM()


@pytest.fixture(name="rec")
def rec_fixture(base: Recommender, llm: FakeLLM) -> Recommender:
    """Same library and user store, a fresh scripted LLM that reads every turn (the model path;
    the parser-first default is tested in test_recommender.py), MMR off for predictable orders."""
    return with_settings(base, llm, diversity_lambda=1.0, understand="model")


def ids(answer: Any) -> list[str]:
    return [r.video.id for r in answer.recommendations]

"""A synthetic feedback log whose right answer is known, for the collaborative model's tests.

Two taste clusters: users ``a*`` like only videos ``A*``, users ``b*`` only ``B*`` (each likes a
random 6 of the 10 in their cluster). The interaction matrix is rank 2 by construction, so a
2-factor ALS must put a cluster-A liker's scores on cluster A.

The fixtures are module-scoped in each test module that imports them (``name=`` keeps the
function names apart from the arguments that request them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from agent.collab import CollabModel
from agent.settings import CollabSettings
from agent.types import FeedbackEvent, FeedbackKind

T0 = datetime(2024, 1, 1, tzinfo=UTC)
A = [f"A{i}" for i in range(10)]
B = [f"B{i}" for i in range(10)]
ALL = A + B


def ev(
    user: str, video: str, kind: FeedbackKind = "like", value: float | None = None, minute: int = 0
) -> FeedbackEvent:
    return FeedbackEvent(user, video, kind, value, T0 + timedelta(minutes=minute))


@pytest.fixture(scope="module", name="cfg")
def cfg_fixture() -> CollabSettings:
    return CollabSettings(factors=2, iterations=20, regularization=0.1, threads=1)


@pytest.fixture(scope="module", name="log_events")
def log_events_fixture() -> list[FeedbackEvent]:
    rng = np.random.default_rng(7)
    events = []
    for cluster, items in (("a", A), ("b", B)):
        for u in range(30):
            for minute, i in enumerate(rng.choice(10, 6, replace=False)):
                events.append(ev(f"{cluster}{u}", items[i], minute=minute))
    return events


@pytest.fixture(scope="module", name="model")
def model_fixture(log_events: list[FeedbackEvent], cfg: CollabSettings) -> CollabModel:
    return CollabModel.fit_events(log_events, cfg)


def scored(
    model: CollabModel, history: list[FeedbackEvent], ids: list[str], **kwargs: object
) -> np.ndarray:
    """The model's blended score of each of ``ids`` (NaN: unknown video or no signal)."""
    return model.take(model.scores(history, **kwargs), ids)  # type: ignore[arg-type]


def top(scores: np.ndarray, ids: list[str], n: int, exclude: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    order = [ids[i] for i in np.argsort(-np.nan_to_num(scores, nan=-np.inf))]
    return [v for v in order if v not in exclude][:n]

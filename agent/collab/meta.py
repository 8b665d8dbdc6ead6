"""What ``meta.json`` records about one fitted version of the collaborative model."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from agent.collab.blend import BlendWeights, SessionWeights

__all__ = ["ModelMeta"]


@dataclass(frozen=True)
class ModelMeta:
    """What ``meta.json`` records about one fitted version."""

    version: int
    fitted_at: str  # ISO 8601, UTC
    n_users: int
    n_items: int
    n_events: int
    n_pairs: int
    fit_seconds: float
    algorithm: str
    settings: dict[str, Any]  # the CollabSettings used (JSON of the settings section)
    blend: BlendWeights | None = None
    validation: dict[str, float] = field(default_factory=dict)  # tuning metrics, if tuned
    n_sessions: int = 0
    session_blend: SessionWeights | None = None
    n_requests: int = 0  # logged turns kept as similar requests (agent.collab.requests)
    n_timelines: int = 0  # users whose order of videos gives the next-video counts

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelMeta:
        data = json.loads(text)
        blend = data.pop("blend", None)
        if blend is not None:
            blend.setdefault("recent", 0.0)  # versions tuned before the recent signal existed
        session = data.pop("session_blend", None)
        return cls(
            **data,
            blend=BlendWeights(**blend) if blend else None,
            session_blend=SessionWeights(**session) if session else None,
        )

"""The understanding form (``agent.understand``'s schema) that a scripted fake model answers
with, for the tests of the understander and of the facade: every field at its "nothing said"
value unless overridden."""

from __future__ import annotations

from typing import Any


def form(search_text: str = "", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "wants_recommendations": True,
        "search_text": search_text,
        "max_minutes": None,
        "min_minutes": None,
        "language": None,
        "from_year": None,
        "to_year": None,
        "avoid_topics": [],
        "liked": [],
        "disliked": [],
        "seen": [],
        "include_seen": False,
    }
    base.update(overrides)
    return base

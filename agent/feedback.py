"""What one feedback event says about its video: positive, negative or nothing.

The one definition the profile (``agent.profile``), the collaborative model (``agent.collab``)
and cold start (``agent.coldstart``) share. How *strongly* an event counts (recency, confidence,
watch fraction) stays with each of them; whether it counts for or against the video is this table:

========================================  ========
event                                     polarity
========================================  ========
``like``                                  +1
``dislike``                               -1
``watched`` with fraction f (None: 1)     +1 when f > 0, else 0
``rating`` r (0-5 stars), r >= 2.5        +1
``rating`` r < 2.5                        -1
``rating`` without a value, impression    0
========================================  ========
"""

from __future__ import annotations

from agent.types import FeedbackEvent

__all__ = ["RATING_MID", "is_positive", "polarity"]

RATING_MID = 2.5  # the middle of the 0-5 star scale: at or above it a rating is positive


def polarity(event: FeedbackEvent) -> int:
    """+1 (for the video), -1 (against it) or 0 (says nothing), as the module's table."""
    if event.kind == "like":
        return 1
    if event.kind == "dislike":
        return -1
    if event.kind == "watched":
        return 1 if (1.0 if event.value is None else float(event.value)) > 0 else 0
    if event.kind == "rating" and event.value is not None:
        return 1 if float(event.value) >= RATING_MID else -1
    return 0


def is_positive(event: FeedbackEvent) -> bool:
    return polarity(event) > 0

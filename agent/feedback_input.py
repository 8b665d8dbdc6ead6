"""Checks on what a caller records about a user: the ids, the feedback kind and its value."""

from __future__ import annotations

from typing import get_args

from agent.types import FeedbackKind
from agent.user_tables import MAX_ID_LENGTH
from retrieval.errors import InvalidInputError
from retrieval.ids import ID_EXAMPLES, id_problem

__all__ = ["FEEDBACK_KINDS", "RATING_RANGE", "check_id", "validate_feedback"]

FEEDBACK_KINDS: tuple[str, ...] = get_args(FeedbackKind)
RATING_RANGE = (0.0, 5.0)


def check_id(what: str, value: str, *, characters: bool = True) -> str:
    """``value`` stripped; refused when empty, too long or (``characters``) unsafe as an id."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            f"A {what} is required",
            expected=f"a non-empty {what} string",
            got=repr(value),
            hint=f"Pass the {what}, e.g. 'alice'",
        )
    value = value.strip()
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInputError(
            f"The {what} is too long",
            expected=f"at most {MAX_ID_LENGTH} characters",
            got=f"{len(value)} characters",
            hint=f"Use a shorter {what}",
        )
    problem = id_problem(value) if characters else None
    if problem is not None:
        raise InvalidInputError(
            f"The {what} {value!r} cannot be used",
            expected=f"a {what} without '/', '\\', '..' or control characters",
            got=problem,
            hint=f"Choose another {what}, {ID_EXAMPLES}",
        )
    return value


def validate_feedback(kind: str, value: float | None) -> float | None:
    """Check a feedback kind and its value; return the value to store.

    ``watched`` takes the watched fraction in [0, 1] (default 1.0), ``rating`` a value in [0, 5];
    ``like``, ``dislike`` and ``impression`` take no value.
    """
    if kind not in FEEDBACK_KINDS:
        raise InvalidInputError(
            "Unknown feedback kind",
            expected="one of " + ", ".join(FEEDBACK_KINDS),
            got=repr(kind),
            hint="Use like, dislike, watched (with a fraction) or rating (with a value)",
        )
    if kind == "watched":
        fraction = 1.0 if value is None else float(value)
        if not 0.0 <= fraction <= 1.0:
            raise InvalidInputError(
                "The watched fraction is out of range",
                expected="a fraction between 0 and 1",
                got=str(value),
                hint="Pass e.g. 0.8 for 80 % watched",
            )
        return fraction
    if kind == "rating":
        lo, hi = RATING_RANGE
        if value is None or not lo <= float(value) <= hi:
            raise InvalidInputError(
                "A rating needs a value",
                expected=f"a rating between {lo:g} and {hi:g}",
                got="nothing" if value is None else str(value),
                hint="Pass e.g. --rating 4",
            )
        return float(value)
    return None

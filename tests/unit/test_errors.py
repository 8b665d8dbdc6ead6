from __future__ import annotations

from retrieval.errors import (
    InvalidInputError,
    MediaError,
    NotFoundError,
    PayloadTooLargeError,
    VidrecError,
)


def test_message_says_expected_got_and_fix() -> None:
    err = InvalidInputError(
        "Bad duration in row 3", expected="seconds or mm:ss", got="'soon'", hint="Fix the row"
    )
    assert str(err) == "Bad duration in row 3. Expected seconds or mm:ss, got 'soon'. Fix the row."
    assert err.to_dict()["error"] == "invalid_input"


def test_statuses_follow_the_hierarchy() -> None:
    assert MediaError("x").http_status == 422
    assert isinstance(MediaError("x"), InvalidInputError)
    assert NotFoundError("x").http_status == 404
    assert PayloadTooLargeError("x").http_status == 413
    assert VidrecError("x").http_status == 500

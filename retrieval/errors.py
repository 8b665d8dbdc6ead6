"""The one exception hierarchy of vidrec.

Every error is written for a person: what was expected, what came, and how to fix it. Each class
knows the HTTP status the API maps it to, so surfaces never guess.
"""

from __future__ import annotations


class VidrecError(Exception):
    """Base of every error vidrec raises on purpose."""

    http_status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        expected: str | None = None,
        got: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.expected = expected
        self.got = got
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = [self.message.rstrip(".") + "."]
        if self.expected is not None:
            parts.append(
                f"Expected {self.expected}, got {self.got if self.got is not None else 'nothing'}."
            )
        if self.hint:
            parts.append(self.hint.rstrip(".") + ".")
        return " ".join(parts)

    def to_dict(self) -> dict[str, str | None]:
        """JSON body for the API: a stable code plus the readable parts."""
        return {
            "error": self.code,
            "message": str(self),
            "expected": self.expected,
            "got": self.got,
            "hint": self.hint,
        }


class InvalidInputError(VidrecError):
    """The caller gave something malformed (bad query, bad filter, bad manifest row)."""

    http_status = 422
    code = "invalid_input"


class MediaError(InvalidInputError):
    """A media or caption file that cannot be decoded, is empty or truncated."""

    code = "bad_media"


class NotFoundError(VidrecError):
    http_status = 404
    code = "not_found"


class PayloadTooLargeError(VidrecError):
    http_status = 413
    code = "payload_too_large"


class AuthenticationError(VidrecError):
    http_status = 401
    code = "unauthenticated"


class PermissionDeniedError(VidrecError):
    http_status = 403
    code = "forbidden"


class RateLimitedError(VidrecError):
    http_status = 429
    code = "rate_limited"


class ConfigError(VidrecError):
    """Settings name something that does not exist or cannot work together."""

    http_status = 500
    code = "config_error"


class MissingDependencyError(ConfigError):
    """An optional package is not installed; the message carries the install hint."""

    code = "missing_dependency"


class BackendUnavailableError(VidrecError):
    """A model is still loading, a server is down or timed out: try again later."""

    http_status = 503
    code = "backend_unavailable"


class IngestBusyError(BackendUnavailableError):
    """Another ingest holds the library's ingest lock; try again when it has finished."""

    code = "ingest_busy"


class NotReadyError(BackendUnavailableError):
    """Nothing to answer from yet (no index, no model loaded)."""

    code = "not_ready"


def one_line(exc: BaseException) -> str:
    """An error as one line for a report: our errors' own message, others with their type."""
    text = str(exc) if isinstance(exc, VidrecError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())

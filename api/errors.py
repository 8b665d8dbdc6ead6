"""One JSON error shape for every failure the API returns.

Every error body is ``{"error": code, "message": ..., "expected": ..., "got": ..., "hint": ...}``
(``VidrecError.to_dict()``), plus ``details`` for validation errors. Project errors keep the HTTP
status their class declares; FastAPI validation errors become 422 saying what was expected and what
came; HTTP errors (404 route, 405, 413 from the body limit) get the same shape. The
OpenAI-compatible routes (``/v1/chat/completions``, ``/v1/models``) wrap the same fields in OpenAI's
envelope ``{"error": {"message", "type", "code", "param", ...}}`` so OpenAI clients show the message.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from retrieval.errors import (
    AuthenticationError,
    BackendUnavailableError,
    InvalidInputError,
    PayloadTooLargeError,
    RateLimitedError,
    VidrecError,
)

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
OPENAI_PATHS = ("/v1/chat/", "/v1/models")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "backend_unavailable",
}


class UnsupportedMediaTypeError(InvalidInputError):
    """An upload whose declared type or file extension is not audio/video media (415)."""

    http_status = 415
    code = "unsupported_media_type"


class InvalidRequestError(InvalidInputError):
    """A request that failed schema validation; ``details`` lists every problem found."""

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None, **kwargs: Any):
        self.details = details or []
        super().__init__(message, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = dict(super().to_dict())
        body["details"] = self.details
        return body


class RateLimitExceededError(RateLimitedError):
    """A key spent its request budget; ``retry_after`` seconds until the window frees a slot."""

    def __init__(self, message: str, *, retry_after: int, **kwargs: Any) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message, **kwargs)


def describe_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} bytes"


def payload_too_large(limit: int, got: int | None, *, upload: bool) -> PayloadTooLargeError:
    """413: what the limit is, what came, and which setting raises it."""
    return PayloadTooLargeError(
        "The request body is too large",
        expected=f"at most {describe_bytes(limit)}",
        got=describe_bytes(got) if got is not None else "more than that",
        hint=(
            "Send a smaller file, or raise VIDREC_API__MAX_UPLOAD_MB on the server"
            if upload
            else "Send a smaller body, or raise VIDREC_API__MAX_BODY_KB on the server"
        ),
    )


def error_body(exc: VidrecError, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = dict(exc.to_dict())
    body.update(extra)
    return body


def openai_envelope(body: dict[str, Any]) -> dict[str, Any]:
    inner = {
        "message": body.get("message"),
        "type": body.get("error"),
        "code": body.get("error"),
        "param": None,
    }
    inner.update({k: v for k, v in body.items() if k not in ("error", "message")})
    return {"error": inner}


def _render(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str]
) -> JSONResponse:
    if request.url.path.startswith(OPENAI_PATHS):
        body = openai_envelope(body)
    return JSONResponse(body, status_code=status, headers=headers or None)


def _headers_for(exc: VidrecError) -> dict[str, str]:
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = 'Bearer realm="vidrec"'
    if isinstance(exc, RateLimitExceededError):
        headers["Retry-After"] = str(exc.retry_after)
    elif isinstance(exc, BackendUnavailableError):
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return headers


def _describe_location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) if parts else "body"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validation_error(errors: Sequence[Any]) -> InvalidRequestError:
    """Turn pydantic/FastAPI error dicts into one readable error (with every problem in details)."""
    details = _details(errors)
    first = errors[0] if errors else {}
    where = _describe_location(first.get("loc", ()))
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "invalid JSON")
        return InvalidRequestError(
            "The request body is not valid JSON",
            details=details,
            expected="a JSON object",
            got=f"malformed JSON ({detail} at character {where})",
            hint="Send Content-Type: application/json with a well-formed JSON body",
        )
    if kind == "missing":
        return InvalidRequestError(
            f"The field '{where}' is required",
            details=details,
            expected=f"a value for '{where}'",
            got="nothing",
            hint="See the request schema at /docs",
        )
    if kind == "extra_forbidden":
        return InvalidRequestError(
            f"Unknown field '{where}'",
            details=details,
            expected="only the fields documented at /docs",
            got=f"'{where}'",
            hint="Check the spelling of the field name",
        )
    got = _short(first.get("input")) if "input" in first else "nothing"
    more = f" (and {len(errors) - 1} more problem(s), see details)" if len(errors) > 1 else ""
    return InvalidRequestError(
        f"Invalid value for '{where}'{more}",
        details=details,
        expected=str(first.get("msg", "a valid value")).removeprefix("Value error, "),
        got=got,
        hint="See the request schema at /docs",
    )


def _details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in errors
    ]


def invalid_from_pydantic(exc: ValidationError) -> InvalidRequestError:
    """For bodies parsed by hand (multipart fields, tool arguments)."""
    return validation_error(exc.errors())


async def _vidrec_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VidrecError)
    if exc.http_status >= 500 and not isinstance(exc, BackendUnavailableError):
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return _render(request, exc.http_status, error_body(exc), _headers_for(exc))


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    return _render(request, 422, error_body(validation_error(errors)), {})


def too_deeply_nested() -> InvalidInputError:
    return InvalidInputError(
        "The request body is nested too deeply",
        expected="JSON nested a few levels deep",
        got="JSON nested deeper than the parser's limit",
        hint="Send the fields the API reference (/docs) shows; no deep lists of lists",
    )


def invalid_json(detail: str) -> InvalidInputError:
    return InvalidInputError(
        "The request body is not valid JSON",
        expected="a JSON object",
        got=f"malformed JSON ({detail})",
        hint="Send Content-Type: application/json with a well-formed JSON body",
    )


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.__cause__ is not None:
        # FastAPI's body parser turns any failure (not UTF-8, too deep) into a bare 400
        cause = exc.__cause__
        parse = (
            too_deeply_nested() if isinstance(cause, RecursionError) else invalid_json(str(cause))
        )
        return await _vidrec_handler(request, parse)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "http_error")
    if status == 404:
        err: VidrecError = VidrecError(
            f"No route {request.method} {request.url.path}",
            hint="See the API reference at /docs",
        )
    elif status == 405:
        err = VidrecError(
            f"Method {request.method} is not allowed on {request.url.path}",
            hint="See the API reference at /docs",
        )
    elif status == 413:
        limits = request.app.state.ctx.limits
        upload = request.url.path.rstrip("/") in limits.upload_paths
        length = request.headers.get("content-length", "")
        err = payload_too_large(
            limits.max_upload_bytes if upload else limits.max_body_bytes,
            int(length) if length.isdigit() else None,
            upload=upload,
        )
    else:
        err = VidrecError(str(exc.detail))
    body = error_body(err)
    body["error"] = code
    return _render(request, status, body, dict(exc.headers or {}))


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", incident, request.method, request.url.path)
    err = VidrecError(
        "Internal server error",
        hint=f"This is a bug; the server log has the details under incident {incident}",
    )
    return _render(request, 500, error_body(err), {})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VidrecError, _vidrec_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unhandled_handler)

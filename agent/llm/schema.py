"""JSON-schema handling for structured LLM output: the schema checked, the answer parsed (a
Markdown fence tolerated) and validated with ``jsonschema``, and the OpenAI ``response_format``
that asks a server for it."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from retrieval.errors import InvalidInputError

__all__ = ["check_schema", "parse_json", "response_format", "schema_error", "schema_name"]


def check_schema(schema: dict[str, Any]) -> None:
    """Raise :class:`InvalidInputError` when ``schema`` is not a valid JSON schema."""
    if not isinstance(schema, dict):
        raise InvalidInputError(
            "The output schema must be a JSON schema object",
            expected="a dict",
            got=type(schema).__name__,
        )
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidInputError(
            "The output schema is not a valid JSON schema",
            expected="a JSON schema (draft 2020-12)",
            got=exc.message,
            hint="Check the schema, e.g. with jsonschema.Draft202012Validator.check_schema",
        ) from exc


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


def parse_json(text: str) -> Any:
    """Parse the model's JSON, tolerating a Markdown code fence around it."""
    fenced = _FENCE.match(text)
    return json.loads(fenced.group(1) if fenced else text)


def schema_error(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """Return ``(data, None)`` when ``text`` is JSON valid against ``schema``, else ``(None, why)``."""
    try:
        data = parse_json(text)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg} at position {exc.pos})"
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return None, f"invalid at {where}: {error.message}"
    return data, None


def schema_name(schema: dict[str, Any]) -> str:
    """A name for ``response_format.json_schema.name`` (letters, digits, ``_``, ``-``)."""
    title = str(schema.get("title") or "response")
    return re.sub(r"[^A-Za-z0-9_-]+", "_", title)[:64] or "response"


def response_format(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI ``response_format`` asking for JSON valid against ``schema``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": schema_name(schema), "schema": schema, "strict": True},
    }

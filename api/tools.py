"""The three tools assistants register: ``recommend_videos``, ``search_videos``, ``record_feedback``.

One definition serves every surface: the pydantic argument models below validate calls, generate the
JSON schema served at ``GET /v1/tools`` and printed by ``vidrec tool-schema`` (OpenAI ``tools``
format, ``$ref``-free so any function-calling model can read it), and give the MCP server its tool
signatures (``api.mcp_server``). ``run_tool`` executes a call against the ``Recommender`` facade.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.recommender import Recommender
from api.auth import Principal
from api.errors import invalid_from_pydantic
from api.schemas import (
    FeedbackKindIn,
    FiltersIn,
    RecommendationOut,
    SearchHitOut,
)
from retrieval.errors import NotFoundError

log = logging.getLogger(__name__)

MAX_TOOL_K = 20


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecommendArgs(_Args):
    query: str = Field(
        min_length=1,
        max_length=4000,
        description="What the user wants to watch, in their words, with any context from the chat "
        "(e.g. 'something short about ocean science, not too technical')",
    )
    user_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The end user's id, so their history personalises the picks. Optional when "
        "the API key belongs to exactly one user",
    )
    k: int = Field(5, ge=1, le=MAX_TOOL_K, description="How many videos to return")
    filters: FiltersIn | None = Field(
        None,
        description="Hard constraints: durations in seconds (e.g. max_duration=600 for under "
        "10 minutes), ISO dates, language codes, tags",
    )


class SearchArgs(_Args):
    query: str = Field(
        min_length=1, max_length=4000, description="Words to find in the videos' transcripts"
    )
    k: int = Field(10, ge=1, le=MAX_TOOL_K, description="How many videos to return")
    filters: FiltersIn | None = Field(
        None, description="Hard constraints: durations in seconds, ISO dates, languages, tags"
    )


class FeedbackArgs(_Args):
    video_id: str = Field(
        min_length=1, max_length=200, description="The video id from a recommendation"
    )
    kind: FeedbackKindIn = Field(
        description="like / dislike; watched (value = fraction watched, 0..1); rating (value 0..5); "
        "impression (shown, not chosen)"
    )
    value: float | None = Field(None, description="The fraction for watched, the stars for rating")
    user_id: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The end user's id; optional when the API key belongs to exactly one user",
    )


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    args: type[_Args]
    run: Callable[[Recommender, Principal, Any], dict[str, Any]]
    expensive: bool = False  # runs a model: counts toward api.expensive_rate_limit_per_minute


def _recommend(rec: Recommender, who: Principal, a: RecommendArgs) -> dict[str, Any]:
    user = who.default_user(a.user_id)
    answer = rec.recommend(
        a.query, user, k=a.k, filters=a.filters.to_filters() if a.filters else None
    )
    return {
        "text": answer.text,
        "clarifying_question": answer.clarifying_question,
        "recommendations": [
            RecommendationOut.of(r).model_dump(mode="json") for r in answer.recommendations
        ],
    }


def _search(rec: Recommender, who: Principal, a: SearchArgs) -> dict[str, Any]:
    hits = rec.search(a.query, filters=a.filters.to_filters() if a.filters else None, k=a.k)
    return {"hits": [SearchHitOut.of(h).model_dump(mode="json") for h in hits]}


def _feedback(rec: Recommender, who: Principal, a: FeedbackArgs) -> dict[str, Any]:
    user = who.default_user(a.user_id)
    rec.feedback(user, a.video_id, a.kind, a.value)
    return {"recorded": True, "user_id": user, "video_id": a.video_id, "kind": a.kind}


TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "recommend_videos",
            "Recommend videos from the operator's video library for a user, ranked for that "
            "user's history. Each result has a short reason, a quote from the video that backs "
            "it, and the timestamp (and a play URL at that moment) where it is said. Use it when "
            "the user asks what to watch.",
            RecommendArgs,
            _recommend,
            expensive=True,
        ),
        ToolSpec(
            "search_videos",
            "Search the video library's transcripts for a topic or phrase (not personalised). "
            "Returns matching videos with the best matching passage and its timestamp.",
            SearchArgs,
            _search,
        ),
        ToolSpec(
            "record_feedback",
            "Record what the user thought of a video (like, dislike, watched with the fraction "
            "watched, a 0-5 rating) so the next recommendations take it into account.",
            FeedbackArgs,
            _feedback,
        ),
    )
}


def _resolve_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            merged = {**_resolve_refs(copy.deepcopy(target), defs)}
            merged.update({k: v for k, v in node.items() if k != "$ref"})
            return merged
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "$defs"):
                continue
            out[key] = _resolve_refs(value, defs)
        # Optional[X] comes out as anyOf [X, null]; optional fields are simply not required.
        any_of = out.get("anyOf")
        if isinstance(any_of, list):
            kept = [s for s in any_of if s.get("type") != "null"]
            if len(kept) == 1 and len(kept) < len(any_of):
                del out["anyOf"]
                out = {**kept[0], **out}
                if out.get("default", 0) is None:
                    del out["default"]
        return out
    if isinstance(node, list):
        return [_resolve_refs(v, defs) for v in node]
    return node


def parameters_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A self-contained JSON schema (no ``$ref``, no titles) for a tool's arguments."""
    schema = model.model_json_schema()
    result: dict[str, Any] = _resolve_refs(schema, schema.get("$defs", {}))
    result["additionalProperties"] = False
    return result


def openai_tools() -> list[dict[str, Any]]:
    """The tool definitions in OpenAI's ``tools`` format (``[{"type": "function", ...}]``)."""
    return [
        {
            "type": "function",
            "function": {
                "name": spec.name,
                "description": spec.description,
                "parameters": parameters_schema(spec.args),
            },
        }
        for spec in TOOLS.values()
    ]


def get_tool(name: str) -> ToolSpec:
    spec = TOOLS.get(name)
    if spec is None:
        raise NotFoundError(
            f"No tool named {name!r}",
            expected="one of " + ", ".join(TOOLS),
            got=repr(name),
            hint="GET /v1/tools lists them",
        )
    return spec


def validate_args(spec: ToolSpec, arguments: Any) -> _Args:
    try:
        return spec.args.model_validate(arguments if arguments is not None else {})
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from None


def run_tool(
    recommender: Recommender, principal: Principal, name: str, arguments: Any
) -> dict[str, Any]:
    """Validate ``arguments`` for tool ``name`` and run it; the result is JSON-ready."""
    spec = get_tool(name)
    args = validate_args(spec, arguments)
    log.debug("tool %s by key %s", name, principal.key_id)
    return spec.run(recommender, principal, args)

"""Understanding a turn: the conversation so far -> :class:`agent.types.TurnUnderstanding`.

The primary path is one schema-constrained LLM call with the versioned ``understand`` prompt. Its
answer is then validated and normalised, because small models are unreliable at exactly the parts
that do harm when wrong:

* durations come in minutes and are turned into seconds; nonsense (<= 0, > 24 h) is dropped, and
  so is a limit the user never stated (its number must appear in what the user wrote);
* years outside 1900..next year, or not written by the user, are dropped;
* languages are mapped to ISO 639-1 codes ("Spanish" -> "es");
* liked / disliked / seen items and topics to avoid must overlap what the user wrote, and a
  disliked item may not simply repeat the search topic;
* an empty search text falls back to the user's own words.

A cheap deterministic parser (:func:`parse_rules`) fills in what the model missed (duration and year
limits written with the usual phrases, request cues) and stands in entirely when the model's output
is unusable (:class:`agent.llm.base.LLMOutputError`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from agent.conversation import last_user, render_conversation, user_texts
from agent.lengths import strip_vague_length
from agent.llm.base import LLM, LLMOutputError
from agent.mentions import ANAPHORA_RE, clauses
from agent.rules import LANGUAGES, RuleParse, parse_rules, taste_only
from agent.settings import LengthSettings
from agent.text import content_words
from agent.types import Message, TurnUnderstanding
from prompts.loader import load_prompt
from retrieval.errors import ConfigError
from retrieval.types import SearchFilters

log = logging.getLogger(__name__)

MAX_DURATION_S = 24 * 3600.0
MAX_ITEMS = 5
MAX_ITEM_CHARS = 120
MAX_SEARCH_CHARS = 300
# the longest search text the model may write: the prompt asks for 3-12 words; a bound in the
# schema ends a degenerate answer ("psychological thriller psychological thriller ...", until
# max_tokens, then a retry that did the same: ~70 s on a busy CPU) with valid JSON, since a
# backend with constrained decoding (llama.cpp, vLLM) closes the string at the bound
SCHEMA_SEARCH_CHARS = 120
SCHEMA_LANGUAGE_CHARS = 20


def _nullable(kind: str, **bounds: Any) -> dict[str, Any]:
    return {"anyOf": [{"type": kind, **bounds}, {"type": "null"}]}


_STRINGS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "maxLength": MAX_ITEM_CHARS},
    "maxItems": MAX_ITEMS,
}

UNDERSTAND_SCHEMA: dict[str, Any] = {
    "title": "turn_understanding",
    "type": "object",
    "properties": {
        "wants_recommendations": {"type": "boolean"},
        "search_text": {"type": "string", "maxLength": SCHEMA_SEARCH_CHARS},
        "max_minutes": _nullable("number"),
        "min_minutes": _nullable("number"),
        "language": _nullable("string", maxLength=SCHEMA_LANGUAGE_CHARS),
        "from_year": _nullable("integer"),
        "to_year": _nullable("integer"),
        "avoid_topics": _STRINGS,
        "liked": _STRINGS,
        "disliked": _STRINGS,
        "seen": _STRINGS,
        "include_seen": {"type": "boolean"},
    },
    # all required: with optional fields the 0.5B model fills them with values copied from the
    # instructions; with every field present it writes null / [] where nothing was said
    "required": [
        "wants_recommendations",
        "search_text",
        "max_minutes",
        "min_minutes",
        "language",
        "from_year",
        "to_year",
        "avoid_topics",
        "liked",
        "disliked",
        "seen",
        "include_seen",
    ],
    "additionalProperties": False,
}


def _duration(minutes: Any, stated: frozenset[float]) -> float | None:
    """LLM minutes -> seconds, or None when missing, nonsense, or not stated by the user."""
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        return None
    seconds = float(minutes) * 60.0
    if not 0 < seconds <= MAX_DURATION_S:
        return None
    grounded = float(minutes) in stated or (float(minutes) / 60.0) in stated
    return seconds if grounded else None


def _year(value: Any, text: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not 1900 <= value <= datetime.now(UTC).year + 1:
        return None
    # "before 2010" may come back as 2009: accept a year within one of a year the user wrote
    written = {int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", text)}
    return value if any(abs(value - y) <= 1 for y in written) else None


def _language(value: Any, text: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip().lower()
    code = LANGUAGES.get(value, value if len(value) == 2 and value.isalpha() else None)
    if code is None:
        return None
    names = [n for n, c in LANGUAGES.items() if c == code]
    lowered = text.lower()
    return code if any(n in lowered for n in names) or re.search(rf"\b{code}\b", lowered) else None


def _items(values: Any, user_words: set[str], *, forbid: set[str] | None = None) -> tuple[str, ...]:
    """Clean a list of strings: trimmed, deduplicated, grounded in what the user wrote."""
    if not isinstance(values, list):
        return ()
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            continue
        item = " ".join(value.split()).strip(" \"'.,;")[:MAX_ITEM_CHARS]
        words = set(content_words(item))
        if not item or not words or item.lower() in seen:
            continue
        if not words & user_words:
            continue  # not something the user said
        if forbid is not None and words <= forbid:
            continue  # merely repeats the search topic
        seen.add(item.lower())
        out.append(item)
        if len(out) >= MAX_ITEMS:
            break
    return tuple(out)


def _filters(data: dict[str, Any], rules: RuleParse, all_user_text: str) -> SearchFilters:
    max_d = _duration(data.get("max_minutes"), rules.numbers) or rules.max_duration
    min_d = _duration(data.get("min_minutes"), rules.numbers) or rules.min_duration
    if max_d is not None and min_d is not None and min_d >= max_d:
        max_d, min_d = rules.max_duration, rules.min_duration  # contradictory: trust the phrases
        if max_d is not None and min_d is not None and min_d >= max_d:
            max_d = min_d = None
    from_year = _year(data.get("from_year"), all_user_text)
    to_year = _year(data.get("to_year"), all_user_text)
    after = date(from_year, 1, 1) if from_year else rules.published_after
    before = date(to_year, 12, 31) if to_year else rules.published_before
    if after and before and after > before:
        after, before = rules.published_after, rules.published_before
        if after and before and after > before:
            after = before = None
    language = _language(data.get("language"), all_user_text) or rules.language
    user_words = set(content_words(all_user_text))
    avoid = _items(data.get("avoid_topics"), user_words) or rules.avoid
    return SearchFilters(
        min_duration=min_d,
        max_duration=max_d,
        published_after=after,
        published_before=before,
        languages=(language,) if language else (),
        tags_none=tuple(a.lower() for a in avoid),
    )


def search_text_of(value: Any, messages: Sequence[Message]) -> str:
    """The model's query, or the user's own words when it is empty or says nothing.

    The user's words lose their length phrases ("something quick on bees" -> "something on
    bees": the length is a filter); in a conversation the previous request is added, since a
    later turn usually refines it ("actually it needs to be short").
    """
    text = " ".join(value.split())[:MAX_SEARCH_CHARS] if isinstance(value, str) else ""
    if content_words(text):
        return text
    users = [strip_vague_length(u) for u in user_texts(messages)]
    latest = users[-1] if users else ""
    query = f"{latest} {users[-2]}" if len(users) > 1 else latest
    return " ".join(query.split())[:MAX_SEARCH_CHARS]


# what the parser cannot read alone: references to earlier turns or picks, topic changes,
# and what the user liked or disliked
_NEEDS_MODEL_RE = re.compile(
    r"\b(?:that one|this one|the one|those(?: ones?)?|these ones?|like (?:that|this|it|those)|"
    r"you (?:showed|suggested|recommended|gave|sent)|the (?:first|second|third|fourth|fifth|"
    r"last|previous|other) (?:one|talk|video)|instead(?! of)|something else|something different|"
    r"not that|same (?:speaker|person|guy|woman|man|one)|i (?:really )?(?:liked|loved|enjoyed|"
    r"hated|disliked)|didn'?t like|did not like|not a fan|fan of|not (?:for me|my thing))\b",
    re.IGNORECASE,
)


# an opinion the title reader (agent.mentions) takes when its clause names a library title
_OPINION_RE = re.compile(
    r"^(?:i (?:really )?(?:liked|loved|enjoyed|hated|disliked)|didn'?t like|did not like|"
    r"not a fan|fan of|not (?:for me|my thing))$",
    re.IGNORECASE,
)


def needs_model(
    messages: Sequence[Message], names_title: Callable[[str], bool] | None = None
) -> str | None:
    """The phrase of the latest turn that the parser cannot decide alone, or None (a plain
    turn: a topic, a length, a year, a language, a title seen, a topic to avoid, small talk).

    ``names_title`` (the library's title reader, :mod:`agent.mentions`): an opinion about a
    title the clause names ("I loved Heat (1995)"), or a pointer back at the titles the
    assistant's last message named ("I haven't seen that one"), is read by it, not the model.
    """
    latest = last_user(messages)
    if taste_only(latest):
        return None  # "more of what I liked": the profile ranks it, nothing to read
    before = [m.content for m in messages[:-1] if m.role == "assistant"][-1:]
    points_back = bool(names_title and before and names_title(before[0]))
    for clause in clauses(latest):
        for m in _NEEDS_MODEL_RE.finditer(clause):
            phrase = m.group(0)
            if names_title and _OPINION_RE.match(phrase) and names_title(clause):
                continue
            if points_back and ANAPHORA_RE.fullmatch(phrase):
                continue  # "that one" right after the assistant named titles: those titles
            return phrase
    return None


def normalise_understanding(
    data: Any,
    messages: Sequence[Message],
    lengths: LengthSettings | None = None,
    *,
    source: str = "model",
) -> TurnUnderstanding:
    """Validate the model's JSON (schema-valid or not) into a :class:`TurnUnderstanding`.

    With ``data={}`` this is the parser's reading alone (``source="parser"``).
    """
    if not isinstance(data, dict):
        data = {}
    latest = last_user(messages)
    all_user_text = "\n".join(user_texts(messages))
    rules = parse_rules(latest, lengths)
    filters = _filters(data, rules, all_user_text)
    search_text = search_text_of(data.get("search_text"), messages)
    user_words = set(content_words(all_user_text))
    query_words = set(content_words(search_text))

    wants = data.get("wants_recommendations")
    wants = bool(wants) if isinstance(wants, bool) else True
    if taste_only(latest):
        # nothing to search for: the profile and the collaborative score rank (agent.ranking)
        search_text, wants = "", True
    if rules.wants_recommendations is True:
        wants = True
    elif rules.wants_recommendations is False and not content_words(latest):
        wants = False
    include_seen = (data.get("include_seen") is True and rules.include_seen) or bool(
        re.search(
            r"\b(rewatch|re-watch|watch (?:it |them )?again|see (?:it |them )?again)\b",
            latest,
            re.I,
        )
    )
    # a talk said watched in any turn stays watched for the whole conversation
    said_before = [m for turn in user_texts(messages)[:-1] for m in parse_rules(turn, lengths).seen]
    seen = tuple(dict.fromkeys((*said_before, *_items(data.get("seen"), user_words), *rules.seen)))
    said_seen = {x.lower() for x in seen}
    liked = (*_items(data.get("liked"), user_words), *rules.liked)
    return TurnUnderstanding(
        search_text=search_text if wants else "",
        wants_recommendations=wants,
        filters=filters,
        # "I already saw X" is not a like, whatever the model says
        liked=tuple(x for x in dict.fromkeys(liked) if x.lower() not in said_seen)[:MAX_ITEMS],
        disliked=_items(data.get("disliked"), user_words, forbid=query_words),
        seen=seen,
        include_seen=include_seen,
        source=source,
    )


UNDERSTAND_MODES = ("auto", "model", "parser")


class Understander:
    """Turns the conversation into a :class:`TurnUnderstanding`.

    Args:
        llm: the language model (called only when the mode asks for it).
        mode: ``auto`` (default): the parser decides plain turns and the model is asked only
            about what the parser cannot read (:func:`needs_model`); ``model``: the model reads
            every turn (the parser still checks and completes it); ``parser``: never the model.
        lengths: the limits vague length phrases map to.
        names_title: whether a text names a title of the library (opinions about such titles
            are read without the model, see :func:`needs_model`).
    """

    def __init__(
        self,
        llm: LLM | None,
        *,
        mode: str = "auto",
        lengths: LengthSettings | None = None,
        max_tokens: int = 256,
        names_title: Callable[[str], bool] | None = None,
    ) -> None:
        if mode not in UNDERSTAND_MODES:
            raise ConfigError(
                "Unknown understanding mode",
                expected="one of " + ", ".join(UNDERSTAND_MODES),
                got=repr(mode),
                hint="Set agent.understand (VIDREC_AGENT__UNDERSTAND)",
            )
        self.llm = llm
        self.mode = mode
        self.lengths = lengths
        self.prompt = load_prompt("understand")
        self.max_tokens = max_tokens
        self.names_title = names_title

    def understand(self, messages: Sequence[Message]) -> TurnUnderstanding:
        use_model = self.llm is not None and (
            self.mode == "model"
            or (self.mode == "auto" and needs_model(messages, self.names_title) is not None)
        )
        if not use_model:
            result = normalise_understanding({}, messages, self.lengths, source="parser")
        else:
            result = normalise_understanding(self._ask(messages), messages, self.lengths)
        log.debug("understood %r -> %s", last_user(messages)[:80], result)
        return result

    def _ask(self, messages: Sequence[Message]) -> Any:
        assert self.llm is not None
        rendered = self.prompt.render(conversation=render_conversation(messages))
        try:
            completion = self.llm.complete(
                rendered,
                schema=UNDERSTAND_SCHEMA,
                max_tokens=self.max_tokens,
                temperature=0.0,
                tag=self.prompt.tag,
            )
        except LLMOutputError as exc:
            log.warning("understanding fell back to rules: %s", exc)
            return {}
        return completion.data


def merge_filters(understood: SearchFilters, given: SearchFilters | None) -> SearchFilters:
    """Filters the caller passed win field by field over understood ones; exclusions add up."""
    if given is None:
        return understood
    return replace(
        understood,
        min_duration=given.min_duration
        if given.min_duration is not None
        else understood.min_duration,
        max_duration=given.max_duration
        if given.max_duration is not None
        else understood.max_duration,
        published_after=given.published_after or understood.published_after,
        published_before=given.published_before or understood.published_before,
        languages=given.languages or understood.languages,
        tags_any=given.tags_any or understood.tags_any,
        tags_none=tuple(dict.fromkeys((*understood.tags_none, *given.tags_none))),
        exclude_ids=understood.exclude_ids | given.exclude_ids,
    )

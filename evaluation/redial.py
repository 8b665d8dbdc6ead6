"""ReDial (Li et al., NeurIPS 2018) raw jsonl -> dialogues and cases.

One dialogue per line: ``conversationId``, ``messages`` [{text, senderWorkerId, ...}],
``movieMentions`` {id: "Title (Year)"}, ``initiatorWorkerId`` (the seeker) and
``respondentWorkerId`` (the recommender), and ``initiatorQuestions`` / ``respondentQuestions``
(whether the seeker liked each movie; kept as ``Dialogue.opinions``). Movies appear in the text as
``@<id>``; they are replaced by their titles, and mapped to catalogue ids (MovieLens when the
title + year match).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from evaluation.dialogues import Dialogue, Speaker, Utterance, dialogue_file
from evaluation.movies import CatalogueBuilder, split_title_year
from retrieval.errors import InvalidInputError

log = logging.getLogger(__name__)

_MENTION_RE = re.compile(r"@(\d+)")
_REQUIRED = ("conversationId", "messages", "initiatorWorkerId", "respondentWorkerId")


def _bad_line(path: Path, lineno: int, what: str, got: str) -> InvalidInputError:
    return InvalidInputError(
        f"{path}:{lineno}: not a ReDial dialogue ({what})",
        expected="one JSON object a line with " + ", ".join(_REQUIRED) + ", movieMentions",
        got=got,
        hint="Pass a raw ReDial split such as ../shared/data/redial/valid_data.jsonl",
    )


def _clean_title(raw: str) -> str:
    title, year = split_title_year(raw)
    return f"{title} ({year})" if year else title


def parse_dialogue(obj: dict[str, Any], catalogue: CatalogueBuilder) -> Dialogue:
    """One ReDial record -> a ``Dialogue`` whose movies are catalogue ids."""
    mentions: dict[str, str] = {
        str(k): v for k, v in (obj.get("movieMentions") or {}).items() if isinstance(v, str) and v
    }
    seeker = obj["initiatorWorkerId"]
    utterances: list[Utterance] = []
    for message in obj["messages"]:
        sender = message.get("senderWorkerId")
        speaker: Speaker = "seeker" if sender == seeker else "recommender"
        text = str(message.get("text", ""))
        movies: list[str] = []

        def _swap(match: re.Match[str], movies: list[str] = movies) -> str:
            raw = mentions.get(match.group(1))
            if raw is None:
                return match.group(0)  # an @id the record does not name: leave it as text
            movies.append(catalogue.resolve(raw))
            return _clean_title(raw)

        text = " ".join(_MENTION_RE.sub(_swap, text).split())
        utterances.append(Utterance(speaker=speaker, text=text, movies=tuple(movies)))
    opinions = _opinions(obj, mentions, catalogue)
    return Dialogue(str(obj["conversationId"]), tuple(utterances), opinions)


def _opinion(answers: object) -> str | None:
    """ReDial's answers about one movie -> a feedback kind: ``liked`` 1 like, 0 dislike (2: not
    said); else ``seen`` 1 watched; else nothing."""
    if not isinstance(answers, dict):
        return None
    if answers.get("liked") == 1:
        return "like"
    if answers.get("liked") == 0:
        return "dislike"
    return "watched" if answers.get("seen") == 1 else None


def _opinions(
    obj: dict[str, Any], mentions: dict[str, str], catalogue: CatalogueBuilder
) -> tuple[tuple[str, str], ...]:
    """The seeker's answers (``initiatorQuestions``, else the recommender's account of them in
    ``respondentQuestions``) per catalogue id of a mentioned movie."""
    out: dict[str, str] = {}
    for key in ("respondentQuestions", "initiatorQuestions"):  # the seeker's own answers win
        answers = obj.get(key)
        if not isinstance(answers, dict):
            continue
        for movie, said in answers.items():
            kind = _opinion(said)
            raw = mentions.get(str(movie))
            if kind is not None and raw is not None:
                out[catalogue.resolve(raw)] = kind
    return tuple(sorted(out.items()))


def load_redial(path: str | Path, catalogue: CatalogueBuilder) -> list[Dialogue]:
    """Read every dialogue of a ReDial jsonl split (mentions are added to ``catalogue``)."""
    path = dialogue_file(path, "ReDial", ".jsonl", "../shared/data/redial/valid_data.jsonl")
    dialogues: list[Dialogue] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _bad_line(
                    path, lineno, "invalid JSON", f"{exc.msg} at column {exc.colno}"
                ) from None
            if not isinstance(obj, dict):
                raise _bad_line(path, lineno, "not an object", type(obj).__name__)
            missing = [key for key in _REQUIRED if key not in obj]
            if missing:
                raise _bad_line(path, lineno, "missing fields", "no " + ", ".join(missing))
            if not isinstance(obj["messages"], list):
                raise _bad_line(
                    path, lineno, "messages is not a list", type(obj["messages"]).__name__
                )
            dialogues.append(parse_dialogue(obj, catalogue))
    if not dialogues:
        raise InvalidInputError(
            f"No dialogues in {path}", expected="at least one ReDial dialogue", got="an empty file"
        )
    log.info("read %d ReDial dialogues from %s", len(dialogues), path)
    return dialogues

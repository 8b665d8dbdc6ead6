"""Conversational recommendation cases, shared by ReDial and INSPIRED.

Protocol (He et al., CIKM 2023, "Large Language Models as Zero-Shot Conversational Recommenders"):
every recommender turn that mentions movies is a case; the context is the dialogue before it; the
targets are the movies it mentions that were NOT mentioned earlier in the dialogue (by either
side); movies already mentioned are excluded from the ranking. A turn that only repeats earlier
mentions is no case.

Consecutive messages of one speaker are merged into one turn first (as the ReDial/INSPIRED
preprocessing of CRSLab and UniCRS does), so "have you seen @1" + "or @2?" is one recommender turn
whose targets are both movies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.learn.cases import RankingCase, Step, ranking_cases
from retrieval.errors import InvalidInputError

Speaker = Literal["seeker", "recommender"]


@dataclass(frozen=True)
class Utterance:
    """One turn: text with movie placeholders already replaced by titles, and the movies named."""

    speaker: Speaker
    text: str
    movies: tuple[str, ...] = ()  # catalogue item ids, in order of mention


@dataclass(frozen=True)
class Dialogue:
    """A dialogue; ``opinions``: what the seeker said afterwards about movies it names (ReDial's
    questionnaire), as feedback kinds (``like``, ``dislike``, ``watched``) per item id."""

    id: str
    utterances: tuple[Utterance, ...]
    opinions: tuple[tuple[str, str], ...] = ()


ConvCase = RankingCase  # one ranking question (agent.learn.cases: the one definition)


def merge_consecutive(utterances: Iterable[Utterance]) -> list[Utterance]:
    """Join runs of messages by the same speaker into one turn (texts joined by a space)."""
    merged: list[Utterance] = []
    for utt in utterances:
        if merged and merged[-1].speaker == utt.speaker:
            prev = merged[-1]
            text = " ".join(t for t in (prev.text, utt.text) if t)
            merged[-1] = Utterance(prev.speaker, text, prev.movies + utt.movies)
        else:
            merged.append(utt)
    return merged


def _role(speaker: Speaker) -> Literal["user", "assistant"]:
    return "user" if speaker == "seeker" else "assistant"


def extract_cases(dialogue: Dialogue, *, merge: bool = True) -> list[ConvCase]:
    """The test cases of one dialogue, in order (``agent.learn.cases.ranking_cases``: the
    protocol of the module docstring, shared with the learned ranker's training).

    A recommender turn before any seeker turn is skipped: there is nothing to answer yet.
    """
    turns = merge_consecutive(dialogue.utterances) if merge else list(dialogue.utterances)
    return ranking_cases(
        dialogue.id, [Step(_role(t.speaker), t.text, t.movies) for t in turns], dialogue.opinions
    )


def extract_all(dialogues: Sequence[Dialogue], *, merge: bool = True) -> list[ConvCase]:
    return [case for d in dialogues for case in extract_cases(d, merge=merge)]


def context_query(case: ConvCase, *, max_turns: int = 6, max_chars: int = 1200) -> str:
    """Plain-text query for lexical and dense baselines: the last turns of the context.

    The sentence-transformer reads only its first ~256 word pieces, so the most recent turns are
    kept, newest last, cut from the front to ``max_chars``.
    """
    lines = [m.content for m in case.context[-max_turns:] if m.content]
    text = "\n".join(lines)
    return text[-max_chars:] if len(text) > max_chars else text


def dialogue_file(
    path: str | Path, name: str, suffix: str, example: str, option: str = "--data"
) -> Path:
    """``path`` as a Path when it is a file, else an error naming the data set and an example
    of the ``option`` that names it."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(
            f"{name} file not found: {path}",
            expected=f"a {name} {suffix} file",
            got=str(path),
            hint=f"Use e.g. {option} {example}",
        )
    return path

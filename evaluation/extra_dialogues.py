"""``vidrec eval redial|inspired --extra-dialogues TASK:PATH``: another data set's dialogues as
more logged conversations for the query encoder.

INSPIRED's dev file holds 99 dialogues, so each fold's query encoder (``--adapt-queries``,
:mod:`evaluation.conv_queries`) learns from about 80 of them, ~200 (conversation, movie taken)
pairs; ReDial's validation file holds 901 over the same kind of catalogue (movies, matched to
MovieLens). With this option one encoder first learns the other file's pairs and each fold's
encoder goes on from it on its own training folds' pairs. The other file's dialogues are never
scored, and nothing else learns from them: the collaborative models and the popularity baseline
keep to the scored file's dialogues, because what was popular in one data set is not what the
other's recommenders name (docs/evaluation.md: ReDial's popularity ranks INSPIRED at 0.019
against INSPIRED's own 0.084, and the collaborative models with ReDial's sessions gave no gain).

The extra file's movies are matched like the scored file's (MovieLens title and year); a movie the
catalogue does not hold (one MovieLens does not know and the scored file never names) is dropped
from its dialogue, words kept, so the catalogue, the workspace and the index stay those of the
scored file and runs with and without the option are paired case by case. Dialogue ids are
prefixed with the task (``redial:20001``) so they never collide with the scored file's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evaluation.dialogues import Dialogue, dialogue_file
from evaluation.inspired import load_inspired, load_youtube_map
from evaluation.movies import CatalogueBuilder
from evaluation.redial import load_redial
from evaluation.shared_data import SHARED_DATA
from retrieval.errors import InvalidInputError

__all__ = ["EXTRA_TASKS", "ExtraDialogues", "load_extra", "parse_extra", "restrict_to"]

EXTRA_TASKS = ("redial", "inspired")


@dataclass(frozen=True)
class ExtraDialogues:
    """What ``--extra-dialogues`` names: a conversational task and one of its files."""

    task: str
    path: Path

    def __str__(self) -> str:
        return f"{self.task}:{self.path}"


def parse_extra(value: str) -> ExtraDialogues:
    """``TASK:PATH`` (``redial:../shared/data/redial/valid_data.jsonl``) checked: a known task,
    an existing file."""
    task, sep, path = value.partition(":")
    if not sep or task not in EXTRA_TASKS or not path:
        raise InvalidInputError(
            "--extra-dialogues names a task and a file",
            expected=f"TASK:PATH with TASK one of {', '.join(EXTRA_TASKS)}",
            got=value,
            hint="Use e.g. --extra-dialogues redial:../shared/data/redial/valid_data.jsonl",
        )
    example = f"{task}:../shared/data/{SHARED_DATA[task]}"
    file = dialogue_file(path, task, "dialogue", example, option="--extra-dialogues")
    return ExtraDialogues(task, file)


def load_extra(
    extra: ExtraDialogues,
    builder: CatalogueBuilder,
    catalogue: Collection[str],
    youtube: Path | None,
) -> tuple[list[Dialogue], dict[str, int]]:
    """The extra file's dialogues restricted to the ``catalogue``'s ids, and counts for the
    report (dialogues, movie mentions kept and dropped). Titles are matched as the scored
    file's ``builder`` matches them (so a movie MovieLens lacks that both files name is the
    same id), by a copy of it: the catalogue is not changed."""
    builder = CatalogueBuilder(builder.movielens, prefix=builder.prefix)
    if extra.task == "redial":
        dialogues = load_redial(extra.path, builder)
    else:
        trailers = load_youtube_map(youtube) if youtube is not None and youtube.is_file() else None
        dialogues = load_inspired(extra.path, builder, trailers).dialogues
    return restrict_to(dialogues, catalogue, prefix=extra.task)


def restrict_to(
    dialogues: Sequence[Dialogue], catalogue: Collection[str], *, prefix: str
) -> tuple[list[Dialogue], dict[str, int]]:
    """``dialogues`` with every movie the ``catalogue`` lacks dropped (from the utterances and
    the opinions; the words stay) and ids prefixed ``<prefix>:``; plus the counts."""
    kept = dropped = 0
    out: list[Dialogue] = []
    for dialogue in dialogues:
        utterances = []
        for utterance in dialogue.utterances:
            movies = tuple(m for m in utterance.movies if m in catalogue)
            kept += len(movies)
            dropped += len(utterance.movies) - len(movies)
            utterances.append(replace(utterance, movies=movies))
        opinions = tuple((m, kind) for m, kind in dialogue.opinions if m in catalogue)
        out.append(
            Dialogue(id=f"{prefix}:{dialogue.id}", utterances=tuple(utterances), opinions=opinions)
        )
    return out, {"dialogues": len(out), "mentions_kept": kept, "mentions_dropped": dropped}

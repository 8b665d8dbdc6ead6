"""INSPIRED (Hayati et al., EMNLP 2020) tsv -> dialogues and cases.

What the data holds (checked on ../shared/data/inspired/dev.tsv, 99 dialogues, 3,538 rows): one
utterance a row, in order (``dialog_id``, ``utt_id``, ``speaker`` RECOMMENDER/SEEKER, ``text``);
the movies an utterance names are annotated in the ``movies`` column as ``"Title (Year)"``, several
separated by ``;`` (``movie_dict`` holds the same per dialogue but is sometimes not valid Python,
so it is not used). ``movie_id`` is the YouTube trailer id of the movie finally recommended.

How cases are built: the same protocol as ReDial (``evaluation.dialogues``): each recommender turn
(consecutive rows merged) whose ``movies`` name a movie not mentioned before is a case, targets =
the new movies. Text is the ``text`` column as typed (``QUOTATION_MARK`` artefacts undone); titles
are matched to MovieLens by normalised title + year.

The trailer id is matched to MovieLens through ml-youtube.csv when that file is given; on the dev
split only 3 of 99 trailers are in ml-youtube.csv (the dialogues are from 2019-2020, newer than
the MovieLens trailer list), so it does not define the targets; it is reported as a statistic and
the matched movie joins the catalogue.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.dialogues import Dialogue, Speaker, Utterance, dialogue_file
from evaluation.movies import CatalogueBuilder
from retrieval.errors import InvalidInputError

log = logging.getLogger(__name__)

_REQUIRED = ("dialog_id", "utt_id", "speaker", "text", "movies")
_SPEAKERS: dict[str, Speaker] = {"RECOMMENDER": "recommender", "SEEKER": "seeker"}


@dataclass
class InspiredData:
    dialogues: list[Dialogue]
    trailer_ids: dict[str, str] = field(default_factory=dict)  # dialogue id -> trailer id
    trailer_items: dict[str, str] = field(default_factory=dict)  # dialogue id -> catalogue id


def _clean_text(text: str) -> str:
    return " ".join(text.replace("QUOTATION_MARK", '"').split())


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInputError(
                f"{path}:1: not an INSPIRED tsv (missing columns: {', '.join(missing)})",
                expected="a tab-separated header with " + ", ".join(_REQUIRED) + ", movie_id",
                got=", ".join(reader.fieldnames or []) or "no header",
                hint="Pass an INSPIRED split such as ../shared/data/inspired/dev.tsv",
            )
        yield from enumerate(reader, start=2)


def load_youtube_map(path: str | Path) -> dict[str, int]:
    """ml-youtube.csv (youtubeId,movieId,title) -> {trailer id: MovieLens movieId}."""
    out: dict[str, int] = {}
    with Path(path).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out[row["youtubeId"]] = int(row["movieId"])
    return out


def load_inspired(
    path: str | Path,
    catalogue: CatalogueBuilder,
    youtube: dict[str, int] | None = None,
) -> InspiredData:
    """Read every dialogue of an INSPIRED tsv split (mentions are added to ``catalogue``)."""
    path = dialogue_file(path, "INSPIRED", ".tsv", "../shared/data/inspired/dev.tsv")
    order: list[str] = []
    rows: dict[str, list[Utterance]] = {}
    trailers: dict[str, str] = {}
    for lineno, row in _rows(path):
        speaker = _SPEAKERS.get((row.get("speaker") or "").strip().upper())
        if speaker is None:
            raise InvalidInputError(
                f"{path}:{lineno}: unknown speaker",
                expected="RECOMMENDER or SEEKER",
                got=repr(row.get("speaker")),
            )
        dialog_id = row["dialog_id"]
        if dialog_id not in rows:
            order.append(dialog_id)
            rows[dialog_id] = []
        titles = [t.strip() for t in (row.get("movies") or "").split(";") if t.strip()]
        movies = tuple(catalogue.resolve(t) for t in titles)
        rows[dialog_id].append(
            Utterance(speaker=speaker, text=_clean_text(row.get("text") or ""), movies=movies)
        )
        trailer = (row.get("movie_id") or "").strip()
        if trailer:
            trailers[dialog_id] = trailer
    if not order:
        raise InvalidInputError(
            f"No dialogues in {path}", expected="at least one INSPIRED row", got="only a header"
        )
    data = InspiredData(
        dialogues=[Dialogue(id=d, utterances=tuple(rows[d])) for d in order], trailer_ids=trailers
    )
    if youtube is not None and catalogue.movielens is not None:
        for dialog_id, trailer in trailers.items():
            movie_id = youtube.get(trailer.split("SPLIT")[0])
            if movie_id is not None and movie_id in catalogue.movielens.items:
                data.trailer_items[dialog_id] = catalogue.resolve(
                    catalogue.movielens.items[movie_id].label
                )
    log.info(
        "read %d INSPIRED dialogues from %s (%d trailers matched to MovieLens)",
        len(order),
        path,
        len(data.trailer_items),
    )
    return data

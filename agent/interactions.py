"""The interaction log in bulk: reading every event for training, importing MovieLens ratings.

The per-user API is :class:`agent.users.UserStore`; this module works on the same tables
(``users``, ``user_events``) in bulk, which a training run over 100k+ events needs.

MovieLens import (``vidrec import-interactions --movielens PATH``):

* users become ``ml-user:<userId>``, movies become videos ``ml:<movieId>`` (the id scheme of the
  evaluation harness, ``evaluation.movies``), each rating a ``rating`` event (0.5-5 stars) at its
  original time, marked with ``session_id = "import:movielens"``;
* re-running replaces the imported events of those users (idempotent) and never touches events
  recorded by people through vidrec;
* a JSONL manifest of the movies (title with year, genres and the most used tags as description
  and tags, the YouTube trailer from ``ml-youtube.csv`` as url) is written so that they can be
  indexed as metadata-only videos with ``vidrec ingest --manifest``.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from agent.types import FeedbackEvent, FeedbackKind
from agent.user_tables import EventRow, UserRow
from agent.users import UserStore
from retrieval.errors import InvalidInputError

log = logging.getLogger(__name__)

MOVIELENS_SOURCE = "import:movielens"
RATINGS_HEADER = ("userId", "movieId", "rating", "timestamp")
_YEAR_RE = re.compile(r"\s*\((\d{4})\)\s*$")
_BATCH = 20_000
_EVENTS = cast(Table, EventRow.__table__)


def movielens_video_id(movie_id: int | str) -> str:
    return f"ml:{int(movie_id)}"


def movielens_user_id(user_id: int | str) -> str:
    return f"ml-user:{int(user_id)}"


def youtube_url(youtube_id: str) -> str:
    return f"https://www.youtube.com/watch?v={youtube_id}"


# --- reading the whole log ----------------------------------------------------------------------
def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def all_events(store: UserStore) -> list[FeedbackEvent]:
    """Every recorded event of every user, oldest first (one query, streamed in batches)."""
    events: list[FeedbackEvent] = []
    query = (
        select(
            EventRow.user_id,
            EventRow.video_id,
            EventRow.kind,
            EventRow.value,
            EventRow.timestamp,
            EventRow.session_id,
        )
        .order_by(EventRow.timestamp, EventRow.id)
        .execution_options(yield_per=_BATCH)
    )
    with Session(store.engine) as db:  # the store's engine: same database, same pragmas
        for user_id, video_id, kind, value, timestamp, session_id in db.execute(query):
            events.append(
                FeedbackEvent(
                    user_id, video_id, cast(FeedbackKind, kind), value, _utc(timestamp), session_id
                )
            )
    return events


# --- MovieLens ----------------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What one import did."""

    users: int = 0
    events: int = 0
    replaced: int = 0  # previously imported events of these users, replaced
    videos: int = 0  # movies written to the manifest
    trailers: int = 0  # movies linked to a YouTube trailer
    manifest: Path | None = None
    skipped: list[str] = field(default_factory=list)  # "file:line: why" for bad rows


def _ratings_file(path: Path) -> Path:
    ratings = path / "ratings.csv" if path.is_dir() else path
    if not ratings.is_file():
        raise InvalidInputError(
            f"No MovieLens ratings at {path}",
            expected="a MovieLens folder with ratings.csv, or the ratings.csv file itself",
            got="a folder without ratings.csv" if path.is_dir() else "no such file",
            hint="Point at e.g. ../shared/data/movielens/ml-latest-small",
        )
    return ratings


def read_movielens_ratings(
    path: Path, *, max_users: int | None = None
) -> tuple[list[FeedbackEvent], list[str]]:
    """Rating events of a MovieLens ``ratings.csv`` (``userId,movieId,rating,timestamp``).

    Args:
        max_users: keep only the first N users (in file order), for quick runs.

    Returns:
        The events and the bad rows skipped (``file:line: what is wrong``).

    Raises:
        InvalidInputError: the file has no MovieLens header.
    """
    ratings = _ratings_file(path)
    events: list[FeedbackEvent] = []
    skipped: list[str] = []
    users: set[str] = set()
    with ratings.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = tuple(next(reader, ()))
        if header[:4] != RATINGS_HEADER:
            raise InvalidInputError(
                f"{ratings} is not a MovieLens ratings file",
                expected="the header " + ",".join(RATINGS_HEADER),
                got=",".join(header) or "an empty file",
                hint="Use ratings.csv from a MovieLens release (ml-latest-small, ml-25m, ...)",
            )
        for line, rec in enumerate(reader, start=2):
            try:
                user = movielens_user_id(rec[0])
                video = movielens_video_id(rec[1])
                rating = float(rec[2])
                when = datetime.fromtimestamp(int(rec[3]), UTC)
            except (IndexError, ValueError):
                skipped.append(
                    f"{ratings}:{line}: expected userId,movieId,rating,timestamp, got {rec!r}"
                )
                continue
            if not 0.0 <= rating <= 5.0:
                skipped.append(f"{ratings}:{line}: rating {rating} is outside 0-5")
                continue
            if user not in users:
                if max_users is not None and len(users) >= max_users:
                    continue
                users.add(user)
            events.append(FeedbackEvent(user, video, "rating", rating, when, MOVIELENS_SOURCE))
    return events, skipped


def _trailers(path: Path) -> dict[int, str]:
    """movieId -> YouTube id from ``ml-youtube.csv`` (youtubeId,movieId,title); {} if absent."""
    if not path.is_file():
        return {}
    out: dict[int, str] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                out.setdefault(int(row["movieId"]), row["youtubeId"].strip())
            except (KeyError, ValueError):
                continue
    return out


def movie_manifest_rows(
    folder: Path, trailers: dict[int, str], movie_ids: set[int] | None = None, max_tags: int = 8
) -> list[dict[str, object]]:
    """Metadata-only manifest rows for the movies of a MovieLens folder."""
    movies_csv = folder / "movies.csv"
    if not movies_csv.is_file():
        return []
    tags: dict[int, Counter[str]] = defaultdict(Counter)
    tags_csv = folder / "tags.csv"
    if tags_csv.is_file():
        with tags_csv.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                tag = " ".join(row.get("tag", "").split()).lower()
                if tag:
                    tags[int(row["movieId"])][tag] += 1
    rows: list[dict[str, object]] = []
    with movies_csv.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            movie_id = int(row["movieId"])
            if movie_ids is not None and movie_id not in movie_ids:
                continue
            title = " ".join(row["title"].split())
            genres = [g for g in row["genres"].split("|") if g and g != "(no genres listed)"]
            top_tags = [t for t, _ in tags[movie_id].most_common(max_tags)]
            parts = [title + "."]
            if genres:
                parts.append("Genres: " + ", ".join(genres) + ".")
            if top_tags:
                parts.append("Tags: " + ", ".join(top_tags) + ".")
            entry: dict[str, object] = {
                "id": movielens_video_id(movie_id),
                "title": title,
                "description": " ".join(parts),
                "tags": [g.lower() for g in genres] + top_tags,
                "movielens_id": str(movie_id),
            }
            year = _YEAR_RE.search(title)
            if year:
                entry["published"] = f"{year.group(1)}-01-01"
            youtube = trailers.get(movie_id)
            if youtube:
                entry["url"] = youtube_url(youtube)
                entry["youtube_id"] = youtube
            rows.append(entry)
    return rows


def import_movielens(
    store: UserStore,
    path: str | Path,
    manifest_out: str | Path,
    *,
    trailers_csv: str | Path | None = None,
    max_users: int | None = None,
) -> ImportReport:
    """Import MovieLens ratings as users and rating events, and write the movies' manifest.

    Idempotent: each imported user's previously imported events are replaced in the same
    transaction; events recorded through vidrec are kept.

    Args:
        store: the user store (its database receives the events).
        path: a MovieLens folder (ratings.csv, movies.csv, tags.csv) or its ratings.csv.
        manifest_out: where to write the movies' JSONL manifest.
        trailers_csv: ``ml-youtube.csv`` (default: next to the folder or inside it).
        max_users: import only the first N users.
    """
    source = Path(path)
    folder = source if source.is_dir() else source.parent
    events, skipped = read_movielens_ratings(source, max_users=max_users)
    report = ImportReport(skipped=skipped)
    users = sorted({e.user_id for e in events})
    with store.write_lock, Session(store.engine) as db, db.begin():
        existing = set(db.scalars(select(UserRow.id).where(UserRow.id.like("ml-user:%"))))
        now = datetime.now(UTC)
        new_users = [{"id": u, "created_at": now} for u in users if u not in existing]
        if new_users:
            db.execute(insert(UserRow), new_users)
        for start in range(0, len(users), 500):
            chunk = users[start : start + 500]
            result = db.execute(
                delete(EventRow).where(
                    EventRow.user_id.in_(chunk), EventRow.session_id == MOVIELENS_SOURCE
                )
            )
            report.replaced += int(getattr(result, "rowcount", 0) or 0)
        for start in range(0, len(events), _BATCH):
            db.execute(
                _EVENTS.insert(),  # Core executemany: several times faster than ORM
                [
                    {
                        "user_id": e.user_id,
                        "video_id": e.video_id,
                        "kind": e.kind,
                        "value": e.value,
                        "timestamp": e.timestamp,
                        "session_id": e.session_id,
                    }
                    for e in events[start : start + _BATCH]
                ],
            )
    report.users = len(users)
    report.events = len(events)

    candidates = (
        [Path(trailers_csv)]
        if trailers_csv
        else [folder / "ml-youtube.csv", folder.parent / "ml-youtube.csv"]
    )
    trailers = next((t for t in map(_trailers, candidates) if t), {})
    movie_ids = {int(e.video_id.split(":", 1)[1]) for e in events}
    rows = movie_manifest_rows(folder, trailers, movie_ids)
    out = Path(manifest_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(
        "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows),
        encoding="utf-8",
    )
    tmp.replace(out)
    report.manifest = out
    report.videos = len(rows)
    report.trailers = sum(1 for r in rows if "url" in r)
    log.info(
        "imported %d MovieLens users, %d ratings (%d replaced); manifest %s (%d movies)",
        report.users,
        report.events,
        report.replaced,
        out,
        report.videos,
    )
    return report

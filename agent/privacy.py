"""The right to be forgotten and to see one's data, across every store that holds user data.

What vidrec holds about a user, and where:

* SQL (``agent.users``): the user row, feedback events, sessions and their turns;
* the collaborative model (``agent.collab``): the user's id and factors in every stored version;
* caches under ``<data_dir>/cache``: files named after the user, or small text files (JSON, CSV,
  logs) that hold the id as a JSON string.

``export_user`` gathers all of it as JSON-ready data. ``forget_user`` deletes it: the SQL rows
(their interactions are therefore excluded from the next ``vidrec train``), the user's factors
and id from every model version (immediately, no retrain needed), cache files that mention the
user; then, for SQLite, truncates the write-ahead log (the user store deletes with
``secure_delete``, so deleted rows do not linger in free pages; no full ``VACUUM`` per deletion). ``find_traces`` searches every SQL table's text columns, the
model files and the caches for the user id and returns where it still appears; ``forget_user``
runs it and reports the result, and the tests assert it is empty.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import String, Text, func, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.sql import column, table

from agent.collab import CollabScorer, ModelStore, load_model
from agent.users import UserStore
from retrieval.errors import NotFoundError

log = logging.getLogger(__name__)

MAX_SCAN_BYTES = 64 * 1024 * 1024  # cache files larger than this are not scanned
MIN_RAW_ID = 8  # shorter ids are not searched for as raw bytes (chance matches)
TEXT_SUFFIXES = (".json", ".jsonl", ".txt", ".csv", ".tsv", ".log")


@dataclass
class ForgetReport:
    """What ``forget_user`` removed, and what (if anything) still mentions the user."""

    user_id: str
    sql_rows: bool = False  # the SQL store held something
    model_versions: int = 0  # collaborative model versions rewritten
    cache_files: list[str] = field(default_factory=list)  # removed
    remaining: list[str] = field(default_factory=list)  # traces found afterwards

    @property
    def found(self) -> bool:
        return self.sql_rows or bool(self.model_versions) or bool(self.cache_files)


def export_user(user_id: str, store: UserStore, collab: CollabScorer | None) -> dict[str, object]:
    """Everything held about the user as JSON-ready data.

    Raises:
        NotFoundError: neither the SQL store nor any model version knows the user.
    """
    factors = collab.export_user(user_id) if collab is not None else {}
    try:
        data = store.export(user_id)
    except NotFoundError:
        if not factors:
            raise
        data = {"user_id": user_id, "events": [], "sessions": []}
    data["collaborative_model"] = {
        "note": "the user's latent factors in each stored model version (ALS, agent.collab)",
        "versions": factors,
    }
    return data


def _cache_files(cache_dir: Path, user_id: str) -> list[Path]:
    """Cache files that belong to the user: named after them (a path component or the file's
    stem is the id), or small text files holding the id as a JSON string (``"<id>"``).

    Only whole-id matches count, so forgetting user ``ml`` never deletes a file that merely
    contains the letters "ml"; binary files (indexes, databases) are never deleted here.
    """
    if not cache_dir.is_dir():
        return []
    quoted = json.dumps(user_id).encode("utf-8")
    hits = []
    for path in cache_dir.rglob("*"):
        if not path.is_file():
            continue
        parts = path.relative_to(cache_dir).parts
        if (
            user_id in parts
            or path.stem == user_id
            or (
                path.suffix.lower() in TEXT_SUFFIXES
                and path.stat().st_size <= MAX_SCAN_BYTES
                and quoted in path.read_bytes()
            )
        ):
            hits.append(path)
    return hits


def _needles(user_id: str) -> list[bytes]:
    # utf-8 for text/JSON/SQLite, utf-32-le for numpy string arrays (the model's id index)
    return [user_id.encode("utf-8"), user_id.encode("utf-32-le")]


def _contains(path: Path, needles: list[bytes]) -> bool:
    data = path.read_bytes()
    return any(n in data for n in needles)


def _compact_sqlite(engine: Engine) -> None:
    """Clear deleted rows out of an SQLite write-ahead log.

    The user store's connections run with ``secure_delete``, so a deleted row is overwritten with
    zeros in the pages that held it; the old page images left in the WAL are cleared by a
    truncating checkpoint. No full ``VACUUM`` (a rewrite of the whole file) per deletion.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


def forget_user(
    user_id: str,
    store: UserStore,
    collab: CollabScorer | None,
    *,
    cache_dir: Path | None = None,
    compact: bool = True,
) -> ForgetReport:
    """Delete everything held about the user from SQL, the model and the caches; then verify."""
    report = ForgetReport(user_id)
    report.sql_rows = store.forget(user_id)
    if collab is not None:
        report.model_versions = collab.forget_user(user_id)
    if cache_dir is not None:
        for path in _cache_files(cache_dir, user_id):
            path.unlink(missing_ok=True)
            report.cache_files.append(str(path))
    if compact:
        _compact_sqlite(store.engine)
    report.remaining = find_traces(
        user_id, store, collab.model_dir if collab is not None else None, cache_dir
    )
    if report.remaining:
        log.warning("user %s still appears in: %s", user_id, "; ".join(report.remaining))
    log.info(
        "forgot user %s: sql=%s model versions=%d cache files=%d",
        user_id,
        report.sql_rows,
        report.model_versions,
        len(report.cache_files),
    )
    return report


def find_traces(
    user_id: str,
    store: UserStore,
    model_dir: Path | None = None,
    cache_dir: Path | None = None,
    *,
    raw_sqlite: bool = True,
) -> list[str]:
    """Every place the user id still appears: ``"sql:<table>.<column> (n rows)"``, model files,
    cache files, and (SQLite, ``raw_sqlite``) the bytes of the database file and its WAL.

    SQL text columns match on the whole id or on it quoted as a JSON string; model versions on
    their stored id lists. Byte searches (database file, model files) run only for ids of
    ``MIN_RAW_ID`` characters or more: a shorter id turns up in unrelated bytes by chance.
    """
    found: list[str] = []
    quoted = json.dumps(user_id)
    raw = len(user_id) >= MIN_RAW_ID
    engine = store.engine
    inspector = inspect(engine)
    with engine.connect() as conn:
        for table_name in inspector.get_table_names():
            for col in inspector.get_columns(table_name):
                if not isinstance(col["type"], String | Text):
                    continue
                target = table(table_name, column(col["name"]))
                cell = target.c[col["name"]]
                match = (cell == user_id) | cell.contains(quoted, autoescape=True)
                if raw:
                    match = match | cell.contains(user_id, autoescape=True)
                count = conn.execute(
                    select(func.count()).select_from(target).where(match)
                ).scalar_one()
                if count:
                    found.append(f"sql:{table_name}.{col['name']} ({count} rows)")
    if raw and raw_sqlite and engine.dialect.name == "sqlite" and engine.url.database:
        db_file = Path(engine.url.database)
        for path in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-journal")):
            if path.is_file() and _contains(path, _needles(user_id)):
                found.append(f"file:{path} (raw bytes)")
    if model_dir is not None and model_dir.is_dir():
        for version in ModelStore(model_dir).versions():
            model = load_model(version)
            if model.has_user(user_id):
                found.append(f"model:{version.name} (user factors)")
            if model.requests is not None and user_id in model.requests.users:
                found.append(f"model:{version.name} (similar requests)")
        if raw:
            for path in model_dir.rglob("*"):
                if path.is_file() and _contains(path, _needles(user_id)):
                    found.append(f"file:{path}")
    if cache_dir is not None:
        found.extend(f"file:{path}" for path in _cache_files(cache_dir, user_id))
    return found


def forget_hook(
    store: Callable[[], UserStore],
    collab: Callable[[], CollabScorer | None],
    cache_dir: Path | None,
) -> Callable[[str], None]:
    """A ``Recommender.forget_hooks`` entry: after the facade deleted the SQL rows, drop the
    user from the model versions and caches, compact SQLite, and log anything left.

    ``store`` and ``collab`` are getters, so the facade's lazily built parts stay lazy.
    """

    def hook(user_id: str) -> None:
        forget_user(user_id, store(), collab(), cache_dir=cache_dir)

    return hook

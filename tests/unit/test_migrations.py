"""Schema migrations: a fresh database, a database made by ``create_all`` before migrations,
concurrent first use, and the ``vidrec db`` commands.

Every test takes the ``sql_url`` fixture (a SQLite file here); ``tests/integration/
test_sql_postgres.py`` runs the same tests on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from agent.users import UserStore
from api.auth import KeyStore
from api.db import project_schemas
from api.jobs import JobManager
from retrieval.catalogue import Catalogue
from retrieval.errors import ConfigError
from retrieval.sqldb import head_revision, make_engine, schema_differences, upgrade
from retrieval.types import Chunk, IngestReport, Video
from ui.cli import app

REPO = Path(__file__).resolve().parents[2]


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_fresh_database_migrates_to_exactly_the_models(sql_url: str) -> None:
    engine = make_engine(sql_url)
    try:
        for schema in project_schemas():
            assert upgrade(engine, schema) == head_revision(schema) is not None
            assert schema_differences(engine, schema) == []
            assert upgrade(engine, schema) == head_revision(schema)  # again: nothing to do
    finally:
        engine.dispose()
    expected = {t for s in project_schemas() for t in s.metadata.tables}
    expected |= {s.version_table for s in project_schemas()}
    assert _tables(sql_url) == expected


def test_each_store_migrates_only_its_own_tables(sql_url: str) -> None:
    Catalogue(sql_url).close()
    tables = _tables(sql_url)
    assert {"videos", "chunks", "sources", "catalogue_state", "vidrec_version_catalogue"} <= tables
    assert not tables & {"users", "user_events", "api_keys", "api_jobs"}
    UserStore(sql_url).close()
    assert {"users", "user_events", "user_sessions", "session_turns"} <= _tables(sql_url)


BASELINES = {"catalogue": "catalogue_0001", "users": "users_0001", "api": "api_0001"}


def _create_all_as_before_migrations(url: str) -> None:
    """The tables ``create_all`` made before migrations existed, without any version table.

    The baseline migrations were generated from those models (and the test above held them equal
    to them when they were written), so running just the baselines and dropping the version
    tables rebuilds such a database."""
    engine = make_engine(url)
    try:
        for schema in project_schemas():
            upgrade(engine, schema, BASELINES[schema.name])
        with engine.begin() as conn:
            for schema in project_schemas():
                conn.execute(text(f"DROP TABLE {schema.version_table}"))
    finally:
        engine.dispose()


def _legacy_database(url: str) -> None:
    """What a vidrec before migrations left: tables with rows, no version table; here also an
    older ``user_events`` without ``session_id`` and without its index."""
    _create_all_as_before_migrations(url)
    engine = make_engine(url)
    try:
        now = datetime(2025, 1, 1, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX ix_user_events_user_time"))
            conn.execute(text("ALTER TABLE user_events DROP COLUMN session_id"))
            conn.execute(text("UPDATE catalogue_state SET value = 7 WHERE key = 'version'"))
            conn.execute(
                text(
                    "INSERT INTO api_jobs (id, kind, status, key_id, created_at, files, progress)"
                    " VALUES ('j1', 'ingest', 'running', '', :t, '[]', '{}')"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO videos (id, title, description, tags, synthetic_audio, extra,"
                    " updated) VALUES ('old', 'Old talk', '', '[]', false, '{}', :t)"
                ),
                {"t": now},
            )
            conn.execute(
                text("INSERT INTO users (id, created_at) VALUES ('alice', :t)"), {"t": now}
            )
            conn.execute(
                text(
                    "INSERT INTO user_events (user_id, video_id, kind, value, timestamp)"
                    " VALUES ('alice', 'old', 'like', NULL, :t)"
                ),
                {"t": now},
            )
    finally:
        engine.dispose()


def _never_called(*_: object) -> IngestReport:
    raise AssertionError("no job should run")


def test_database_made_by_create_all_is_adopted_with_its_rows(sql_url: str) -> None:
    _legacy_database(sql_url)
    catalogue, users, keys = Catalogue(sql_url), UserStore(sql_url), KeyStore(sql_url)
    try:
        assert catalogue.version() == 7
        assert catalogue.get_video("old") is not None
        assert [e.video_id for e in users.history("alice")] == ["old"]
        users.record("alice", "new", "like", session_id="s1")  # the column added on adoption
        assert users.history("alice")[-1].session_id == "s1"
        # a job the old server left running would never finish: failed, as its restart did
        jobs = JobManager(sql_url, _never_called, worker=False)
        left = jobs.get("j1")
        jobs.close()
        assert left.status == "failed" and left.error and left.error["error"] == "interrupted"
        engine = make_engine(sql_url)
        try:
            for schema in project_schemas():
                assert schema_differences(engine, schema) == []
        finally:
            engine.dispose()
    finally:
        for store in (catalogue, users, keys):
            store.close()


def test_adoption_refuses_to_invent_a_required_value(sql_url: str) -> None:
    _create_all_as_before_migrations(sql_url)
    engine = make_engine(sql_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE api_keys DROP COLUMN key_hash"))
    finally:
        engine.dispose()
    with pytest.raises(ConfigError, match="lacks column 'key_hash'"):
        KeyStore(sql_url)


def _open_everything(url: str) -> None:
    for store in (Catalogue(url), UserStore(url), KeyStore(url)):
        store.close()


def test_concurrent_first_use_by_several_processes(sql_url: str) -> None:
    """Workers starting together on an empty database: one migrates, the others wait."""
    # spawned, not forked: a forked child can inherit a lock another thread held
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_open_everything, args=(sql_url,)) for _ in range(3)]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join(timeout=120)
        assert [p.exitcode for p in procs] == [0, 0, 0]
    finally:  # a hung worker fails this test; left alive, it would hang pytest's exit
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    catalogue = Catalogue(sql_url)
    try:
        assert catalogue.version() == 0  # seeded once, not once per process
        video = Video("v", "V")
        catalogue.commit_video(video, [Chunk("v:0", "v", 0, 0.0, 1.0, "x")], "h")
        assert catalogue.version() == 1
    finally:
        catalogue.close()


def test_db_commands_upgrade_report_and_check(
    sql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIDREC_SQL__URL", sql_url)
    runner = CliRunner()
    before = runner.invoke(app, ["db", "current"])
    assert before.exit_code == 0 and "catalogue: empty" in before.output
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    after = runner.invoke(app, ["db", "current"])
    assert after.output.count("up to date") == len(project_schemas())
    assert runner.invoke(app, ["db", "check"]).exit_code == 0
    engine = make_engine(sql_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE api_jobs DROP COLUMN report"))
    finally:
        engine.dispose()
    drifted = runner.invoke(app, ["db", "check"])
    assert drifted.exit_code == 1
    assert "api: 1 difference(s)" in drifted.output and "report" in drifted.output


def test_no_create_all_in_product_code() -> None:
    """Tables come from migrations only; ``create_all`` would skip the version tables."""
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("agent", "api", "retrieval", "ui", "evaluation", "benchmarks", "prompts")
        for path in (REPO / folder).rglob("*.py")
        if re.search(r"\bcreate_all\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("url", "error"),
    [("nope://x", "No SQLAlchemy dialect"), ("mysql+mysqldb://h/db", "driver for this SQL URL")],
)
def test_unusable_sql_url_says_how_to_fix(url: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error) as caught:
        Catalogue(url)
    assert caught.value.hint

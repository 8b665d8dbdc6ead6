"""``vidrec db upgrade | current | check``: the project database's schema migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from agent.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

db_app = typer.Typer(help="The SQL database (sql.url): schema migrations.")


def _engine() -> Engine:
    from retrieval.sqldb import make_engine

    settings = Settings()
    settings.ensure_dirs()
    return make_engine(settings.sql_url)


@db_app.command("upgrade")
def upgrade_cmd() -> None:
    """Apply every pending migration (catalogue, users, API tables); safe to run again."""
    from api.db import project_schemas
    from retrieval.sqldb import upgrade

    engine = _engine()
    try:
        for schema in project_schemas():
            typer.echo(f"{schema.name}: at {upgrade(engine, schema)}")
    finally:
        engine.dispose()


@db_app.command("current")
def current_cmd() -> None:
    """Print each part's revision in the database and the newest one this code knows."""
    from api.db import project_schemas
    from retrieval.sqldb import head_revision
    from retrieval.sqldb.migrate import current_revision

    engine = _engine()
    try:
        with engine.connect() as conn:
            for schema in project_schemas():
                now, head = current_revision(conn, schema), head_revision(schema)
                state = "up to date" if now == head else "run `vidrec db upgrade`"
                typer.echo(f"{schema.name}: {now or 'empty'} (newest {head}; {state})")
    finally:
        engine.dispose()


@db_app.command("check")
def check_cmd() -> None:
    """Compare the database's tables with the models; exit 1 on any difference."""
    from api.db import project_schemas
    from retrieval.sqldb import schema_differences

    engine = _engine()
    try:
        found = {s.name: schema_differences(engine, s) for s in project_schemas()}
    finally:
        engine.dispose()
    for name, diffs in found.items():
        typer.echo(f"{name}: " + (f"{len(diffs)} difference(s)" if diffs else "matches the models"))
        for diff in diffs:
            typer.echo(f"  {diff}")
    if any(found.values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")

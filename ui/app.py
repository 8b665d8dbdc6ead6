"""The people-facing chat app (Gradio), mounted on a small FastAPI app that also streams media.

``build_app`` (:mod:`ui.blocks`, re-exported here) lays out the Blocks and wires each event to a
function of ``ui.callbacks`` (a few lines over the ``Recommender`` facade); ``create_server``
mounts it beside the routes that serve a library video's local media file and thumbnail (by video
id only, and only files inside the library's folders, see ``api.media``); ``serve`` runs it with
uvicorn (``vidrec ui``, ``vidrec demo``).
"""

from __future__ import annotations

import logging
import threading
import webbrowser
from collections.abc import Sequence
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from agent.recommender import Recommender
from agent.settings import Settings
from api.media import MediaKind, library_file, media_roots
from retrieval.errors import NotFoundError
from ui.blocks import APP_CSS, build_app, theme
from ui.cards import MEDIA_ROUTE, THUMB_ROUTE

__all__ = ["build_app", "create_server", "serve", "warm_up"]

log = logging.getLogger(__name__)


def _library_file(
    recommender: Recommender, settings: Settings, video_id: str, kind: MediaKind
) -> Path:
    """The local media file or thumbnail of a library video inside the library's folders (see
    ``api.media``), or a 404 that names no server path."""
    try:
        return library_file(recommender.library, video_id, kind, media_roots(settings))
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=exc.message) from None


def create_server(
    recommender: Recommender,
    settings: Settings,
    *,
    guide: str | None = None,
    examples: Sequence[str] = (),
) -> FastAPI:
    """FastAPI app: the Gradio chat at ``/`` plus media and thumbnail routes by video id."""
    app = FastAPI(title="vidrec chat", docs_url=None, redoc_url=None)

    @app.get(MEDIA_ROUTE + "/{video_id}")
    def media(video_id: str) -> FileResponse:
        return FileResponse(_library_file(recommender, settings, video_id, "media"))

    @app.get(THUMB_ROUTE + "/{video_id}")
    def thumbnail(video_id: str) -> FileResponse:
        return FileResponse(_library_file(recommender, settings, video_id, "thumbnail"))

    blocks = build_app(recommender, settings, guide=guide, examples=examples)
    blocks.queue(default_concurrency_limit=1)
    return gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        theme=theme(),
        css=APP_CSS,
        footer_links=[],
        show_error=False,
        max_file_size=f"{int(settings.api.max_upload_mb)}mb",
    )


def warm_up(recommender: Recommender) -> None:
    """Load the models, the index and the trained rankers ahead of the first question (best
    effort, logged): run it in a background thread as the server starts (an early question
    simply waits on the same loads)."""
    try:
        seconds = recommender.warmup()
    except Exception as exc:
        log.warning("warm-up failed (the first question will load the models): %s", exc)
        return
    log.info(
        "warmed up in %.1f s (%s)",
        sum(seconds.values()),
        ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()),
    )


def serve(
    recommender: Recommender,
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    open_browser: bool = False,
    guide: str | None = None,
    examples: Sequence[str] = (),
    warm: bool = True,
) -> None:
    """Run the chat app until interrupted (Ctrl+C); ``warm`` loads the models meanwhile."""
    import uvicorn

    host = host or settings.ui.host
    port = port or settings.ui.port
    app = create_server(recommender, settings, guide=guide, examples=examples)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    url = f"http://{host}:{port}/"
    print(f"vidrec chat app on {url}  (Ctrl+C to stop)", flush=True)
    if warm:
        threading.Thread(
            target=warm_up, args=(recommender,), name="vidrec-warm-up", daemon=True
        ).start()

    if open_browser:

        def _open() -> None:
            while not server.started and not server.should_exit:
                threading.Event().wait(0.2)
            if server.started:
                webbrowser.open(url)

        threading.Thread(target=_open, name="vidrec-open-browser", daemon=True).start()
    server.run()

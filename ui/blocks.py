"""The chat app's page (Gradio Blocks): a Chat tab (text, voice, cards, feedback, the user's name,
history and "forget me") and a Library tab, each event wired to a function of ``ui.callbacks``
(a few lines over the ``Recommender`` facade). :mod:`ui.app` serves it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import gradio as gr

from agent.recommender import Recommender
from agent.settings import Settings
from agent.types import Recommendation
from retrieval.paths import resolve_roots
from ui import callbacks as cb
from ui import library_tab as lib_tab
from ui.cards import CARD_CSS

__all__ = ["APP_CSS", "DEFAULT_GUIDE", "build_app", "theme"]

APP_CSS = (
    CARD_CSS
    + """
#vr-status { min-height: 1.5em; font-size: 0.9em; color: var(--body-text-color-subdued); }
.vr-slot { border: none !important; padding: 0 !important; }
.vr-slot .vr-buttons button { min-width: 0; }
"""
)

DEFAULT_GUIDE = (
    "Tell vidrec what you feel like watching, typed or spoken. Each pick comes with why it fits and "
    "the moment to start at. ♥ / ✗ / ✓ on a card shape your next answers."
)


def theme() -> gr.themes.Base:
    return gr.themes.Default(primary_hue="indigo", secondary_hue="sky")


@dataclass
class _Slot:
    column: gr.Column
    card: gr.HTML
    buttons: dict[cb.ButtonKind, gr.Button]


def build_app(
    recommender: Recommender,
    settings: Settings,
    *,
    guide: str | None = None,
    examples: Sequence[str] = (),
    title: str = "vidrec",
) -> gr.Blocks:
    """The chat app: a Chat tab (text, voice, cards, feedback, user) and a Library tab.

    Args:
        guide: markdown shown under the title (``vidrec demo`` explains the demo library here).
        examples: requests offered as one-click examples under the input box.
    """
    upload_root = settings.data_dir / "uploads"
    # the library tab reads server paths only under the same folders as the API
    server_roots = list(resolve_roots(settings.api.ingest_roots) or ())
    default_user = settings.ui.default_user

    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        history_state = gr.State([])
        conversation_state = gr.State([])
        recs_state = gr.State([])
        pending_forget = gr.State(None)

        gr.Markdown(f"# {title}\n{guide or DEFAULT_GUIDE}", elem_id="vr-guide")
        with gr.Tab("Chat", id="chat"), gr.Row(equal_height=False):
            with gr.Column(scale=5):
                with gr.Row():
                    user = gr.Dropdown(
                        choices=[default_user],
                        value=default_user,
                        label="Your name (your likes and history are kept per name)",
                        allow_custom_value=True,
                        interactive=True,
                        scale=4,
                        elem_id="vr-user",
                    )
                    forget_btn = gr.Button("Forget me", variant="secondary", size="sm", scale=1)
                with gr.Row(visible=False) as confirm_row:
                    confirm_md = gr.Markdown()
                    yes_btn = gr.Button("Yes, delete", variant="stop", size="sm")
                    no_btn = gr.Button("Cancel", size="sm")
                forget_md = gr.Markdown()
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=420,
                    feedback_options=None,
                    placeholder="Ask for a video: a topic, a mood, a length…",
                    elem_id="vr-chat",
                )
                status = gr.Markdown(elem_id="vr-status")
                with gr.Row():
                    text = gr.Textbox(
                        label="Your request (a voice transcript lands here too: fix it and press Send)",
                        placeholder="e.g. a short talk about the ocean",
                        scale=5,
                        elem_id="vr-input",
                    )
                    send_btn = gr.Button("Send", variant="primary", scale=1, elem_id="vr-send")
                if examples:
                    gr.Examples(
                        examples=[[e] for e in examples],
                        inputs=[text],
                        label="Try one of these (click, then Send)",
                    )
                audio = gr.Audio(
                    sources=["microphone", "upload"],
                    type="filepath",
                    label="…or speak: record, or upload an audio file",
                    elem_id="vr-audio",
                )
            with gr.Column(scale=4):
                gr.Markdown("### Recommendations")
                empty_md = gr.Markdown(
                    "Your picks appear here as cards: why each fits, and a link to the moment "
                    "that earns it.",
                    elem_id="vr-empty",
                )
                slots: list[_Slot] = []
                for i in range(cb.MAX_CARDS):
                    with gr.Column(visible=False, elem_classes="vr-slot") as column:
                        card = gr.HTML(elem_id=f"vr-card-{i}")
                        with gr.Row(elem_classes="vr-buttons"):
                            buttons: dict[cb.ButtonKind, gr.Button] = {
                                "like": gr.Button("♥ Like", size="sm"),
                                "dislike": gr.Button("✗ Not for me", size="sm"),
                                "watched": gr.Button("✓ Watched", size="sm"),
                            }
                    slots.append(_Slot(column, card, buttons))
                with gr.Accordion("Your history", open=False):
                    history_md = gr.Markdown()

        with gr.Tab("Library", id="library"):
            gr.Markdown(
                "For the operator: add videos to the library. Media is transcribed with Whisper "
                "(captions or transcripts win when given), chunked, embedded and indexed. "
                "Files already indexed and unchanged are skipped."
            )
            with gr.Row():
                uploads = gr.File(
                    label="Upload media, captions (.srt/.vtt) or transcripts",
                    file_count="multiple",
                    type="filepath",
                )
                manifest_file = gr.File(
                    label="Manifest (CSV or JSONL), optional",
                    file_types=[".csv", ".jsonl", ".ndjson"],
                    type="filepath",
                )
            server_paths = gr.Textbox(
                label="…or files / folders on the server, one per line", lines=3
            )
            manifest_path = gr.Textbox(label="…or a manifest on the server (path)")
            ingest_btn = gr.Button("Ingest", variant="primary")
            ingest_md = gr.Markdown(elem_id="vr-ingest-status")
            videos = gr.Dataframe(
                headers=lib_tab.VIDEO_COLUMNS,
                label="Indexed videos",
                interactive=False,
                wrap=True,
            )
            refresh_btn = gr.Button("Refresh list", size="sm")

        # --- wiring: every handler is a few lines over ui.callbacks --------------------------
        chat_outputs: list[Any] = [
            history_state,
            chatbot,
            conversation_state,
            recs_state,
            text,
            status,
            empty_md,
            *(s.column for s in slots),
            *(s.card for s in slots),
        ]

        def show(view: cb.ChatView) -> list[Any]:
            n = len(view.cards)
            return [
                view.history,
                view.history,
                view.conversation,
                view.recommendations,
                gr.skip() if view.textbox is None else view.textbox,
                view.status,
                gr.update(visible=n == 0),
                *(gr.update(visible=i < n) for i in range(cb.MAX_CARDS)),
                *(view.cards[i] if i < n else "" for i in range(cb.MAX_CARDS)),
            ]

        def on_text(
            message: str, history: list[cb.ChatMessage], conv: list[Any], name: str
        ) -> Iterator[list[Any]]:
            for view in cb.respond(recommender, message, history, conv, name):
                yield show(view)

        def on_voice(
            path: str | None, history: list[cb.ChatMessage], conv: list[Any], name: str
        ) -> Iterator[list[Any]]:
            for view in cb.voice_turn(recommender, path, history, conv, name):
                yield show(view)

        def on_history(name: str) -> str:
            return cb.history_markdown(recommender, name)

        turn_inputs = [history_state, conversation_state, user]
        turns: list[Any] = []  # a streaming turn: switching user or forgetting cancels it
        for trigger in (send_btn.click, text.submit):
            turns.append(
                trigger(on_text, [text, *turn_inputs], chat_outputs, concurrency_id="turn")
            )
            turns[-1].then(on_history, [user], [history_md])
        for trigger in (audio.stop_recording, audio.upload):
            turns.append(
                trigger(on_voice, [audio, *turn_inputs], chat_outputs, concurrency_id="turn")
            )
            turns[-1].then(on_history, [user], [history_md])

        for i, slot in enumerate(slots):
            for kind, button in slot.buttons.items():

                def on_feedback(
                    name: str, recs: list[Recommendation], _i: int = i, _kind: cb.ButtonKind = kind
                ) -> tuple[str, Any]:
                    fb = cb.give_feedback(recommender, name, recs, _i, _kind)
                    if fb.error is None:
                        gr.Info(fb.status)
                    return fb.status, gr.skip() if fb.card is None else fb.card

                button.click(on_feedback, [user, recs_state], [status, slot.card]).then(
                    on_history, [user], [history_md]
                )

        def on_user(name: str) -> list[Any]:
            fresh = cb.ChatView(history=[], conversation=[])
            return [*show(fresh), on_history(name), ""]

        # a turn still streaming would write the previous user's cards into the fresh chat
        user.input(on_user, [user], [*chat_outputs, history_md, forget_md], cancels=turns)

        def on_load(name: str) -> tuple[Any, str, list[list[str]]]:
            choices = cb.user_choices(recommender, name)
            return gr.update(choices=choices), on_history(name), _rows()

        def show_forget(view: cb.ForgetView) -> list[Any]:
            return [view.pending, gr.update(visible=view.confirm_visible), view.message]

        forget_outputs = [pending_forget, confirm_row, confirm_md]
        forget_btn.click(lambda name: show_forget(cb.forget_request(name)), [user], forget_outputs)
        no_btn.click(
            lambda: [*show_forget(cb.forget_cancel()), "Nothing was deleted."],
            None,
            [*forget_outputs, forget_md],
        )

        def on_forget_yes(name: str, pending: str | None) -> list[Any]:
            view = cb.forget_confirm(recommender, name, pending)
            chat = (
                show(cb.ChatView(history=[], conversation=[]))
                if view.forgotten
                else [gr.skip()] * len(chat_outputs)
            )
            return [*show_forget(view), view.message, *chat, on_history(name)]

        yes_btn.click(
            on_forget_yes,
            [user, pending_forget],
            [*forget_outputs, forget_md, *chat_outputs, history_md],
            cancels=turns,
        )

        # --- library tab ---------------------------------------------------------------------
        def _rows() -> list[list[str]]:
            try:
                return lib_tab.video_rows(recommender)
            except Exception as exc:
                gr.Warning(cb.readable_error(exc))
                return []

        def on_ingest(
            files: list[str] | None,
            paths: str,
            manifest: str | None,
            manifest_on_server: str,
            progress: gr.Progress = gr.Progress(),
        ) -> Iterator[str]:
            yield from lib_tab.ingest(
                recommender,
                files,
                paths,
                manifest,
                manifest_on_server,
                upload_root,
                progress,
                server_roots=server_roots,
            )

        ingest_btn.click(
            on_ingest,
            [uploads, server_paths, manifest_file, manifest_path],
            [ingest_md],
            concurrency_id="ingest",
        ).then(_rows, None, [videos])
        refresh_btn.click(_rows, None, [videos])
        blocks.load(on_load, [user], [user, history_md, videos])

    return blocks

"""The chat app's callbacks, called directly over the real ``Recommender`` with fake backends.

A tiny library (four talks with transcripts) is ingested once per module with the fake embedder
and fake ASR; the LLM is the fake one. Each test uses its own user name, so they do not interfere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.recommender import Recommender
from agent.settings import Settings
from retrieval.errors import BackendUnavailableError
from tests.fakes.asr import FakeTranscriber, write_tone
from tests.fakes.llm import FakeLLM
from ui import callbacks as cb
from ui import library_tab as lib_tab

TALKS = [
    {
        "id": "ocean",
        "title": "Glowing creatures of the deep ocean",
        "speaker": "Edith Widder",
        "tags": ["ocean", "science", "animals"],
        "duration": 720,
        "url": "https://www.ted.com/talks/glowing_creatures",
        "text": "The deep ocean is dark, yet most animals down there make their own light. "
        "We built a camera that is invisible to them and saw a giant squid for the first time. "
        "Bioluminescence is the most common language on the planet.",
    },
    {
        "id": "laughter",
        "title": "Why we laugh",
        "speaker": "Sophie Scott",
        "tags": ["humor", "brain", "funny"],
        "duration": 1020,
        "text": "Laughter is a funny thing. We laugh thirty times more often with other people "
        "than alone. Laughing is about social bonds, not jokes; it is a very old signal.",
    },
    {
        "id": "schools",
        "title": "Do schools kill creativity?",
        "speaker": "Ken Robinson",
        "tags": ["education", "creativity", "children"],
        "duration": 1164,
        "text": "Creativity is as important in education as literacy. Kids will take a chance; "
        "if they don't know, they'll have a go. Schools educate people out of their creativity.",
    },
    {
        "id": "cooking",
        "title": "Cooking dinner in ten minutes",
        "speaker": "Jamie Oliver",
        "tags": ["food", "cooking", "health"],
        "duration": 540,
        "synthetic_audio": True,
        "text": "Cooking at home does not take long. In ten minutes you can make a healthy dinner "
        "with vegetables, eggs and a hot pan. Teach every child to cook ten recipes.",
    },
]


def write_tiny_library(folder: Path) -> Path:
    """Transcripts plus a JSONL manifest for ``TALKS``; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for talk in TALKS:
        transcript = folder / f"{talk['id']}.txt"
        transcript.write_text(str(talk["text"]), encoding="utf-8")
        row = {k: v for k, v in talk.items() if k != "text"}
        row["transcript_path"] = transcript.name
        rows.append(row)
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return manifest


def fake_settings(data_dir: Path, models_cache: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        models_cache=models_cache,
        asr={"backend": "fake"},
        embedding={"backend": "fake"},
        llm={"backend": "fake"},
    )


@pytest.fixture(scope="module")
def llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture(scope="module")
def rec(
    tmp_path_factory: pytest.TempPathFactory, models_cache: Path, llm: FakeLLM
) -> Iterator[Recommender]:
    root = tmp_path_factory.mktemp("ui")
    recommender = Recommender(fake_settings(root / "data", models_cache), llm=llm)
    report = recommender.ingest([], manifest=write_tiny_library(root / "library"))
    assert report.ok, report.failed
    yield recommender
    recommender.close()


def last(views: Iterator[cb.ChatView]) -> cb.ChatView:
    *_, final = list(views)
    return final


def test_typed_turn_streams_cards_with_titles(rec: Recommender) -> None:
    views = list(cb.respond(rec, "a funny talk about laughter", [], [], "ann"))
    assert len(views) >= 3  # the user's turn, then streamed pieces, then the final view
    first, final = views[0], views[-1]
    assert first.history[0] == {"role": "user", "content": "a funny talk about laughter"}
    assert first.textbox == ""  # the request box is cleared once the turn is shown
    assert final.error is None
    assert final.recommendations, final.history
    titles = {r.video.title for r in final.recommendations}
    assert "Why we laugh" in titles
    cards = "".join(final.cards)
    for title in titles:
        assert title.replace("?", "") in cards.replace("?", "")
    assert "play at" in cards
    assert [m.role for m in final.conversation] == ["user", "assistant"]
    assert (
        final.history[-1]["role"] == "assistant" and "Why we laugh" in final.history[-1]["content"]
    )
    assert final.status.startswith("Answered in")


def test_synthetic_audio_badge_reaches_the_card(rec: Recommender) -> None:
    final = last(cb.respond(rec, "healthy cooking at home", [], [], "bea"))
    cooking = [
        c
        for c, r in zip(final.cards, final.recommendations, strict=True)
        if r.video.id == "cooking"
    ]
    assert cooking and "synthetic audio" in cooking[0]


def test_empty_query_gives_a_readable_error_and_no_turn(rec: Recommender) -> None:
    views = list(cb.respond(rec, "   ", [], [], "cid"))
    assert len(views) == 1
    view = views[0]
    assert view.error and "Type or say what you would like to watch" in view.error
    assert view.history[-1]["content"].startswith("⚠")
    assert "Traceback" not in view.history[-1]["content"]
    assert view.conversation == [] and view.recommendations == []


def test_missing_user_name_is_a_readable_error(rec: Recommender) -> None:
    view = last(cb.respond(rec, "ocean", [], [], "  "))
    assert view.error and "Enter your name" in view.error


def test_llm_failure_is_shown_and_the_next_turn_works(rec: Recommender, llm: FakeLLM) -> None:
    llm.enqueue(BackendUnavailableError("The language model timed out", hint="Try again"))
    failed = last(cb.respond(rec, "deep ocean animals", [], [], "dan"))
    assert failed.error and "timed out" in failed.error
    assert "⚠" in failed.history[-1]["content"]
    assert failed.conversation == []  # the failed turn is not part of what the agent sees
    assert llm.pending == 0
    retry = last(cb.respond(rec, "deep ocean animals", failed.history, failed.conversation, "dan"))
    assert retry.error is None and retry.recommendations


def test_feedback_is_recorded_and_shown(rec: Recommender) -> None:
    final = last(cb.respond(rec, "creativity in schools", [], [], "eve"))
    slot = next(i for i, r in enumerate(final.recommendations) if r.video.id == "schools")
    fb = cb.give_feedback(rec, "eve", final.recommendations, slot, "like")
    assert fb.error is None and fb.card is not None
    assert "You liked this" in fb.card
    events = rec.history("eve")
    assert any(e.kind == "like" and e.video_id == "schools" for e in events)
    assert "Do schools kill creativity?" in cb.history_markdown(rec, "eve")


def test_watched_feedback_is_reflected_next_turn(rec: Recommender) -> None:
    first = last(cb.respond(rec, "deep ocean creatures", [], [], "fay"))
    slot = next(i for i, r in enumerate(first.recommendations) if r.video.id == "ocean")
    assert cb.give_feedback(rec, "fay", first.recommendations, slot, "watched").error is None
    again = last(cb.respond(rec, "deep ocean creatures", [], [], "fay"))
    assert again.error is None
    assert "ocean" not in {r.video.id for r in again.recommendations}


def test_feedback_on_a_card_no_longer_shown_is_a_readable_error(rec: Recommender) -> None:
    fb = cb.give_feedback(rec, "gus", [], 2, "dislike")
    assert fb.error and "no longer shown" in fb.error and fb.card is None


def test_forget_me_needs_confirmation(rec: Recommender) -> None:
    final = last(cb.respond(rec, "laughter", [], [], "hal"))
    cb.give_feedback(rec, "hal", final.recommendations, 0, "like")
    assert rec.history("hal")

    unconfirmed = cb.forget_confirm(rec, "hal", None)  # "Yes" without "Forget me" first
    assert not unconfirmed.forgotten and "confirmation" in unconfirmed.message
    assert rec.history("hal")

    asked = cb.forget_request("hal")
    assert asked.confirm_visible and asked.pending == "hal"
    assert rec.history("hal")  # asking deletes nothing

    other = cb.forget_confirm(rec, "ivy", asked.pending)  # someone else cannot confirm it
    assert not other.forgotten and rec.history("hal")

    assert cb.forget_cancel().pending is None and rec.history("hal")

    done = cb.forget_confirm(rec, "hal", asked.pending)
    assert done.forgotten and not done.confirm_visible
    assert rec.history("hal") == []
    assert "hal" not in cb.user_choices(rec, None)


def test_voice_turn_shows_the_transcript_then_answers(rec: Recommender, tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "clip.wav", seconds=1.5)
    FakeTranscriber.enqueue("a funny talk about laughter")
    views = list(cb.voice_turn(rec, str(clip), [], [], "jon"))
    first, final = views[0], views[-1]
    assert first.history[0]["content"] == "(voice) a funny talk about laughter"
    assert first.textbox == "a funny talk about laughter"  # editable, to correct and resend
    assert final.error is None and "Why we laugh" in {r.video.title for r in final.recommendations}
    assert "transcription" in final.status


def test_bad_audio_gives_a_readable_error(rec: Recommender, tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 3)
    views = list(cb.voice_turn(rec, str(bad), [], [], "kim"))
    assert len(views) == 1
    view = views[0]
    assert view.error and "broken.wav" in view.error
    line = view.history[-1]["content"]
    assert line.startswith("⚠ Could not use the recording.") and "Traceback" not in line

    none = list(cb.voice_turn(rec, None, [], [], "kim"))[-1]
    assert none.error and "No audio received" in none.error


def test_silence_is_a_readable_error(rec: Recommender, tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "tone.wav", seconds=1.0)
    FakeTranscriber.enqueue("")
    view = last(cb.voice_turn(rec, str(clip), [], [], "lea"))
    assert view.error and "No speech was heard" in view.error


def test_library_ingest_streams_progress_and_lists_videos(
    tmp_path: Path, models_cache: Path
) -> None:
    recommender = Recommender(fake_settings(tmp_path / "data", models_cache), llm=FakeLLM())
    try:
        nothing = list(lib_tab.ingest(recommender, [], "", None, "", tmp_path / "uploads"))
        assert len(nothing) == 1 and "Nothing to ingest" in nothing[0]

        manifest = write_tiny_library(tmp_path / "lib")
        roots = [(tmp_path / "lib").resolve()]
        # server paths: refused unless the app has ingest roots, and then only under them
        off = list(lib_tab.ingest(recommender, [], str(manifest), None, "", tmp_path / "up"))
        assert "turned off" in off[-1] and "VIDREC_API__INGEST_ROOTS" in off[-1]
        off = list(lib_tab.ingest(recommender, [], "", None, str(manifest), tmp_path / "up"))
        assert "turned off" in off[-1]
        missing = list(
            lib_tab.ingest(
                recommender, [], "/no/such/file.mp4", None, "", tmp_path / "up", server_roots=roots
            )
        )
        assert "/no/such/file.mp4" in missing[-1]
        private = tmp_path / "private.srt"
        private.write_text("1\n00:00:00,000 --> 00:00:02,000\nsecret words\n")
        outside = list(
            lib_tab.ingest(
                recommender, [], str(private), None, "", tmp_path / "up", server_roots=roots
            )
        )
        assert "outside the folders" in outside[-1] and "0 indexed" in outside[-1]
        assert not recommender.library.lexical.search("secret words", 5)

        calls: list[tuple[object, str | None]] = []
        lines = list(
            lib_tab.ingest(
                recommender,
                None,
                "",
                str(manifest),  # an uploaded manifest: staged beside nothing else
                "",
                tmp_path / "uploads",
                lambda p, desc=None: calls.append((p, desc)),
            )
        )
        # an uploaded manifest is copied away from its transcripts: its rows fail, readably
        assert lines[-1].startswith("**Done") and "0 indexed" in lines[-1], lines[-1]
        assert "4 failed" in lines[-1] and "manifest.jsonl:1" in lines[-1]

        lines = list(
            lib_tab.ingest(
                recommender,
                None,
                "",
                None,
                str(manifest),
                tmp_path / "uploads",
                lambda p, desc=None: calls.append((p, desc)),
                server_roots=roots,
            )
        )
        assert lines[0].startswith("Starting")
        assert lines[-1].startswith("**Done") and "4 indexed" in lines[-1]
        assert calls and calls[-1][1] and "Indexing" in str(calls[-1][1])
        titles = [row[1] for row in lib_tab.video_rows(recommender)]
        assert "Why we laugh" in titles and len(titles) == 4

        again = list(
            lib_tab.ingest(
                recommender, None, "", None, str(manifest), tmp_path / "uploads", server_roots=roots
            )
        )
        assert "4 unchanged" in again[-1]
    finally:
        recommender.close()


def test_uploads_are_staged_side_by_side(tmp_path: Path) -> None:
    a = tmp_path / "in" / "my talk.srt"
    a.parent.mkdir()
    a.write_text("1\n00:00:00,000 --> 00:00:01,000\nhi\n", encoding="utf-8")
    m = tmp_path / "in" / "list.csv"
    m.write_text("title,captions_path\nHi,my_talk.srt\n", encoding="utf-8")
    staged, manifest = lib_tab.stage_uploads([str(a)], str(m), tmp_path / "uploads")
    assert manifest is not None and staged[0].parent == manifest.parent
    assert staged[0].name == "my_talk.srt" and staged[0].read_text(encoding="utf-8").endswith(
        "hi\n"
    )


def test_format_timings_orders_stages_and_leads_with_total() -> None:
    text = cb.format_timings({"rerank": 1.0, "total": 2.5, "transcription": 0.5, "extra": 0.1})
    assert text == "2.50 s (transcription 0.50 s · rerank 1.00 s · extra 0.10 s)"


def test_unexpected_errors_become_one_line(caplog: pytest.LogCaptureFixture) -> None:
    message = cb.readable_error(KeyError("boom"))
    assert "KeyError" in message and "server log" in message and "\n" not in message
    assert cb.readable_error(TimeoutError()).startswith("The language model did not answer in time")


def test_a_turn_stepped_from_a_fresh_thread_each_time_completes_and_frees_the_llm(
    rec: Recommender,
) -> None:
    """Gradio advances a generator callback on any pool thread; the facade's stream holds the
    LLM's RLock across yields on its own thread (agent.relay), so every turn completes and the
    next one can take the lock."""
    from concurrent.futures import ThreadPoolExecutor

    for query in ("a funny talk about laughter", "and something about climate"):
        turn = cb.respond(rec, query, [], [], "max")
        views = []
        while True:
            with ThreadPoolExecutor(max_workers=1) as pool:  # a fresh thread for every step
                view = pool.submit(next, turn, None).result(timeout=60)
            if view is None:
                break
            views.append(view)
        assert views[-1].error is None and views[-1].recommendations


def test_switching_user_or_forgetting_cancels_a_streaming_turn(rec: Recommender) -> None:
    """Regression: a turn still streaming when the name changed went on writing the previous
    user's cards into the new user's empty chat (the browser test saw 3 cards after the switch
    on a loaded machine)."""
    from ui.blocks import build_app

    app = build_app(rec, rec.settings)
    fns = list(app.fns.values())
    turns = {f._id for f in fns if f.concurrency_id == "turn"}
    assert len(turns) == 4  # Send, Enter, a recording stopped, an upload
    deps = app.config["dependencies"]
    for name in ("on_user", "on_forget_yes"):  # the name typed; "Yes, delete"
        (fn,) = [f for f in fns if getattr(f.fn, "__name__", "") == name]
        trigger = {tuple(t) for t in deps[fn._id]["targets"]}
        # gradio cancels through a dependency of its own on the same trigger
        cancelled = {
            c for d in deps if {tuple(t) for t in d["targets"]} & trigger for c in d["cancels"]
        }
        assert turns <= cancelled, name

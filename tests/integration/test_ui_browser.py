"""The chat app in a real headless Chromium (Playwright driving the Debian ``/usr/bin/chromium``).

The real app (``ui.app.create_server``: FastAPI + Gradio, served by uvicorn in a background thread
on 127.0.0.1 and a free port) runs over the real ``Recommender`` with the fake LLM, fake embedder
and fake ASR, over a tiny ingested library. The browser types a request, submits it and waits for
the recommendation cards; it also uploads a spoken request and gives feedback. Screenshots go to
``test-artifacts/ui/`` (git-ignored) and their paths are printed.

Skipped, with the reason, when ``/usr/bin/chromium`` or Playwright is missing (never run
``playwright install``: it downloads a browser).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from agent.recommender import Recommender
from retrieval.settings import REPO_ROOT
from tests.fakes.asr import FakeTranscriber, write_tone
from tests.fakes.llm import FakeLLM
from tests.unit.test_ui_callbacks import fake_settings, write_tiny_library

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
# Generous: a turn is slow when the 2 shared cores are oversubscribed (seen: 60 s queues).
TIMEOUT_MS = 180_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app_url(
    chromium: Browser, tmp_path_factory: pytest.TempPathFactory, models_cache: Path
) -> Iterator[str]:
    import uvicorn

    from ui.app import create_server

    root = tmp_path_factory.mktemp("ui-browser")
    settings = fake_settings(root / "data", models_cache)
    recommender = Recommender(settings, llm=FakeLLM())
    report = recommender.ingest([], manifest=write_tiny_library(root / "library"))
    assert report.ok, report.failed
    app = create_server(recommender, settings, examples=["a funny talk about laughter"])
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="vidrec-ui-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the chat app did not start on 127.0.0.1 within 60 s")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)
    recommender.close()


@pytest.fixture
def page(chromium: Browser, app_url: str) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(app_url, wait_until="domcontentloaded")
    page.locator("#vr-input textarea").wait_for(timeout=TIMEOUT_MS)
    yield page
    context.close()


def _screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_typed_request_shows_cards_and_feedback_sticks(page: Page) -> None:
    from playwright.sync_api import expect

    p = page
    p.locator("#vr-input textarea").fill("a funny talk about laughter")
    p.locator("#vr-send").click()
    title = p.locator(".vr-card .vr-title", has_text="Why we laugh")
    title.wait_for(timeout=TIMEOUT_MS)
    expect(title).to_be_visible()
    expect(p.locator("#vr-chat")).to_contain_text("a funny talk about laughter")
    expect(p.locator("#vr-status")).to_contain_text("Answered in", timeout=TIMEOUT_MS)
    cards = p.locator(".vr-card")
    assert cards.count() >= 2
    expect(cards.first).to_contain_text("play at")

    p.get_by_role("button", name="♥ Like").first.click()
    expect(p.locator("#vr-card-0")).to_contain_text("You liked this", timeout=TIMEOUT_MS)
    expect(p.locator("#vr-status")).to_contain_text("Noted for guest")
    shot = _screenshot(p, "chat.png")
    assert shot.stat().st_size > 10_000


def test_spoken_request_is_transcribed_shown_and_answered(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    p = page
    clip = write_tone(tmp_path / "question.wav", seconds=1.5)
    FakeTranscriber.enqueue("glowing creatures in the deep ocean")
    p.locator("#vr-audio button[aria-label='Upload file']").click()
    p.locator("#vr-audio input[type=file]").set_input_files(str(clip))
    card = p.locator(".vr-card .vr-title", has_text="Glowing creatures")
    card.wait_for(timeout=TIMEOUT_MS)
    expect(p.locator("#vr-chat")).to_contain_text("(voice) glowing creatures in the deep ocean")
    expect(p.locator("#vr-input textarea")).to_have_value("glowing creatures in the deep ocean")
    _screenshot(p, "voice.png")


def test_empty_request_shows_a_readable_error_and_the_app_keeps_serving(page: Page) -> None:
    from playwright.sync_api import expect

    p = page
    p.locator("#vr-send").click()
    chat = p.locator("#vr-chat")
    expect(chat).to_contain_text("Type or say what you would like to watch", timeout=TIMEOUT_MS)
    expect(chat).not_to_contain_text("Traceback")
    p.locator("#vr-input textarea").fill("creativity in schools")
    p.locator("#vr-send").click()
    p.locator(".vr-card .vr-title", has_text="Do schools kill creativity?").wait_for(
        timeout=TIMEOUT_MS
    )


def test_switching_user_starts_fresh_and_forget_me_asks_first(page: Page) -> None:
    from playwright.sync_api import expect

    p = page
    p.locator("#vr-input textarea").fill("deep ocean creatures")
    p.locator("#vr-send").click()
    p.locator(".vr-card").first.wait_for(timeout=TIMEOUT_MS)

    name = p.locator("#vr-user input")
    name.fill("zoe")
    name.press("Enter")
    expect(p.locator(".vr-card")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(p.locator("#vr-chat")).not_to_contain_text("deep ocean creatures")

    p.get_by_role("button", name="Forget me").click()
    yes = p.get_by_role("button", name="Yes, delete")
    expect(yes).to_be_visible(timeout=TIMEOUT_MS)
    expect(p.get_by_text("Delete everything vidrec holds about zoe")).to_be_visible()
    yes.click()
    expect(p.get_by_text("Everything held about zoe was deleted.")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(yes).to_be_hidden()

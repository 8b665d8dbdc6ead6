"""Spoken requests through the chat app's voice callback with the real Whisper.

The clips are espeak-ng speech: ``q1.wav`` from the shared data plus three synthesised here. Each
goes through ``ui.callbacks.voice_turn`` over a ``Recommender`` whose ASR is the default real
backend (faster-whisper ``base``, the same transcriber the ingest uses, loaded once), with the
fake LLM and fake embedder over a tiny library. The transcript must match the spoken text within
a measured word error rate, show up as the user's turn and in the request box, and be answered.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.recommender import Recommender
from agent.settings import Settings
from tests.fakes.llm import FakeLLM
from tests.unit.test_ui_callbacks import write_tiny_library
from tests.wer import wer, words
from ui import callbacks as cb

pytestmark = pytest.mark.integration

Q1 = "Recommend me a funny cooking video under ten minutes"
# (text to speak, a title of the tiny library the answer must contain)
SYNTHESISED = [
    ("Find me a funny talk about why people laugh", "Why we laugh"),
    ("Show me glowing creatures of the deep ocean", "Glowing creatures of the deep ocean"),
    ("I want a talk on creativity in schools", "Do schools kill creativity?"),
]
# Measured with whisper base (int8, beam 5, VAD on) on these four clips: WER 0.147 (5 of 34 words:
# "ten" -> "10", "laugh" -> "there", "of" -> "at", "a" -> "to", "in" -> "and"; espeak's robotic
# voice costs short function words). Bound: the measurement plus about one word of slack.
MAX_WER = 0.18


@pytest.fixture(scope="module")
def clips(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("spoken")
    made = [(shared_data / "speech" / "espeak" / "q1.wav", Q1)]
    for i, (text, _title) in enumerate(SYNTHESISED):
        wav = folder / f"q{i + 2}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
        made.append((wav, text))
    return made


@pytest.fixture(scope="module")
def recommender(
    tmp_path_factory: pytest.TempPathFactory, models_cache: Path
) -> Iterator[Recommender]:
    root = tmp_path_factory.mktemp("ui-voice")
    settings = Settings(
        data_dir=root / "data",
        models_cache=models_cache,
        embedding={"backend": "fake"},
        llm={"backend": "fake"},
    )  # asr: the default real backend (faster-whisper base)
    assert settings.asr.backend == "faster-whisper"
    rec = Recommender(settings, llm=FakeLLM())
    report = rec.ingest([], manifest=write_tiny_library(root / "library"))
    assert report.ok, report.failed
    yield rec
    rec.close()


def test_spoken_requests_are_transcribed_shown_and_answered(
    recommender: Recommender, clips: list[tuple[Path, str]]
) -> None:
    heard: list[str] = []
    for i, (wav, text) in enumerate(clips):
        views = list(cb.voice_turn(recommender, str(wav), [], [], f"voice-{i}"))
        final = views[-1]
        assert final.error is None, final.error
        transcript = views[0].textbox or ""
        heard.append(transcript)
        print(f"{wav.name}: said {text!r} heard {transcript!r} -> {final.status}")
        assert views[0].history[0]["content"] == f"(voice) {transcript}"
        assert "transcription" in final.status
        assert final.recommendations, final.history
        if i > 0:
            titles = {r.video.title for r in final.recommendations}
            assert SYNTHESISED[i - 1][1] in titles
    score = wer([t for _, t in clips], heard)
    print(f"WER over {len(clips)} spoken requests: {score:.3f}")
    assert score <= MAX_WER
    assert {"funny", "cooking", "video", "minutes"} <= set(words(heard[0]))

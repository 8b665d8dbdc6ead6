"""Audio is probed before decoding and refused over a length limit (queries: api.max_audio_seconds;
ingest: ingest.max_audio_seconds), and decoding stops at the limit when no length is declared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import retrieval.media as media
from agent.recommender import Recommender
from agent.settings import Settings
from retrieval.errors import MediaError
from tests.api_support import ApiEnv, api_env
from tests.fakes.asr import FakeTranscriber, write_tone


def test_declared_length_over_the_limit_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = write_tone(tmp_path / "long.wav", seconds=6.0)
    decoded: list[int] = []
    real = media._decode
    monkeypatch.setattr(media, "_decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    with pytest.raises(media.AudioTooLongError) as info:
        media.load_audio(wav, max_seconds=2.0)
    assert info.value.http_status == 413
    assert "6.0 s" in str(info.value) and "2 s" in str(info.value)
    assert decoded == []  # refused from the header alone
    assert len(media.load_audio(wav, max_seconds=10.0)) == 6 * media.SAMPLE_RATE


def test_decoding_stops_at_the_limit_when_no_length_is_declared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav = write_tone(tmp_path / "long.wav", seconds=6.0)
    monkeypatch.setattr(media, "declared_seconds", lambda *a: 0.0)
    peak: list[int] = []
    real_concat = media.np.concatenate

    def concat(pieces: list[object], *a: object, **k: object) -> object:
        peak.append(len(pieces))
        return real_concat(pieces, *a, **k)

    monkeypatch.setattr(media.np, "concatenate", concat)
    with pytest.raises(media.AudioTooLongError, match="stopped"):
        media.load_audio(wav, max_seconds=2.0)
    assert peak == []  # never assembled the whole file


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, models_cache: Path) -> Iterator[ApiEnv]:
    with api_env(tmp_path_factory.mktemp("audio"), models_cache, max_audio_seconds=3.0) as e:
        yield e


@pytest.mark.parametrize("route", ["/v1/transcribe", "/v1/recommend"])
def test_long_recordings_are_refused_by_the_api(env: ApiEnv, tmp_path: Path, route: str) -> None:
    wav = write_tone(tmp_path / "long.wav", seconds=5.0)
    FakeTranscriber.queued.clear()
    with wav.open("rb") as f:
        r = env.client.post(
            route,
            files={"audio": ("long.wav", f, "audio/wav")},
            data={"user_id": "alice"},
            headers=env.h(),
        )
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["error"] == "audio_too_long" and "MAX_AUDIO_SECONDS" in body["hint"]
    assert "long.wav" in body["message"] and str(env.settings.cache_dir) not in r.text
    assert not any((env.settings.cache_dir / "api-audio").glob("*"))
    short = write_tone(tmp_path / "short.wav", seconds=1.0)
    FakeTranscriber.enqueue("the deep ocean")
    with short.open("rb") as f:
        ok = env.client.post(
            "/v1/transcribe", files={"audio": ("short.wav", f, "audio/wav")}, headers=env.h()
        )
    assert ok.status_code == 200 and ok.json()["text"] == "the deep ocean"


def test_ingest_refuses_media_over_its_own_limit(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(
        update={"ingest": settings.ingest.model_copy(update={"max_audio_seconds": 2.0})}
    )
    long_wav = write_tone(tmp_path / "in" / "long_lecture.wav", seconds=4.0)
    short_wav = write_tone(tmp_path / "in" / "short_clip.wav", seconds=1.0)
    rec = Recommender(settings)
    try:
        report = rec.ingest([long_wav, short_wav])
    finally:
        rec.close()
    assert report.ingested == ["short_clip"]
    (failure,) = report.failed
    assert "long_lecture.wav" in failure.path and "MAX_AUDIO_SECONDS" in failure.error


def test_media_error_is_still_the_base(tmp_path: Path) -> None:
    assert issubclass(media.AudioTooLongError, MediaError)


def test_the_facade_caps_queries_from_every_surface(settings: Settings, tmp_path: Path) -> None:
    """The chat app's microphone and the CLI go through ``Recommender.transcribe`` too."""
    settings = settings.model_copy(
        update={"api": settings.api.model_copy(update={"max_audio_seconds": 1.0})}
    )
    rec = Recommender(settings)
    try:
        with pytest.raises(media.AudioTooLongError):
            rec.transcribe(write_tone(tmp_path / "ramble.wav", seconds=3.0))
        FakeTranscriber.enqueue("short and sweet")
        assert (
            rec.transcribe(write_tone(tmp_path / "ok.wav", seconds=0.5)).text == "short and sweet"
        )
    finally:
        rec.close()

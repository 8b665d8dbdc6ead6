"""The Ray ingest's stage functions, called in this process on batches shaped as Ray Data gives
them (no Ray cluster: ``tests/integration/test_ray_ingest.py`` runs them on one, ``-m slow``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.settings import Settings
from retrieval import ray_ingest
from retrieval.errors import MissingDependencyError
from retrieval.ingest_stages import IngestItem, PreparedVideo
from retrieval.ray_ingest import (
    WORK,
    _Embed,
    _Embedded,
    _Failed,
    _rows,
    _Todo,
    _Transcribe,
    _values,
)
from retrieval.types import Video
from tests.fakes.asr import write_tone


def _item(video_id: str, media: Path | None, title: str = "") -> IngestItem:
    video = Video(id=video_id, title=title or video_id, media_path=str(media) if media else None)
    return IngestItem(
        video_id=video_id, origin=str(media or video_id), video=video, media_path=media
    )


def _through_the_stages(settings: Settings, todo: list[_Todo]) -> list[object]:
    batch = _rows(todo)
    batch = ray_ingest.decode_batch(batch, settings.ingest)
    batch = _Transcribe(settings.asr, settings.models_dir)(batch)
    batch = ray_ingest.finish_batch(batch, settings.chunking, settings.ingest)
    return _values(_Embed(settings.embedding, settings.models_dir)(batch))


def test_each_stage_carries_a_failed_video_through_and_the_rest_get_their_vectors(
    settings: Settings, tmp_path: Path
) -> None:
    good = write_tone(tmp_path / "tone.wav", 2.0)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF but not a wave file at all")
    todo = [
        _Todo(_item("tone", good), "h1"),
        _Todo(_item("broken", broken), "h2"),
        _Todo(_item("metadata-only", None, "A talk about rivers"), "h3"),
    ]
    out = _through_the_stages(settings, todo)

    assert [type(v).__name__ for v in out] == ["_Embedded", "_Failed", "_Embedded"]
    failed = out[1]
    assert isinstance(failed, _Failed) and failed.origin == str(broken) and failed.error
    dim = len(_Embed(settings.embedding, settings.models_dir).embedder.encode_documents(["x"])[0])
    for embedded, video_id in ((out[0], "tone"), (out[2], "metadata-only")):
        assert isinstance(embedded, _Embedded)
        assert embedded.prepared.video.id == video_id
        assert embedded.vectors.shape == (len(embedded.prepared.chunks), dim)
    tone = out[0].prepared if isinstance(out[0], _Embedded) else None
    assert isinstance(tone, PreparedVideo)
    assert tone.video.transcript_source == "asr" and tone.audio_seconds > 0
    assert tone.content_hash == "h1"


def test_rows_are_one_column_of_bytes(settings: Settings) -> None:
    batch = _rows([_Todo(_item("a", None), "h")])
    assert list(batch) == [WORK] and isinstance(batch[WORK][0], bytes)


def test_without_ray_the_error_says_how_to_install_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(MissingDependencyError) as info:
        ray_ingest.connect("local", settings.ingest.ray)
    assert "vidrec[ray]" in (info.value.hint or "")


def test_a_cluster_too_small_for_the_actors_is_refused_before_anything_waits() -> None:
    from retrieval.errors import ConfigError
    from retrieval.settings import RaySettings

    ray = RaySettings(transcribe_actors=2, embed_actors=1, actor_cpus=2 / 3, decode_cpus=0.1)
    with pytest.raises(ConfigError) as info:  # 2 CPUs all held by actors: no decode task runs
        ray_ingest.check_resources(ray, cpus=2)
    assert "2 CPUs" in str(info.value) and "actor_cpus" in (info.value.hint or "")
    ray_ingest.check_resources(ray.model_copy(update={"actor_cpus": 0.5}), cpus=2)


def test_a_local_ray_sends_no_usage_stats_off_the_machine(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import types

    seen: dict[str, object] = {}
    fake = types.ModuleType("ray")
    fake.is_initialized = lambda: False  # type: ignore[attr-defined]

    def init(**options: object) -> None:
        seen["stats"] = os.environ.get("RAY_USAGE_STATS_ENABLED")
        seen["options"] = options

    fake.init = init  # type: ignore[attr-defined]
    context = types.SimpleNamespace(enable_progress_bars=True)
    fake.data = types.SimpleNamespace(  # type: ignore[attr-defined]
        DataContext=types.SimpleNamespace(get_current=lambda: context)
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_USAGE_STATS_ENABLED", raising=False)
    assert ray_ingest.connect("local", settings.ingest.ray) is True
    assert seen["stats"] == "0"  # Ray reports usage to its makers unless told not to
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "1")  # an operator's own choice stands
    ray_ingest.connect("local", settings.ingest.ray)
    assert seen["stats"] == "1"

"""``vidrec serve --workers N``: what several processes cannot share is refused or warned about."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.settings import Settings
from api.workers import multi_worker_warnings
from retrieval.errors import ConfigError
from ui.cli import app


def _settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path, **kw)  # type: ignore[arg-type]


def test_one_worker_needs_nothing_shared(tmp_path: Path) -> None:
    assert multi_worker_warnings(_settings(tmp_path), 1) == []


def test_several_workers_refuse_embedded_chroma(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embedded Chroma") as caught:
        multi_worker_warnings(_settings(tmp_path), 2)
    assert "VIDREC_STORE__CHROMA_URL" in str(caught.value)


def test_per_worker_limits_and_in_process_llm_are_warned_about(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, store={"chroma_url": "http://127.0.0.1:8001"}, llm={"backend": "llamacpp"}
    )
    warnings = multi_worker_warnings(settings, 3)
    assert any("3 x 600/min" in w for w in warnings)
    assert any("llm.backend=llamacpp" in w for w in warnings)


def test_shared_settings_give_no_warning(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        store={"chroma_url": "http://127.0.0.1:8001"},
        api={"rate_limit_storage": "redis://127.0.0.1:6379/0"},
        llm={"backend": "vllm"},
    )
    assert multi_worker_warnings(settings, 4) == []


def test_serve_with_workers_and_embedded_chroma_stops_before_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--port", "1"])
    assert isinstance(result.exception, ConfigError)

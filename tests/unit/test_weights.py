from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.errors import ConfigError, MissingDependencyError
from retrieval.weights import PackagedModel, ensure_model


@pytest.fixture
def weight_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two tiny importable packages holding the two halves of a 'model' plus a companion file."""
    site = tmp_path / "site"
    for i, payload in ((1, b"first half|"), (2, b"second half")):
        pkg = site / f"vidrec_test_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"model.bin.part{i}").write_bytes(payload)
    (site / "vidrec_test_part1" / "data" / "config.json").write_text("{}")
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in ("vidrec_test_part1", "vidrec_test_part2"):
        sys.modules.pop(name, None)


def _model(sha: str) -> PackagedModel:
    return PackagedModel(
        name="tiny",
        target="model.bin",
        parts=(
            ("vidrec_test_part1", "data/model.bin.part1"),
            ("vidrec_test_part2", "data/model.bin.part2"),
        ),
        sha256=sha,
        extras=(("vidrec_test_part1", "data/config.json"),),
        pip=("vidrec-test-part1", "vidrec-test-part2"),
    )


GOOD_SHA = hashlib.sha256(b"first half|second half").hexdigest()


def test_assembles_parts_in_order_with_companions(weight_packages: Path, tmp_path: Path) -> None:
    out = ensure_model(_model(GOOD_SHA), tmp_path / "models")
    assert (out / "model.bin").read_bytes() == b"first half|second half"
    assert (out / "config.json").is_file()


def test_second_call_reuses_without_rewriting(weight_packages: Path, tmp_path: Path) -> None:
    out = ensure_model(_model(GOOD_SHA), tmp_path / "models")
    mtime = (out / "model.bin").stat().st_mtime_ns
    ensure_model(_model(GOOD_SHA), tmp_path / "models")
    assert (out / "model.bin").stat().st_mtime_ns == mtime


def test_checksum_mismatch_leaves_no_file(weight_packages: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Checksum mismatch") as info:
        ensure_model(_model("0" * 64), tmp_path / "models")
    assert "force-reinstall" in str(info.value)
    folder = tmp_path / "models" / "tiny"
    assert not (folder / "model.bin").exists()
    assert not list(folder.glob("*.tmp*"))


def test_truncated_assembly_is_redone(weight_packages: Path, tmp_path: Path) -> None:
    out = ensure_model(_model(GOOD_SHA), tmp_path / "models")
    (out / "model.bin").write_bytes(b"first half|")  # e.g. a disk-full copy by hand
    ensure_model(_model(GOOD_SHA), tmp_path / "models")
    assert (out / "model.bin").read_bytes() == b"first half|second half"


def test_missing_package_names_what_to_install(tmp_path: Path) -> None:
    model = PackagedModel(
        name="absent", target="m.bin", parts=(("vidrec_no_such_pkg", "x"),), sha256="", pip=("x-y",)
    )
    with pytest.raises(MissingDependencyError, match="pip install x-y"):
        ensure_model(model, tmp_path)

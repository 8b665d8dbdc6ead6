from __future__ import annotations

import hashlib
import io
import shutil
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.errors import ConfigError, MissingDependencyError
from retrieval.weights import (
    MPNET_BASE,
    PACKAGED_MODELS,
    PackagedModel,
    ensure_model,
    model_dir,
)


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


def _zip_parts(site: Path, members: dict[str, bytes], name: str = "vidrec-zip-part_00") -> str:
    """A zip of ``members`` split in two halves across two packages (hyphens in their folder
    names, as the mpnet packages have); returns the joined archive's sha256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    blob = buffer.getvalue()
    half = len(blob) // 2
    for i, chunk in ((1, blob[:half]), (2, blob[half:])):
        pkg = site / f"{name}{i}"
        (pkg / "input").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "input" / f"m.zip.00{i}").write_bytes(chunk)
    return hashlib.sha256(blob).hexdigest()


def _zip_model(sha: str, name: str = "vidrec-zip-part_00") -> PackagedModel:
    return PackagedModel(
        name="zipped",
        target="m.zip",
        parts=tuple((f"{name}{i}", f"input/m.zip.00{i}") for i in (1, 2)),
        sha256=sha,
        unpack="model",
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    yield folder
    for name in [n for n in sys.modules if n.startswith("vidrec-zip")]:
        sys.modules.pop(name, None)


def test_a_split_archive_is_joined_verified_and_its_folder_unpacked(
    site: Path, tmp_path: Path
) -> None:
    members = {"model/modules.json": b"[]", "model/1_Pooling/config.json": b"{}", "other.txt": b"x"}
    model = _zip_model(_zip_parts(site, members))
    out = ensure_model(model, tmp_path / "models")
    assert out == model_dir(model, tmp_path / "models") == tmp_path / "models" / "zipped" / "model"
    assert (out / "modules.json").read_bytes() == b"[]"
    assert (out / "1_Pooling" / "config.json").read_bytes() == b"{}"
    folder = tmp_path / "models" / "zipped"
    assert not (folder / "other.txt").exists()  # only the model's folder is extracted
    assert not (folder / "m.zip").exists()  # the archive is not kept beside it
    assert sorted(p.name for p in folder.iterdir()) == [".verified.json", "model"]
    # a second call finds it assembled and rewrites nothing
    stamp = (out / "modules.json").stat().st_mtime_ns
    assert ensure_model(model, tmp_path / "models") == out
    assert (out / "modules.json").stat().st_mtime_ns == stamp


def test_an_unpacked_folder_removed_by_hand_is_unpacked_again(site: Path, tmp_path: Path) -> None:
    model = _zip_model(_zip_parts(site, {"model/modules.json": b"[]"}))
    out = ensure_model(model, tmp_path / "models")
    shutil.rmtree(out)
    assert (ensure_model(model, tmp_path / "models") / "modules.json").is_file()


def test_an_archive_member_escaping_the_folder_is_refused(site: Path, tmp_path: Path) -> None:
    model = _zip_model(_zip_parts(site, {"model/modules.json": b"[]", "model/../../evil": b"x"}))
    with pytest.raises(ConfigError, match="Refusing archive member"):
        ensure_model(model, tmp_path / "models")
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path / "models" / "zipped" / "model").exists()
    assert not list((tmp_path / "models" / "zipped").iterdir())  # no staging, no archive left


def test_an_archive_without_the_folder_says_what_it_holds(site: Path, tmp_path: Path) -> None:
    model = _zip_model(_zip_parts(site, {"elsewhere/modules.json": b"[]"}))
    with pytest.raises(ConfigError, match="holds no folder 'model'") as info:
        ensure_model(model, tmp_path / "models")
    assert "elsewhere/modules.json" in str(info.value)


def test_the_stronger_embedder_is_a_known_packaged_model() -> None:
    assert PACKAGED_MODELS["all-mpnet-base-v2"] is MPNET_BASE
    assert MPNET_BASE.unpack == "all-mpnet-base-v2"
    assert [rel for _, rel in MPNET_BASE.parts] == [
        f"input/all-mpnet-base-v2.zip.00{i}" for i in range(1, 6)
    ]

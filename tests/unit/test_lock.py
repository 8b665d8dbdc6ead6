"""requirements.lock pins every dependency that pyproject.toml asks for (core and dev)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    raw = re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: expected NAME==VERSION, got {line!r}"
            pins[_name(name)] = version
    return pins


def test_every_declared_dependency_is_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = _pins()
    missing = sorted({_name(r) for r in wanted} - set(pins))
    assert not missing, f"not in requirements.lock: {missing}; refresh it: bash scripts/lock.sh"
    assert pins["torch"] == "2.13.0"  # the CPU build setup.sh installs first


def test_setup_installs_from_the_lock() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert setup.count("-c requirements.lock") >= 2

"""Shared fixtures.

Tiers: unit tests use fakes (registered through the real factories, see ``tests/fakes``) and never
load a model; ``integration`` tests load the real small models once per session; ``slow`` and
``gpu`` tests are skipped by default (``-m slow`` runs them).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import tests.fakes as fakes_pkg
from agent.settings import Settings
from retrieval.settings import DataSettings


def pytest_configure(config: pytest.Config) -> None:
    # Every module in tests/fakes exposes register(): fakes join the same registries as real backends.
    for info in pkgutil.iter_modules(fakes_pkg.__path__):
        module = importlib.import_module(f"tests.fakes.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public data sets (../shared/data or VIDREC_DATA__SHARED_DIR); skip when absent."""
    path = Path(os.environ.get("VIDREC_DATA__SHARED_DIR", DataSettings().shared_dir))
    if not path.is_dir():
        pytest.skip(f"shared data sets not found at {path} (set VIDREC_DATA__SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def models_cache() -> Path:
    """Where real weights are assembled, shared across tests and runs (what setup.sh prepares)."""
    return Settings().models_dir


@pytest.fixture
def settings(tmp_path: Path, models_cache: Path) -> Settings:
    """Settings for unit tests: a temp data dir and fake backends everywhere."""
    return Settings(
        data_dir=tmp_path / "data",
        models_cache=models_cache,
        asr={"backend": "fake"},
        embedding={"backend": "fake"},
        llm={"backend": "fake"},
    )


@pytest.fixture
def sql_url(tmp_path: Path) -> str:
    """The database of store tests: a fresh SQLite file (the PostgreSQL tier overrides it)."""
    return f"sqlite:///{tmp_path / 'sql' / 'vidrec.db'}"

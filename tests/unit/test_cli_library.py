"""``vidrec ingest/search/remove/videos/demo-data`` through typer's CliRunner on the fakes."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrieval.errors import NotFoundError
from tests.fakes.asr import write_tone
from tests.fakes.index import write_talks
from ui.cli import app

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VIDREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VIDREC_EMBEDDING__BACKEND", "fake")
    monkeypatch.setenv("VIDREC_ASR__BACKEND", "fake")
    monkeypatch.setenv("VIDREC_CONFIG", str(tmp_path / "absent.toml"))
    return tmp_path


def test_ingest_search_videos_remove(env: Path) -> None:
    manifest = write_talks(env / "in")
    result = runner.invoke(app, ["ingest", "--manifest", str(manifest)])
    assert result.exit_code == 0, result.output
    assert "ingested 4, unchanged 0, failed 0" in result.output

    again = runner.invoke(app, ["ingest", "--manifest", str(manifest)])
    assert again.exit_code == 0 and "ingested 0, unchanged 4" in again.output

    found = runner.invoke(app, ["search", "coral reefs", "-k", "2"])
    assert found.exit_code == 0, found.output
    lines = found.output.splitlines()
    assert (
        lines[0].startswith(" 1. Dying reefs") and "score" in lines[0] and "id oceans" in lines[0]
    )
    assert lines[1].strip().startswith("@") and ":" in lines[1]
    assert sum(1 for line in lines if line[:3].strip().rstrip(".").isdigit()) == 2

    filtered = runner.invoke(
        app,
        ["search", "coral reefs", "--max-minutes", "10", "--tag", "food", "--after", "2010-01-01"],
    )
    assert filtered.exit_code == 0 and "Pasta at home" in filtered.output
    assert "Dying reefs" not in filtered.output

    listing = runner.invoke(app, ["videos"])
    assert listing.exit_code == 0
    assert (
        "oceans\t15:00\ttranscript\t" in listing.output
        and "jaws\t2:04:00\tmetadata" in listing.output
    )

    removed = runner.invoke(app, ["remove", "oceans"])
    assert removed.exit_code == 0 and "removed oceans" in removed.output
    assert "oceans\t" not in runner.invoke(app, ["videos"]).output
    missing = runner.invoke(app, ["remove", "oceans"])
    assert missing.exit_code != 0 and isinstance(missing.exception, NotFoundError)


def test_ingest_exits_1_with_one_line_per_failure(env: Path) -> None:
    media = env / "media"
    write_tone(media / "good.wav", 1.0)
    (media / "broken.mp4").write_text("not a video")
    result = runner.invoke(app, ["ingest", str(media)])
    assert result.exit_code == 1
    assert "ingested 1, unchanged 0, failed 1" in result.output
    failures = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert len(failures) == 1 and "broken.mp4" in failures[0]


def test_bad_arguments_are_usage_errors(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")  # a usage error is one line whatever the terminal
    assert runner.invoke(app, ["ingest"]).exit_code == 2
    bad_date = runner.invoke(app, ["search", "x", "--after", "last week"])
    assert bad_date.exit_code == 2
    assert "expected a date YYYY-MM-DD, got 'last week'" in bad_date.output


def test_search_on_an_empty_library_says_so(env: Path) -> None:
    result = runner.invoke(app, ["search", "anything"])
    assert result.exit_code == 0 and "no matching videos" in result.output


def test_demo_data_builds_then_ingests(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Path, Path, dict[str, object]]] = []

    def build_demo_library(shared_dir: Path, out_dir: Path, **kwargs: object) -> Path:
        calls.append((shared_dir, out_dir, kwargs))
        return write_talks(out_dir)

    fake = types.ModuleType("retrieval.demo")
    fake.build_demo_library = build_demo_library  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "retrieval.demo", fake)
    result = runner.invoke(app, ["demo-data", "--talks", "3"])
    assert result.exit_code == 0, result.output
    assert calls[0][1] == env / "data" / "demo" and calls[0][2] == {"full": False, "talks": 3}
    assert "ingested 4" in result.output and "demo library ready in" in result.output

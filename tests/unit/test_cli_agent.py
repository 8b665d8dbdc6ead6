"""``vidrec ask / chat / feedback`` through the real CLI app, fake backends, real Chroma + SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.recommender import Recommender
from tests.agent_data import TALKS, build_recommender
from ui.cli import app


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recommender]:
    rec = build_recommender(tmp_path_factory.mktemp("cli"))
    yield rec
    rec.close()


@pytest.fixture
def env(built: Recommender, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray vidrec.toml
    return {
        "VIDREC_DATA_DIR": str(built.settings.data_dir),
        "VIDREC_LLM__BACKEND": "fake",
        "VIDREC_EMBEDDING__BACKEND": "fake",
        "VIDREC_ASR__BACKEND": "fake",
    }


TITLES = {t.title for t in TALKS}


def test_ask_prints_a_ranked_list(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["ask", "pasta with salted boiling water", "--user", "cli-a", "-k", "3"], env=env
    )
    assert result.exit_code == 0, result.output
    # no generic lead-in from the model: the cards come at once, each quoting its moment
    assert "Fake reply" not in result.output
    assert result.output.count('says: "') >= 3
    lines = result.output.splitlines()
    picks = [line for line in lines if line[:2] in ("1.", "2.", "3.")]
    assert len(picks) == 3
    assert any(title in picks[0] for title in TITLES)
    assert "The secret of perfect pasta" in result.output
    assert "https://example.org/talks/" in result.output and "?t=" in result.output


def test_ask_without_rerank(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["ask", "mars rockets", "--user", "cli-b", "-k", "3", "--no-rerank"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "Why we should go to Mars" in result.output


def test_feedback_command_records_and_validates(env: dict[str, str], built: Recommender) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["feedback", "cli-c", "mars", "watched", "--fraction", "0.5"], env=env)
    assert ok.exit_code == 0, ok.output
    events = built.history("cli-c")
    assert [(e.video_id, e.kind, e.value) for e in events] == [("mars", "watched", 0.5)]
    bad = runner.invoke(app, ["feedback", "cli-c", "mars", "adore"], env=env)
    assert bad.exit_code != 0
    assert "like, dislike, watched, rating" in bad.output
    missing = runner.invoke(app, ["feedback", "cli-c", "nope", "like"], env=env)
    assert missing.exit_code != 0
    assert isinstance(missing.exception, Exception)


def test_chat_repl_with_feedback(env: dict[str, str], built: Recommender) -> None:
    script = "\n".join(
        [
            "/like 1",  # nothing listed yet
            "pasta with salted boiling water",
            "/like 1",
            "/watched 2 0.8",
            "/dislike 9",
            "/help",
            "/quit",
        ]
    )
    result = CliRunner().invoke(app, ["chat", "--user", "cli-d", "-k", "2"], env=env, input=script)
    assert result.exit_code == 0, result.output
    assert "there is no list yet" in result.output
    assert "noted: you like" in result.output
    assert "noted: you watched 80%" in result.output
    assert "expected a pick from 1 to 2" in result.output
    assert "Commands:" in result.output
    kinds = [(e.kind, e.value) for e in built.history("cli-d") if e.kind != "impression"]
    assert kinds == [("like", None), ("watched", 0.8)]

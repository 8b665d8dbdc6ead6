"""``vidrec demo``: its example requests have matching talks in the default demo subset."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from typer.testing import CliRunner

from retrieval.demo import DEFAULT_SYNTHETIC, DEFAULT_TALKS, TedTalk, load_ted, select_talks
from ui.cli_app import DEMO_EXAMPLES, DEMO_GUIDE, register

# What each example asks for, as a test on one talk of the subset.
TOPICS: dict[str, Callable[[TedTalk], bool]] = {
    "cooking": lambda t: "food" in t.tags,
    "happiness": lambda t: "happiness" in t.tags and t.duration <= 15 * 60,
    "funny": lambda t: bool({"humor", "comedy"} & set(t.tags)),
    "stress": lambda t: "stress" in t.title.lower(),
    "vulnerability": lambda t: t.title == "The power of vulnerability",
    "ocean": lambda t: "oceans" in t.tags and "animals" in t.tags,
}


def test_every_demo_example_has_talks_in_the_default_subset(shared_data: Path) -> None:
    chosen, synthetic = select_talks(load_ted(shared_data), DEFAULT_TALKS, DEFAULT_SYNTHETIC)
    subset = chosen + synthetic
    assert len(TOPICS) == len(DEMO_EXAMPLES)
    for example, (word, matches) in zip(DEMO_EXAMPLES, TOPICS.items(), strict=True):
        assert word in example.lower(), (word, example)
        hits = [t.title for t in subset if matches(t)]
        assert hits, f"no talk in the default demo subset answers {example!r}"
    # the spoken demo query (q1.wav): a funny food talk, synthesised short enough for "under ten
    # minutes" once its ~45 s clip is ingested
    assert any("food" in t.tags for t in synthetic)


def test_commands_are_registered_with_their_options() -> None:
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    for command, options in (("ui", ("--host", "--port")), ("demo", ("--no-browser", "--talks"))):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        for option in options:
            assert option in result.output
    assert "{count}" in DEMO_GUIDE

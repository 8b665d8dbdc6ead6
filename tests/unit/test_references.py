from __future__ import annotations

from agent.references import DescribedVideos
from retrieval.types import Video

VIDEOS = [
    Video(
        id="hadfield",
        title="What I learned from going blind in space",
        description="There's an astronaut saying: in space there is no problem so bad that you "
        "can't make it worse. How do you deal with dangerous and scary situations?",
        tags=("space", "fear", "exploration"),
        speaker="Chris Hadfield",
    ),
    Video(
        id="mcgonigal",
        title="How to make stress your friend",
        description="Stress. It makes your heart pound and your breath quicken.",
        tags=("health", "psychology"),
        speaker="Kelly McGonigal",
    ),
    Video(
        id="bees",
        title="Why bees are disappearing",
        description="Honeybees have thrived for 50 million years.",
        tags=("bees", "insects"),
        speaker="Marla Spivak",
    ),
    Video(
        id="stress-work",
        title="Stress at work and what to do about it",
        description="Workplace stress costs companies billions.",
        tags=("work", "stress"),
        speaker="A. N. Other",
    ),
]


def test_a_description_finds_the_talk() -> None:
    index = DescribedVideos(VIDEOS)
    assert index.resolve("the one by the astronaut about fear and danger") == "hadfield"
    assert index.resolve("the bee one") == "bees"
    assert index.resolve("that talk by Kelly McGonigal") == "mcgonigal"


def test_a_shown_talk_wins_a_tie_in_the_library() -> None:
    index = DescribedVideos(VIDEOS)
    # two talks are about stress: ambiguous in the library, clear among what was shown
    assert index.resolve("the stress one") is None
    assert index.resolve("the stress one", shown=["bees", "mcgonigal"]) == "mcgonigal"


def test_nothing_is_resolved_from_words_that_fit_no_talk() -> None:
    index = DescribedVideos(VIDEOS)
    assert index.resolve("the one about cooking pasta") is None
    assert index.resolve("that one you showed me") is None

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


def test_a_description_from_the_talk_itself_resolves_through_the_search() -> None:
    from agent.references import resolve_by_search

    spoken = {
        "hadfield": "my eye filled with tears on the spacewalk and I went blind in orbit",
        "bees": "the hive collapses when pesticides weaken the honeybees",
    }

    def search(mention: str) -> list[str]:
        return ["hadfield", "bees"]

    def text_of(video_id: str) -> str:
        return spoken[video_id]

    mention = "the one where the astronaut went blind from tears on a spacewalk"
    assert resolve_by_search(mention, search, text_of) == "hadfield"
    # the top hit does not hold the mention's words: not that talk
    assert resolve_by_search("the one where a chef bakes bread at dawn", search, text_of) is None
    # too few words to identify a talk by search ("the bee one" is the library's to resolve)
    assert resolve_by_search("the tears one", search, text_of) is None
    # a definite "the ... talk" points at one talk: two words do; an indefinite mention needs more
    assert resolve_by_search("the blind spacewalk talk", search, text_of) == "hadfield"
    assert resolve_by_search("many spacewalk stories", search, text_of) is None
    # a quoted catchphrase counts word for word, stop-words too
    spoken["hadfield"] += " but not yet, he said"
    assert resolve_by_search("the 'not yet' one", search, text_of) == "hadfield"

from __future__ import annotations

import pytest

from agent.reasons import ReasonCheck, boilerplate_of, check_reason_quality, is_cut, summarise
from retrieval.types import Video

OCEAN = Video(
    id="ted-1",
    title="Glowing life in an underwater world",
    description="Some 80 to 90 percent of undersea creatures make light. Edith Widder films them.",
    tags=("oceans", "biology", "exploration"),
    duration=1080.0,
    speaker="Edith Widder",
)
EVIDENCE = (
    "We built a camera system called the Eye-in-the-Sea that uses red light, invisible to most "
    "deep sea animals. The bioluminescent squid flashed back at our lure."
)
REQUEST = "I'd like something inspiring about the ocean, not too long"


def check(reason: str, request: str = REQUEST, allowed: tuple[str, ...] = ("20",)) -> ReasonCheck:
    return check_reason_quality(
        reason, request=request, video=OCEAN, evidence=EVIDENCE, allowed=allowed
    )


def test_a_grounded_reason_passes() -> None:
    result = check(
        'At 3:12 Edith Widder says "The bioluminescent squid flashed back at our lure." '
        "18 min, within your 20."
    )
    assert result.supported == 1.0
    assert not result.cut and result.boilerplate is None and result.specific
    assert result.passes()
    # the user's limit is support only when it is the user's limit
    assert check("18 min, within your 20. Edith Widder films squid.", allowed=()).unsupported == (
        "20",
    )


def test_an_invented_reason_fails_support() -> None:
    # the example: a pinwheel design to attract prey is nowhere in the evidence
    result = check(
        "The video also includes a pinwheel design, which is a unique and visually stunning "
        "design that can be used to attract prey."
    )
    assert result.supported < 0.5
    assert "pinwheel" in result.unsupported
    assert result.boilerplate == "visually stunning"
    assert not result.passes()


def test_echoing_the_request_is_boilerplate() -> None:
    result = check("The video is about inspiring ocean, not too long, and it talks about jobs.")
    assert result.boilerplate == "the video is about"
    assert boilerplate_of("Something inspiring about the ocean.", REQUEST) == "repeats the request"
    assert not result.passes()


def test_the_title_alone_is_no_reason() -> None:
    # what the real 0.5B model wrote for most picks: the title, as a question
    result = check("Glowing life in an underwater world?")
    assert result.boilerplate == "repeats the title"
    assert not result.passes()


def test_naming_the_speaker_is_not_saying_something_specific() -> None:
    # what the model wrote for three different talks of a request about the ocean
    result = check("Edith Widder shows a short film about the ocean.")
    assert result.boilerplate == "repeats the request"
    assert not result.specific
    assert not result.passes()


def test_a_generic_opening_is_boilerplate() -> None:
    result = check("The video provides a clear and concise explanation of deep sea squid.")
    assert result.boilerplate is not None
    assert not result.passes()


@pytest.mark.parametrize(
    "reason",
    [
        "It is designed to help viewers understand how,",
        "Edith Widder shows how squid flash at a camera and",
        "Edith Widder shows the squid and the...",
        "Edith Widder explains how the camera works to the.",
        "",
    ],
)
def test_cut_sentences_are_found(reason: str) -> None:
    assert is_cut(reason)
    assert not check(reason).passes()


@pytest.mark.parametrize(
    "reason",
    [
        "Edith Widder films glowing squid.",
        'At 1:02 she says "squid flashed back at our lure ..." in the deep sea.',
        "Why does the squid glow?",
    ],
)
def test_finished_sentences_are_not_cut(reason: str) -> None:
    assert not is_cut(reason)


def test_request_words_are_neither_support_nor_specific() -> None:
    # only the request's own words: nothing specific about this video
    result = check("Inspiring ocean.", request="something inspiring about the ocean")
    assert not result.specific
    assert not result.passes()


def test_inflections_count_as_support() -> None:
    result = check("Widder explains that creatures glow with bioluminescence while filming.")
    assert result.supported == 1.0, result.unsupported


def test_summary_counts_each_failure() -> None:
    checks = [
        check("Edith Widder films glowing squid."),
        check("The video discusses the ocean and"),
    ]
    summary = summarise(checks)
    assert summary.reasons == 2
    assert summary.cut == 1 and summary.boilerplate == 1
    assert summary.passing_share == 0.5


URBAN = Video(
    "ted-2161",
    "Inside the mind of a master procrastinator",
    speaker="Tim Urban",
    description="Tim Urban knows that procrastination doesn't make sense, but he's never been "
    "able to shake his habit of waiting until the last minute to get things done.",
)
URBAN_CHUNK = "And a couple of years ago, I decided to write about procrastination."


def test_a_negation_the_evidence_does_not_make_fails() -> None:
    # Regression (a real answer of the CPU default, `vidrec ask` on the demo library): every word
    # is in the evidence, "never" included, yet the sentence says the opposite of the talk.
    check = check_reason_quality(
        "Tim Urban shows a master procrastinator who never procrastinates.",
        request="something about why we procrastinate",
        video=URBAN,
        evidence=URBAN_CHUNK,
    )
    assert check.supported == 1.0 and check.negations == ("never procrastinates",)
    assert not check.passes()


@pytest.mark.parametrize(
    "reason",
    [
        "Tim Urban says he has never been able to shake his habit of waiting.",
        "Tim Urban explains why procrastination doesn't make sense.",
        "Tim Urban decided to write about procrastination.",  # no negation at all
    ],
)
def test_a_negation_the_evidence_makes_too_passes(reason: str) -> None:
    check = check_reason_quality(
        reason, request="something about why we procrastinate", video=URBAN, evidence=URBAN_CHUNK
    )
    assert check.negations == () and check.passes(), check

"""The dialogue reading: catalogue tags, moods, negation, years and speakers, by rules."""

from __future__ import annotations

from datetime import date

from agent.learn.reading import Vocabulary, agreement, read_dialogue
from retrieval.types import Video

MOVIES = [
    Video("m1", "Scream (1996)", tags=("horror", "slasher"), published=date(1996, 1, 1)),
    Video("m2", "Airplane! (1980)", tags=("comedy", "parody"), published=date(1980, 1, 1)),
    Video("m3", "Alien (1979)", tags=("horror", "sci-fi", "space"), published=date(1979, 1, 1)),
    Video("m4", "Notting Hill (1999)", tags=("romance", "comedy"), published=date(1999, 1, 1)),
    Video("m5", "Coco (2017)", tags=("animation", "children"), published=date(2017, 1, 1)),
]
TALKS = [
    Video("t1", "Schools", tags=("education", "creativity"), speaker="Ken Robinson"),
    Video("t2", "Climate", tags=("climate change",), speaker="Al Gore"),
]


def test_named_tags_and_moods_map_onto_the_catalogue() -> None:
    vocab = Vocabulary(MOVIES)
    reading = read_dialogue(["I want something scary, like a slasher", "or a funny one"], vocab)
    assert reading.tags == {"horror", "slasher", "comedy"}
    assert not reading.avoid_tags
    # a mood whose tag the catalogue lacks reads as nothing
    assert read_dialogue(["a western please"], vocab).empty


def test_a_negated_tag_is_avoided_not_asked_for() -> None:
    vocab = Vocabulary(MOVIES)
    reading = read_dialogue(["I love comedies but I don't like horror at all"], vocab)
    assert reading.tags == {"comedy"}
    assert reading.avoid_tags == {"horror"}
    assert agreement(MOVIES[0], reading).avoided == 1
    assert agreement(MOVIES[1], reading).tags == 1


def test_decades_years_and_old_or_recent() -> None:
    vocab = Vocabulary(MOVIES)
    assert read_dialogue(["something from the 90s"], vocab).years == (1990, 1999)
    assert read_dialogue(["an eighties movie"], vocab).years == (1980, 1989)
    assert read_dialogue(["made in 2017"], vocab).years == (2017, 2017)
    assert read_dialogue(["a classic"], vocab).years == (1900, 1979)
    assert read_dialogue(["something recent"], vocab).years == (2015, 2017)  # catalogue's last 3
    nineties = read_dialogue(["a 90's romance"], vocab)
    assert agreement(MOVIES[3], nineties).year == 1  # Notting Hill, 1999
    assert agreement(MOVIES[2], nineties).year == -1  # Alien, 1979
    assert agreement(MOVIES[3], nineties).tag_share == 1.0


def test_the_same_reading_serves_a_talk_library() -> None:
    vocab = Vocabulary(TALKS)
    reading = read_dialogue(["anything by Ken Robinson about creativity?"], vocab)
    assert reading.speakers == {"ken robinson"}
    assert reading.tags == {"creativity"}
    assert agreement(TALKS[0], reading).speaker == 1
    assert agreement(TALKS[1], reading).speaker == 0
    assert read_dialogue(["talks on climate change"], vocab).tags == {"climate change"}


def test_nothing_said_agrees_with_nothing() -> None:
    reading = read_dialogue(["hello there"], Vocabulary(MOVIES))
    assert reading.empty
    assert agreement(MOVIES[0], reading) == agreement(MOVIES[1], reading)
    assert agreement(MOVIES[0], reading).tags == 0

"""IMDb metadata for the movie catalogue (evaluation.imdb): matching, the manifest, the reading."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from agent.learn.reading import Vocabulary, agreement, read_dialogue
from evaluation.imdb import IMDB_FILE, ImdbFilms, default_imdb
from evaluation.movies import CatalogueBuilder, MovieItem
from retrieval.errors import InvalidInputError
from retrieval.types import Video

HEADER = "Rank,Title,Genre,Description,Director,Actors,Year,Runtime (Minutes),Rating\n"
ROWS = [
    '1,Step Brothers,Comedy,"Two aimless middle-aged losers still living at home are forced '
    'against their will to become roommates.",Adam McKay,"Will Ferrell, John C. Reilly",2008,98,6.9',
    '2,The Prestige,"Drama,Mystery","After a tragic accident, two stage magicians engage in a '
    'battle to create the ultimate illusion.",Christopher Nolan,"Christian Bale, Hugh Jackman",'
    "2006,130,8.5",
    "3,Heat,Action,A remake.,Someone,Nobody Known,2012,100,5",
    "4,Heat,Action,Another one.,Someone Else,Nobody Else,2012,100,5",
]


@pytest.fixture
def films(tmp_path: Path) -> ImdbFilms:
    path = tmp_path / IMDB_FILE
    path.write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    return ImdbFilms.load(path)


def test_a_film_is_matched_by_title_and_year(films: ImdbFilms) -> None:
    assert films.size == 4
    found = films.match("Step Brothers", 2008)
    assert found is not None and found.people == ("Adam McKay", "Will Ferrell", "John C. Reilly")
    assert films.match("The Prestige", 2007) is not None  # a year off by one, one film
    assert films.match("Step Brothers", 2011) is None  # another film of that title
    assert films.match("Step Brothers", None) is None  # a title alone names namesakes too
    assert films.match("Heat", 2012) is None  # two films of one title and year: neither


def test_a_covered_movie_carries_its_plot_and_people_into_the_manifest(films: ImdbFilms) -> None:
    covered = films.enrich(MovieItem("ml:1", "Step Brothers", 2008, ("Comedy",), ("will ferrell",)))
    row = covered.manifest_row()
    assert "roommates" in str(row["description"]) and "Adam McKay" in str(row["description"])
    assert row["tags"] == ["comedy", "will ferrell", "adam mckay", "john c. reilly"]
    other = MovieItem("ml:2", "Unknown Film", 2008, ("Drama",))
    assert films.enrich(other) == other
    assert films.enrich(other).manifest_row() == other.manifest_row()


def test_the_builder_enriches_every_catalogue_movie(films: ImdbFilms) -> None:
    builder = CatalogueBuilder(None, "redial", enrich=films.enrich)
    step = builder.resolve("Step Brothers (2008)")
    unknown = builder.resolve("Nothing Like It (1999)")
    catalogue = builder.catalogue()
    assert catalogue.items[step].people and not catalogue.items[unknown].people
    lines = [json.loads(line) for line in catalogue.manifest_lines()]
    assert any("will ferrell" in line["tags"] for line in lines)


def test_the_reading_knows_a_named_actor_once_the_catalogue_holds_them(films: ImdbFilms) -> None:
    covered = films.enrich(MovieItem("ml:1", "Step Brothers", 2008, ("Comedy",)))
    row = covered.manifest_row()
    video = Video(
        id=covered.id,
        title=str(row["title"]),
        description=str(row["description"]),
        tags=tuple(row["tags"]),  # type: ignore[arg-type]
        published=date(2008, 1, 1),
    )
    reading = read_dialogue(["I love anything with Will Ferrell in it"], Vocabulary([video]))
    assert "will ferrell" in reading.tags
    assert agreement(video, reading).tags == 1
    plain = MovieItem("ml:1", "Step Brothers", 2008, ("Comedy",)).manifest_row()
    bare = Video(id="ml:1", title="Step Brothers (2008)", tags=tuple(plain["tags"]))  # type: ignore[arg-type]
    assert not read_dialogue(["I love anything with Will Ferrell in it"], Vocabulary([bare])).tags


def test_a_wrong_file_says_what_was_expected(tmp_path: Path) -> None:
    bad = tmp_path / IMDB_FILE
    bad.write_text("Name,When\nx,1\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="not the IMDb movie data file"):
        ImdbFilms.load(bad)
    with pytest.raises(InvalidInputError, match="No IMDb file"):
        ImdbFilms.load(tmp_path / "missing.csv")


def test_the_shared_file_covers_films_of_both_benchmarks(shared_data: Path) -> None:
    path = default_imdb(shared_data)
    if not path.is_file():
        pytest.skip(f"no IMDb file at {path}")
    films = ImdbFilms.load(path)
    assert films.size == 1000
    guardians = films.match("Guardians of the Galaxy", 2014)
    assert guardians is not None and guardians.director == "James Gunn"
    assert "Chris Pratt" in guardians.actors

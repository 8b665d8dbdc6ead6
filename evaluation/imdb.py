"""IMDb metadata for the movie catalogue: plot, director and actors where the file covers a film.

``../shared/data/imdb/IMDB-Movie-Data.csv`` describes 1,000 films of 2006-2016 (title, genres,
a one-sentence plot, the director, four actors, year). A catalogue movie of the same normalised
title and year (a year off by one when that is the only film of the title) gets them: the plot
and the people join its description (what the search reads), and the people's names join its
tags, so that the dialogue reading (:mod:`agent.learn.reading`) knows "Will Ferrell" or
"Christopher Nolan" as something the catalogue holds, the way it knows "horror".

As `vidrec eval` counts it (``catalogue_with_imdb``, ``targets_with_imdb``): ReDial's valid file
762 of its 10,099 catalogue movies, 25 % of its targets; INSPIRED's dev file 741 of 9,891, 17.5 %.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

from evaluation.movies import MovieItem, normalise_title
from retrieval.errors import InvalidInputError

__all__ = ["IMDB_FILE", "ImdbFilm", "ImdbFilms", "default_imdb"]

IMDB_FILE = "IMDB-Movie-Data.csv"
_COLUMNS = frozenset({"Title", "Year", "Description", "Director", "Actors"})


def default_imdb(shared_dir: Path) -> Path:
    return Path(shared_dir) / "imdb" / IMDB_FILE


@dataclass(frozen=True)
class ImdbFilm:
    title: str
    year: int
    plot: str
    director: str
    actors: tuple[str, ...]

    @property
    def people(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for p in (self.director, *self.actors) if p))


class ImdbFilms:
    """The films of the IMDb file, found by normalised title and year."""

    def __init__(self, films: list[ImdbFilm]) -> None:
        self._by_title: dict[str, list[ImdbFilm]] = {}
        for film in films:
            self._by_title.setdefault(normalise_title(film.title), []).append(film)
        self.size = len(films)

    @classmethod
    def load(cls, path: Path) -> ImdbFilms:
        if not path.is_file():
            raise InvalidInputError(
                f"No IMDb file at {path}",
                expected=f"the IMDb movie data CSV ({IMDB_FILE})",
                got="no file",
                hint="Point VIDREC_DATA__SHARED_DIR at the shared data (its imdb/ folder)",
            )
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = _COLUMNS - set(reader.fieldnames or ())
            if missing:
                raise InvalidInputError(
                    f"{path} is not the IMDb movie data file",
                    expected="columns " + ", ".join(sorted(_COLUMNS)),
                    got="columns " + ", ".join(reader.fieldnames or ()),
                    hint="Use IMDB-Movie-Data.csv from the shared data",
                )
            films = [
                ImdbFilm(
                    title=row["Title"].strip(),
                    year=int(row["Year"]),
                    plot=" ".join(row["Description"].split()),
                    director=row["Director"].strip(),
                    actors=tuple(a.strip() for a in row["Actors"].split(",") if a.strip()),
                )
                for row in reader
                if row["Title"].strip() and row["Year"].strip().isdigit()
            ]
        return cls(films)

    def match(self, title: str, year: int | None) -> ImdbFilm | None:
        """The film of this title and year (a year off by one when it is the only such film);
        None without a year: a title alone names remakes and namesakes alike."""
        if year is None:
            return None
        films = self._by_title.get(normalise_title(title), [])
        exact = [f for f in films if f.year == year]
        if len(exact) == 1:
            return exact[0]
        near = [f for f in films if abs(f.year - year) == 1]
        return near[0] if not exact and len(near) == 1 else None

    def enrich(self, item: MovieItem) -> MovieItem:
        """``item`` with the plot and people of its film (unchanged when not covered)."""
        film = self.match(item.title, item.year)
        if film is None:
            return item
        return replace(item, plot=film.plot, people=film.people)

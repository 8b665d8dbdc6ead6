"""Movie catalogues for the conversational tasks: MovieLens metadata, title matching, manifests.

ReDial and INSPIRED name movies by free-text title and year ("The Post (2017)", "Cosmos  (2015)");
MovieLens writes "Post, The (2017)" and adds alternative titles in parentheses ("Seven (a.k.a.
Se7en) (1995)"). ``title_key`` reduces both to one comparable form so a mention can be matched to
its MovieLens entry, which brings genres, tags and a popularity count with it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.errors import InvalidInputError

log = logging.getLogger(__name__)

_YEAR_RE = re.compile(r"\(\s*(\d{4})(?:\s*[-–]\s*\d{0,4})?\s*\)\s*$")
_PAREN_RE = re.compile(r"\(([^()]*)\)")
_ARTICLE_SUFFIX_RE = re.compile(
    r",\s*(the|a|an|les|la|le|l'|il|el|los|las|das|der|die|den|det)\s*$", re.IGNORECASE
)
_LEADING_ARTICLE_RE = re.compile(r"^(the|a|an)\s+")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")


def split_title_year(raw: str) -> tuple[str, int | None]:
    """``"Cosmos  (2015)"`` -> ``("Cosmos", 2015)``; a title without a year keeps ``None``."""
    text = " ".join(raw.split())
    match = _YEAR_RE.search(text)
    if match is None:
        return text, None
    return text[: match.start()].strip(), int(match.group(1))


def display_title(title: str) -> str:
    """``"Usual Suspects, The"`` -> ``"The Usual Suspects"`` (MovieLens article order undone)."""
    main = _PAREN_RE.sub("", title).strip() if _PAREN_RE.search(title) else title
    match = _ARTICLE_SUFFIX_RE.search(main)
    if match is None:
        return title.strip()
    article = match.group(1)
    rest = title.replace(match.group(0), "", 1).strip()
    joiner = "" if article.endswith("'") else " "
    return f"{article}{joiner}{rest}"


def normalise_title(title: str) -> str:
    """Lower-case ASCII words without punctuation or a leading article ("the", "a", "an")."""
    text = unicodedata.normalize("NFKD", title)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ")
    text = _NON_ALNUM_RE.sub(" ", text).strip()
    return _LEADING_ARTICLE_RE.sub("", text)


def title_keys(title: str) -> list[str]:
    """Every normalised form a title may be known by: the main title and parenthesised aliases.

    ``"City of Lost Children, The (Cité des enfants perdus, La)"`` gives the English title and the
    French one, each with its article moved back to the front before normalising.
    """
    aliases = [a.strip() for a in _PAREN_RE.findall(title)]
    main = _PAREN_RE.sub(" ", title)
    forms = [main, *(re.sub(r"^(a\.k\.a\.|aka)\s*", "", a, flags=re.IGNORECASE) for a in aliases)]
    keys: list[str] = []
    for form in forms:
        key = normalise_title(display_title(" ".join(form.split())))
        if key and key not in keys:
            keys.append(key)
    return keys


@dataclass(frozen=True)
class MovieItem:
    """One catalogue entry (a movie) as the evaluation ranks it."""

    id: str  # "ml:<movieId>" when matched to MovieLens, else "<dataset>:<slug>"
    title: str  # natural order, without the year
    year: int | None = None
    genres: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    movielens_id: int | None = None
    popularity: int = 0  # MovieLens ratings count (0 when unmatched)
    plot: str = ""  # IMDb's one-sentence plot, where it covers the film (evaluation.imdb)
    people: tuple[str, ...] = ()  # IMDb's director, then actors

    @property
    def label(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    def manifest_row(self) -> dict[str, object]:
        """A metadata-only manifest row (``retrieval.manifest.ManifestRow`` fields)."""
        parts = [self.label + "."]
        if self.genres:
            parts.append("Genres: " + ", ".join(self.genres) + ".")
        if self.tags:
            parts.append("Tags: " + ", ".join(self.tags) + ".")
        if self.plot:
            parts.append(self.plot)
        if self.people:
            parts.append("With " + ", ".join(self.people) + ".")
        tags = [g.lower() for g in self.genres] + [t for t in self.tags if t]
        row: dict[str, object] = {
            "id": self.id,
            "title": self.label,
            "description": " ".join(parts),
            "tags": tags
            + [p for p in dict.fromkeys(p.lower() for p in self.people) if p not in tags],
        }
        if self.year:
            row["published"] = f"{self.year:04d}-01-01"
        return row


@dataclass
class MovieLens:
    """MovieLens ``movies.csv`` (+ ``tags.csv`` and ratings counts when present), indexed by title."""

    folder: Path
    items: dict[int, MovieItem]
    _by_key: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _by_year: dict[int, list[tuple[str, int]]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, folder: str | Path, *, max_tags: int = 8) -> MovieLens:
        folder = Path(folder)
        movies_csv = folder / "movies.csv"
        if not movies_csv.is_file():
            raise InvalidInputError(
                f"No MovieLens movies.csv in {folder}",
                expected="a MovieLens folder with movies.csv (movieId,title,genres)",
                got=", ".join(sorted(p.name for p in folder.iterdir()))
                if folder.is_dir()
                else "no folder",
                hint="Point at ml-latest-small (../shared/data/movielens/ml-latest-small)",
            )
        tags: dict[int, Counter[str]] = defaultdict(Counter)
        tags_csv = folder / "tags.csv"
        if tags_csv.is_file():
            with tags_csv.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    tag = " ".join(row["tag"].split()).lower()
                    if tag:
                        tags[int(row["movieId"])][tag] += 1
        counts: Counter[int] = Counter()
        ratings_csv = folder / "ratings.csv"
        if ratings_csv.is_file():
            with ratings_csv.open(newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh)
                next(reader, None)
                for rec in reader:
                    counts[int(rec[1])] += 1
        items: dict[int, MovieItem] = {}
        with movies_csv.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                movie_id = int(row["movieId"])
                title, year = split_title_year(row["title"])
                genres = tuple(
                    g for g in row["genres"].split("|") if g and g != "(no genres listed)"
                )
                items[movie_id] = MovieItem(
                    id=f"ml:{movie_id}",
                    title=display_title(title),
                    year=year,
                    genres=genres,
                    tags=tuple(t for t, _ in tags[movie_id].most_common(max_tags)),
                    movielens_id=movie_id,
                    popularity=counts[movie_id],
                )
        ml = cls(folder=folder, items=items)
        for movie_id, row_title in ml._raw_titles(movies_csv):
            year = items[movie_id].year
            for key in title_keys(row_title):
                ml._by_key.setdefault(key, []).append(movie_id)
                if year is not None:
                    ml._by_year.setdefault(year, []).append((key, movie_id))
        return ml

    @staticmethod
    def _raw_titles(movies_csv: Path) -> Iterable[tuple[int, str]]:
        with movies_csv.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                yield int(row["movieId"]), split_title_year(row["title"])[0]

    def match(self, raw: str) -> MovieItem | None:
        """The MovieLens movie a free-text ``"Title (Year)"`` names, or None.

        Same normalised title and year wins; a year off by one is accepted when it is the only
        candidate (release years differ between sources); without a year the most rated movie of
        that title is taken. Failing all that, a title of the same year that starts with the
        mention's words is accepted when it is the only one ("Star Wars (1977)" -> "Star Wars:
        Episode IV - A New Hope (1977)").
        """
        title, year = split_title_year(raw)
        keys = title_keys(title)
        candidates: list[int] = []
        for key in keys:
            candidates.extend(i for i in self._by_key.get(key, []) if i not in candidates)
        if not candidates:
            if year is None or not keys:
                return None
            prefixed = {
                movie_id
                for key, movie_id in self._by_year.get(year, [])
                if any(key.startswith(k + " ") for k in keys)
            }
            return self.items[prefixed.pop()] if len(prefixed) == 1 else None
        movies = [self.items[i] for i in candidates]
        if year is None:
            return max(movies, key=lambda m: m.popularity)
        exact = [m for m in movies if m.year == year]
        if exact:
            return max(exact, key=lambda m: m.popularity)
        near = [m for m in movies if m.year is not None and abs(m.year - year) == 1]
        return near[0] if len(near) == 1 else None


def slug(text: str) -> str:
    return _NON_ALNUM_RE.sub("-", normalise_title(text)).strip("-") or "untitled"


class CatalogueBuilder:
    """Collects the movies a dialogue data set mentions, matched to MovieLens where possible.

    Args:
        movielens: the MovieLens metadata (its titles join the catalogue too), or None.
        prefix: id prefix for movies MovieLens does not know ("redial", "inspired").
        enrich: more metadata for each catalogue movie (``evaluation.imdb.ImdbFilms.enrich``).
    """

    def __init__(
        self,
        movielens: MovieLens | None,
        prefix: str,
        enrich: Callable[[MovieItem], MovieItem] | None = None,
    ) -> None:
        self.movielens = movielens
        self.prefix = prefix
        self.enrich = enrich
        self._mentioned: dict[str, MovieItem] = {}
        self._resolved: dict[str, str] = {}

    def resolve(self, raw: str) -> str:
        """The catalogue id of a mention ``"Title (Year)"`` (added to the catalogue on first use)."""
        cached = self._resolved.get(raw)
        if cached is not None:
            return cached
        matched = self.movielens.match(raw) if self.movielens is not None else None
        if matched is not None:
            item = matched
        else:
            title, year = split_title_year(raw)
            title = display_title(title)
            item_id = f"{self.prefix}:{slug(title)}" + (f"-{year}" if year else "")
            item = self._mentioned.get(item_id) or MovieItem(id=item_id, title=title, year=year)
        self._mentioned.setdefault(item.id, item)
        self._resolved[raw] = item.id
        return item.id

    @property
    def mentioned(self) -> dict[str, MovieItem]:
        return dict(self._mentioned)

    def catalogue(self) -> Catalogue:
        items = dict(self._mentioned)
        if self.movielens is not None:
            for movie in self.movielens.items.values():
                items.setdefault(movie.id, movie)
        if self.enrich is not None:
            items = {k: self.enrich(v) for k, v in items.items()}
        return Catalogue(items=dict(sorted(items.items())))


@dataclass(frozen=True)
class Catalogue:
    """The items a conversational task ranks, keyed by id (sorted for a stable hash)."""

    items: dict[str, MovieItem]

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.items

    def manifest_lines(self) -> list[str]:
        return [
            json.dumps(item.manifest_row(), ensure_ascii=False, sort_keys=True)
            for item in self.items.values()
        ]

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for line in self.manifest_lines():
            digest.update(line.encode("utf-8") + b"\n")
        return digest.hexdigest()

    def write_manifest(self, path: Path) -> Path:
        """Write the JSONL manifest atomically (skipped when an identical one is there)."""
        text = "\n".join(self.manifest_lines()) + "\n"
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        return path

"""``vidrec import-interactions``, ``train``, ``users export/delete`` end to end on a tiny MovieLens.

The commands run through the real ``vidrec`` Typer app against a temp data dir (SQLite file,
model versions on disk); the MovieLens-format files are written by the test.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from retrieval.errors import InvalidInputError, NotFoundError
from ui.cli import app

runner = CliRunner()

MOVIES = [
    (1, "Toy Story (1995)", "Adventure|Animation|Children"),
    (2, "Jumanji (1995)", "Adventure|Children|Fantasy"),
    (3, "Heat (1995)", "Action|Crime|Thriller"),
    (4, "Se7en (a.k.a. Seven) (1995)", "Mystery|Thriller"),
    (5, "Babe (1995)", "Children|Drama"),
    (6, "Casino (1995)", "Crime|Drama"),
]


@pytest.fixture
def movielens(tmp_path: Path) -> Path:
    root = tmp_path / "movielens"
    folder = root / "ml-tiny"
    folder.mkdir(parents=True)
    rows = ["userId,movieId,rating,timestamp"]
    ts = 964982000
    for user in range(1, 9):  # users 1-4 like family films, 5-8 crime films
        films = (1, 2, 5) if user <= 4 else (3, 4, 6)
        for n, movie in enumerate(films):
            rows.append(f"{user},{movie},{4.0 + (n % 2) * 0.5},{ts + 10 * user + n}")
    rows.append("9,not-a-number,4.0,964982000")  # a bad row: reported and skipped
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n" + "".join(f'{m},"{t}",{g}\n' for m, t, g in MOVIES)
    )
    (folder / "tags.csv").write_text(
        "userId,movieId,tag,timestamp\n1,1,pixar,1\n2,1,Pixar,2\n5,3,heist,3\n"
    )
    (root / "ml-youtube.csv").write_text("youtubeId,movieId,title\nK26_sDKnvMU,1,Toy Story\n")
    return folder


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("VIDREC_DATA_DIR", str(path))
    monkeypatch.setenv("VIDREC_EMBEDDING__BACKEND", "fake")
    monkeypatch.setenv("VIDREC_AGENT__COLLAB__FACTORS", "2")
    monkeypatch.setenv("VIDREC_AGENT__COLLAB__THREADS", "1")
    return path


def test_import_is_idempotent_and_writes_a_movie_manifest(movielens: Path, data_dir: Path) -> None:
    first = runner.invoke(app, ["import-interactions", "--movielens", str(movielens)])
    assert first.exit_code == 0, first.output
    assert "imported 8 users, 24 ratings (0 earlier imported ones replaced)" in first.output
    assert "skipped" in first.output and f"{movielens / 'ratings.csv'}:26" in first.output
    again = runner.invoke(app, ["import-interactions", "--movielens", str(movielens)])
    assert "imported 8 users, 24 ratings (24 earlier imported ones replaced)" in again.output
    listed = runner.invoke(app, ["users", "list"]).output.split()
    assert listed == [f"ml-user:{n}" for n in range(1, 9)]

    manifest = data_dir / "imports" / "movielens-movies.jsonl"
    rows = {r["id"]: r for r in map(json.loads, manifest.read_text().splitlines())}
    assert set(rows) == {f"ml:{m}" for m, *_ in MOVIES}
    toy = rows["ml:1"]
    assert toy["url"] == "https://www.youtube.com/watch?v=K26_sDKnvMU"
    assert toy["tags"][:3] == ["adventure", "animation", "children"] and "pixar" in toy["tags"]
    assert toy["published"] == "1995-01-01" and "url" not in rows["ml:2"]


def test_paths_in_messages_are_never_wrapped(
    movielens: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a narrow terminal and a path far longer than it: each path must still come out whole
    monkeypatch.setenv("COLUMNS", "40")
    deep = tmp_path / ("a-very-long-folder-name-" * 4) / "[brackets] and spaces" / "ml-tiny"
    shutil.copytree(movielens, deep)
    shutil.copy(movielens.parent / "ml-youtube.csv", deep.parent / "ml-youtube.csv")
    imported = runner.invoke(app, ["import-interactions", "--movielens", str(deep)])
    assert imported.exit_code == 0, imported.output
    assert f"skipped {deep / 'ratings.csv'}:26: " in imported.output

    out = deep / "export" / "u3.json"
    exported = runner.invoke(app, ["users", "export", "ml-user:3", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert f"wrote {out}\n" in exported.output


def test_a_ratings_file_without_the_movielens_header_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "ratings.csv"
    bad.write_text("user,item,score\n1,2,3\n")
    result = runner.invoke(app, ["import-interactions", "--movielens", str(bad)])
    assert isinstance(result.exception, InvalidInputError)
    assert "userId,movieId,rating,timestamp" in str(result.exception)


def test_train_versions_export_and_delete(movielens: Path, data_dir: Path) -> None:
    assert runner.invoke(app, ["import-interactions", "--movielens", str(movielens)]).exit_code == 0
    for version in ("v0001", "v0002"):
        trained = runner.invoke(app, ["train", "--no-tune"])
        assert trained.exit_code == 0, trained.output
        assert f"model {version}: 8 users, 6 videos, 24 events" in trained.output
        assert (data_dir / "collab" / version / "meta.json").is_file()
        # imported ratings hold no conversations: the learned ranker falls back to the blend
        assert "learned ranker not trained: 0 logged turns" in trained.output
        assert not (data_dir / "ranker").exists()

    out = data_dir / "export" / "u3.json"
    exported = runner.invoke(app, ["users", "export", "ml-user:3", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    data = json.loads(out.read_text())
    assert sorted(e["video_id"] for e in data["events"]) == ["ml:1", "ml:2", "ml:5"]
    assert set(data["collaborative_model"]["versions"]) == {"v0001", "v0002"}

    declined = runner.invoke(app, ["users", "delete", "ml-user:3"], input="n\n")
    assert declined.exit_code != 0
    assert "ml-user:3" in runner.invoke(app, ["users", "list"]).output

    deleted = runner.invoke(app, ["users", "delete", "ml-user:3", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert "factors in 2 model version(s)" in deleted.output
    assert "verified: the user id appears nowhere" in deleted.output
    assert "ml-user:3" not in runner.invoke(app, ["users", "list"]).output
    gone = runner.invoke(app, ["users", "export", "ml-user:3"])
    assert isinstance(gone.exception, NotFoundError)

    retrained = runner.invoke(app, ["train", "--no-tune"])
    assert "model v0003: 7 users, 6 videos, 21 events" in retrained.output

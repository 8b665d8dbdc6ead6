"""Paths from outside (manifest fields, server paths) stay inside the allowed roots, name regular
files only, and are size-capped before hashing; a bad row fails alone and the others are kept."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from retrieval.discovery import discover
from retrieval.errors import InvalidInputError
from retrieval.guard import IngestCancelled, IngestGuard, file_digest
from retrieval.manifest import read_manifest
from retrieval.settings import IngestSettings

SECRET = "root:x:0:0:the secret line nobody may read"


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(root, secret): an allowed root with a good transcript, a private file beside it."""
    root = tmp_path / "uploads" / "job1"
    root.mkdir(parents=True)
    (root / "good.md").write_text("Glaciers carve valleys over thousands of years.")
    private = tmp_path / "private"
    private.mkdir()
    secret = private / "passwd.txt"
    secret.write_text(SECRET)
    (root / "link.md").symlink_to(secret)
    monkeypatch.setenv("HOME", str(private))
    return root, secret


def _manifest(root: Path, rows: list[dict[str, object]]) -> Path:
    path = root / "library.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_rows_outside_the_roots_fail_alone(layout: tuple[Path, Path]) -> None:
    root, secret = layout
    manifest = _manifest(
        root,
        [
            {"id": "good", "title": "Glaciers", "transcript_path": "good.md"},
            {"id": "dots", "title": "x", "transcript_path": "../../private/passwd.txt"},
            {"id": "absolute", "title": "x", "transcript_path": str(secret)},
            {"id": "home", "title": "x", "captions_path": "~/passwd.txt"},
            {"id": "symlink", "title": "x", "transcript_path": "link.md"},
            {"id": "thumb", "title": "x", "thumbnail": str(secret)},
        ],
    )
    result = read_manifest(manifest, roots=[root])
    assert [r.id for r in result.rows] == ["good"]
    assert len(result.failures) == 5
    for failure in result.failures:
        assert "expected a file under" in failure.error, failure
        assert str(root) in failure.error and str(secret) in failure.error  # where it landed
        assert "upload" in failure.error  # how to fix


def test_without_roots_the_operator_may_name_any_regular_file(layout: tuple[Path, Path]) -> None:
    root, secret = layout
    manifest = _manifest(root, [{"id": "ok", "title": "x", "transcript_path": str(secret)}])
    assert [r.id for r in read_manifest(manifest).rows] == ["ok"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_devices_and_folders_are_refused_even_for_the_operator(tmp_path: Path) -> None:
    manifest = _manifest(
        tmp_path,
        [
            {"id": "zero", "title": "x", "media_path": "/dev/zero"},
            {"id": "folder", "title": "x", "captions_path": str(tmp_path)},
            {"id": "meta", "title": "only metadata"},
        ],
    )
    result = read_manifest(manifest)
    assert [r.id for r in result.rows] == ["meta"]
    errors = [f.error for f in result.failures]
    assert "regular file" in errors[0] and "/dev/zero" in errors[0]
    assert "regular file" in errors[1]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,x"])
def test_only_web_links_are_accepted(tmp_path: Path, url: str) -> None:
    manifest = _manifest(
        tmp_path,
        [
            {"id": "bad", "title": "x", "url": url},
            {"id": "ok", "title": "y", "url": "https://a.b/c"},
        ],
    )
    result = read_manifest(manifest)
    assert [r.id for r in result.rows] == ["ok"]
    assert "http(s)" in result.failures[0].error and url in result.failures[0].error


def test_web_thumbnail_kept_and_local_one_resolved(tmp_path: Path) -> None:
    (tmp_path / "t.jpg").write_bytes(b"\xff\xd8jpeg")
    manifest = _manifest(
        tmp_path,
        [
            {"id": "web", "title": "x", "thumbnail": "https://img.example/a.jpg"},
            {"id": "local", "title": "y", "thumbnail": "t.jpg"},
            {"id": "script", "title": "z", "thumbnail": "javascript:alert(2)"},
        ],
    )
    result = read_manifest(manifest, roots=[tmp_path])
    rows = {r.id: r for r in result.rows}
    assert rows["web"].thumbnail == "https://img.example/a.jpg"
    assert rows["local"].thumbnail == str((tmp_path / "t.jpg").resolve())
    assert set(rows) == {"web", "local"} and len(result.failures) == 1


def test_discovery_refuses_a_symlink_out_of_the_roots(layout: tuple[Path, Path]) -> None:
    root, _ = layout
    (root / "talk.srt").symlink_to(layout[1])
    found = discover([root], None, IngestSettings(), roots=[root])
    assert not any("talk" in i.origin for i in found.items)
    assert any(
        "talk.srt" in f.path and "expected a file under" in f.error.lower() for f in found.failures
    )


def test_file_digest_is_capped_before_hashing(tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(b"\x00" * 4096)
    with pytest.raises(InvalidInputError, match="larger than"):
        file_digest(big, "media", max_bytes=1024)
    assert len(file_digest(big, "media", max_bytes=8192)) == 64


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_file_digest_refuses_a_device_at_once() -> None:
    began = time.monotonic()
    with pytest.raises(InvalidInputError, match="regular file"):
        file_digest(Path("/dev/zero"), "media")
    assert time.monotonic() - began < 5  # generous: the old code never returned


def test_a_cancelled_guard_stops_hashing(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    path.write_bytes(os.urandom(1 << 21))
    guard = IngestGuard()
    guard.cancel("stopped by test")
    with pytest.raises(IngestCancelled, match="stopped by test"):
        file_digest(path, "media", guard=guard)


def test_a_guard_times_out() -> None:
    guard = IngestGuard(timeout_s=0.05)
    guard.check()
    stop = threading.Event()
    stop.wait(0.1)
    with pytest.raises(IngestCancelled, match="timed out"):
        guard.check()

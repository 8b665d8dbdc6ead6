"""Checks for paths that come from outside (manifest fields, server paths, uploads).

A path is resolved (``~`` expanded, relative to a base folder, symlinks followed) and must land on a
regular file; when ``roots`` are given it must also land under one of them. ``roots=None`` means
the operator named the path (``vidrec ingest``): any regular file is fine. Devices (``/dev/zero``),
pipes and folders are never read as inputs.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from retrieval.errors import InvalidInputError

ROOTS_HINT = (
    "upload the file together with the manifest (its paths are relative to the manifest), "
    "or move it under a folder in api.ingest_roots"
)


def resolve_roots(roots: Sequence[str | Path] | None) -> tuple[Path, ...] | None:
    return None if roots is None else tuple(Path(r).expanduser().resolve() for r in roots)


def is_web_url(value: str) -> bool:
    """``http(s)://host...``: the only links vidrec stores or emits."""
    parsed = urlparse(value.strip())
    return parsed.scheme.lower() in ("http", "https") and bool(parsed.netloc)


def inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def checked_file(
    path: str | Path,
    what: str,
    *,
    base: Path | None = None,
    roots: Sequence[Path] | None = None,
) -> Path:
    """``path`` resolved; raises ``InvalidInputError`` unless it is a regular file (under ``roots``).

    Args:
        path: as given (``~`` and paths relative to ``base`` are allowed).
        what: the kind of file, for the message (``"media"``, ``"transcript"``...).
        base: the folder relative paths start from (the manifest's folder).
        roots: resolved folders the file must be under; ``None``: anywhere.
    """
    given = Path(path).expanduser()
    if not given.is_absolute() and base is not None:
        given = base / given
    resolved = given.resolve()
    shown = str(path) if str(path) == str(resolved) else f"{path} (resolves to {resolved})"
    if roots is not None and not inside(resolved, roots):
        raise InvalidInputError(
            f"The {what} path {path} is outside the folders this ingest may read",
            expected="a file under " + " or ".join(str(r) for r in roots),
            got=shown,
            hint=ROOTS_HINT,
        )
    try:
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise InvalidInputError(
            f"The {what} file {path} does not exist",
            expected=f"an existing {what} file",
            got=shown,
            hint=f"no such file at {resolved}; fix the path"
            + (f" (relative to {base})" if base is not None else "")
            + " or leave it empty",
        ) from None
    except OSError as exc:
        raise InvalidInputError(
            f"Cannot read the {what} file {path} ({exc.strerror or exc})",
            expected=f"a readable {what} file",
            got=shown,
            hint="check its permissions",
        ) from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device or other special file"
        raise InvalidInputError(
            f"The {what} path {path} is not a regular file",
            expected=f"a regular file (the {what} itself)",
            got=f"{shown}, {kind}",
            hint="name the file itself (folders go to `vidrec ingest`, devices are never read)",
        )
    return resolved

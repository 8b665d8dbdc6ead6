"""Numbered versions of a trained model under one folder: ``<root>/vNNNN/``, newest named by
``<root>/LATEST``.

A version is complete once its marker file (e.g. ``meta.json``, written last) exists; an
incomplete one is ignored. A save writes into a temp folder that is renamed into place, then
``LATEST`` is replaced atomically, so a reader learns that a new version appeared by reading one
small file instead of listing the folder. The newest ``keep`` versions are kept. The
collaborative model (``agent.collab.store``) and the learned ranker (``agent.learn.store``)
are both stored this way.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from retrieval.errors import VidrecError

__all__ = ["LATEST", "Loaded", "Versions", "unreadable"]

T = TypeVar("T")
E = TypeVar("E", bound=VidrecError)

log = logging.getLogger(__name__)

LATEST = "LATEST"


class Versions:
    """The versions under ``root`` whose folder holds ``marker``."""

    def __init__(self, root: Path, marker: str, keep: int = 3) -> None:
        self.root = Path(root)
        self.marker = marker
        self.keep = max(1, keep)

    def versions(self) -> list[Path]:
        """Complete versions, oldest first."""
        if not self.root.is_dir():
            return []
        found = [
            p
            for p in self.root.iterdir()
            if p.is_dir()
            and p.name.startswith("v")
            and p.name[1:].isdigit()
            and (p / self.marker).is_file()
        ]
        return sorted(found, key=lambda p: int(p.name[1:]))

    def latest(self) -> Path | None:
        """The newest complete version: the one ``LATEST`` names (one small read), else (a store
        written before ``LATEST`` existed, or the named version is gone) the newest listed."""
        try:
            name = (self.root / LATEST).read_text(encoding="utf-8").strip()
        except OSError:
            name = ""
        if name and (self.root / name / self.marker).is_file():
            return self.root / name
        versions = self.versions()
        return versions[-1] if versions else None

    def next_number(self) -> int:
        existing = [int(p.name[1:]) for p in self.root.glob("v[0-9]*") if p.name[1:].isdigit()]
        return max(existing, default=0) + 1

    def save(self, version: int, write: Callable[[Path], None]) -> Path:
        """``write`` the files of version ``version`` into a temp folder, rename it into place,
        point ``LATEST`` at it and prune old versions; returns its folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / f"v{version:04d}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.root))
        try:
            write(tmp)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        pointer = self.root / f".tmp-{LATEST}-{os.getpid()}"
        pointer.write_text(target.name, encoding="utf-8")
        os.replace(pointer, self.root / LATEST)
        for old in self.versions()[: -self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.root.glob(".tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        log.info("saved %s", target)
        return target


class Loaded(Generic[T]):
    """What ``load`` made of the newest version, loaded again only when ``latest`` names a newer
    one (a save by another process included). Thread-safe: ``lock`` (re-entrant) also guards
    in-place edits of ``value``.

    With ``background``, a newer version found while one is already loaded is loaded in a thread
    and the call goes on with the loaded one: the turn that notices a new version does not wait
    for it (a server's case); it is used from the first call after its load finished. A version
    that fails to load there is logged and kept out until a newer one appears; the loaded one
    stays. Without a loaded version (the first call) the call loads and waits either way.
    """

    def __init__(
        self,
        latest: Callable[[], Path | None],
        load: Callable[[Path], T],
        what: str,
        background: bool = False,
    ) -> None:
        self._latest, self._load, self._what = latest, load, what
        self.background = background
        self.value: T | None = None
        self._from: Path | None = None
        self._pending: Path | None = None  # being loaded in the background, or failed there
        self._edits: list[Callable[[T], object]] = []  # made while it loads: made on it too
        self.lock = threading.RLock()

    def get(self) -> T | None:
        latest = self._latest()
        with self.lock:
            if latest is None:
                self.value, self._from = None, None
                return None
            if latest == self._from:
                return self.value
            if self.background and self.value is not None:
                if latest != self._pending:
                    self._pending, self._edits = latest, []
                    threading.Thread(
                        target=self._load_aside,
                        args=(latest,),
                        daemon=True,
                        name=f"vidrec-load-{latest.name}",
                    ).start()
                return self.value
            self.value = self._load(latest)
            self._from = latest
            log.info("loaded %s %s", self._what, latest)
            return self.value

    def edit(self, change: Callable[[T], object]) -> None:
        """Make ``change`` to the loaded value in place, and to the one loading in the background
        when it is put in place (it was read before the change may have reached its files)."""
        with self.lock:
            if self.value is not None:
                change(self.value)
            if self._pending is not None:
                self._edits.append(change)

    def _load_aside(self, folder: Path) -> None:
        """Load ``folder`` in this thread and put it in place (unless a newer one got there)."""
        try:
            value = self._load(folder)
        except Exception as exc:  # the loaded version keeps serving; a newer one is tried
            log.warning("%s %s not loaded, the loaded one stays: %s", self._what, folder, exc)
            return
        with self.lock:
            if self._pending == folder:
                for edit in self._edits:  # e.g. a user forgotten while it was read from disk
                    edit(value)
                self.value, self._from, self._pending, self._edits = value, folder, None, []
                log.info("loaded %s %s in the background", self._what, folder)


def unreadable(error: type[E], what: str, folder: Path, files: str, exc: Exception) -> E:
    """``error`` for a saved version in ``folder`` that cannot be read (``exc``): the ``what``
    named, the ``files`` `vidrec train` writes expected, and the fix (delete it, train again)."""
    return error(
        f"The {what} in {folder} cannot be read",
        expected=f"{files} written by `vidrec train`",
        got=str(exc),
        hint=f"Delete {folder} and run `vidrec train` again",
    )

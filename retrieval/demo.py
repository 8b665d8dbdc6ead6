"""The demo library, built from the public data in ``shared/data`` (nothing copied into the repo).

It holds three kinds of items, all written to one JSONL manifest under ``out_dir``:

* **TED talks with their transcripts** (``ted/ted_main.csv`` metadata, ``ted/talk_transcripts.csv``
  pairing a row with its transcript file). The default is a topically varied subset, picked
  round-robin over :data:`THEMES` (most-viewed first, only exact title matches), so that a first
  ingest is quick; ``full=True`` takes every paired talk. The transcripts carry no timestamps, so
  their times are estimates (see :mod:`retrieval.transcripts`).
* **Talks with synthesised audio**, for the Whisper path: the first ~45 s of a talk's transcript
  spoken by espeak-ng and muxed by ffmpeg with a plain video track into an .mp4. These rows are
  marked ``synthetic_audio`` and say so in their description; they carry no transcript, so ingest
  runs Whisper on them.
* **LibriVox clips** (``speech/librivox``): real read speech, public domain, as audio items.

Idempotent: existing generated media is reused and an unchanged manifest is not rewritten.
"""

from __future__ import annotations

import ast
import csv
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from retrieval.errors import InvalidInputError, MediaError, MissingDependencyError
from retrieval.manifest import ManifestRow, write_manifest
from retrieval.media import probe
from retrieval.transcripts import clean_transcript_text, split_sentences

log = logging.getLogger(__name__)

DEFAULT_TALKS = 60
DEFAULT_SYNTHETIC = 3
SYNTHETIC_WORDS = 135  # ~45 s: espeak-ng's default voice reads about 180 words per minute
SYNTHETIC_NOTE = "Audio synthesised with espeak-ng from the transcript (not the real talk audio)."
MANIFEST_NAME = "manifest.jsonl"
TED_LICENCE = "TED content CC BY-NC-ND; transcripts via github.com/saranyan/TED-Talks"

# Broad, recognisable topics, visited in turn when picking the default subset.
THEMES = (
    "technology",
    "science",
    "humor",
    "food",
    "health",
    "design",
    "music",
    "business",
    "education",
    "environment",
    "psychology",
    "art",
    "space",
    "animals",
    "cities",
    "politics",
    "history",
    "medicine",
    "economics",
    "children",
    "sports",
    "brain",
    "climate change",
    "photography",
    "women",
    "entertainment",
    "storytelling",
    "war",
    "innovation",
    "travel",
)
# The synthesised clips: short enough for "under ten minutes", chosen to answer the demo query
# "recommend me a funny cooking video".
SYNTHETIC_THEMES = ("food", "comedy", "technology", *THEMES)
# Kept out of the picked subsets (not out of ``full``): a demo is shown to anyone.
EXCLUDED_TAGS = frozenset({"sex"})


@dataclass(frozen=True)
class TedTalk:
    index: int  # 0-based data row in ted_main.csv
    title: str
    speaker: str
    description: str
    tags: tuple[str, ...]
    duration: float
    published: int | None  # unix seconds
    film_date: int | None
    event: str
    views: int
    url: str
    transcript: Path
    match: str  # how talk_transcripts.csv paired it: exact, contain, prefix, fuzzy

    @property
    def id(self) -> str:
        return f"ted-{self.index}"


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _iso(unix: int | None) -> str | None:
    return datetime.fromtimestamp(unix, tz=UTC).date().isoformat() if unix is not None else None


def load_ted(shared_dir: Path) -> list[TedTalk]:
    """The TED talks that have a transcript, in ted_main.csv order."""
    ted = shared_dir / "ted"
    main_csv, pairs_csv = ted / "ted_main.csv", ted / "talk_transcripts.csv"
    for needed in (main_csv, pairs_csv):
        if not needed.is_file():
            raise InvalidInputError(
                f"The TED data is missing {needed}",
                hint="Point data.shared_dir (VIDREC_DATA__SHARED_DIR) at the shared data folder",
            )
    with main_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    talks: list[TedTalk] = []
    with pairs_csv.open(encoding="utf-8", newline="") as fh:
        for pair in csv.DictReader(fh):
            index = int(pair["csv_index"])
            path = ted / pair["path"]
            if not 0 <= index < len(rows) or not path.is_file():
                log.warning("TED pair %s -> %s skipped: row or file missing", index, path)
                continue
            row = rows[index]
            try:
                tags = tuple(str(t).strip() for t in ast.literal_eval(row.get("tags") or "[]"))
            except (ValueError, SyntaxError):
                tags = ()
            talks.append(
                TedTalk(
                    index=index,
                    title=row["title"].strip(),
                    speaker=(row.get("speaker") or "").strip(),
                    description=" ".join((row.get("description") or "").split()),
                    tags=tags,
                    duration=float(row.get("duration") or 0),
                    published=_int(row.get("published_date")),
                    film_date=_int(row.get("film_date")),
                    event=(row.get("event") or "").strip(),
                    views=_int(row.get("views")) or 0,
                    url=(row.get("url") or "").strip(),
                    transcript=path,
                    match=(pair.get("tier") or "").strip(),
                )
            )
    talks.sort(key=lambda t: t.index)
    return talks


def _round_robin(
    talks: Sequence[TedTalk], themes: Sequence[str], n: int, exclude: set[int]
) -> list[TedTalk]:
    """Up to ``n`` talks: per theme in turn, its most-viewed talk not yet taken; then by views."""
    pool = sorted(
        (
            t
            for t in talks
            if t.match == "exact" and t.index not in exclude and not EXCLUDED_TAGS & set(t.tags)
        ),
        key=lambda t: (-t.views, t.index),
    )
    per_theme: dict[str, Iterator[TedTalk]] = {
        theme: iter([t for t in pool if theme in t.tags]) for theme in themes
    }
    chosen: list[TedTalk] = []
    taken: set[int] = set()
    while len(chosen) < n and per_theme:
        for theme in list(per_theme):
            if len(chosen) >= n:
                break
            pick = next((t for t in per_theme[theme] if t.index not in taken), None)
            if pick is None:
                del per_theme[theme]
                continue
            chosen.append(pick)
            taken.add(pick.index)
    chosen.extend(t for t in pool if t.index not in taken and len(chosen) < n)
    return chosen[:n]


def select_talks(
    talks: Sequence[TedTalk], n: int, synthetic: int
) -> tuple[list[TedTalk], list[TedTalk]]:
    """The (transcript talks, synthesised talks) of the demo; disjoint and deterministic."""
    synth = _round_robin(talks, SYNTHETIC_THEMES, synthetic, set())
    excluded = {t.index for t in synth}
    return _round_robin(talks, THEMES, n, excluded), synth


def ted_row(talk: TedTalk) -> ManifestRow:
    """The manifest row of a TED talk with its transcript from the shared data."""
    extra = {"event": talk.event, "views": str(talk.views), "transcript_match": talk.match}
    if talk.film_date is not None:
        extra["filmed"] = _iso(talk.film_date) or ""
    extra["licence"] = TED_LICENCE
    published = datetime.fromtimestamp(talk.published, tz=UTC).date() if talk.published else None
    return ManifestRow(
        id=talk.id,
        title=talk.title,
        description=talk.description,
        tags=talk.tags,
        duration=talk.duration or None,
        published=published,
        url=talk.url or None,
        language="en",
        speaker=talk.speaker or None,
        transcript_path=str(talk.transcript),
        extra={k: v for k, v in extra.items() if v},
    )


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise MissingDependencyError(
            f"Building the demo's synthesised clips needs {tool}, which is not installed",
            hint="Install it with: apt-get install espeak-ng ffmpeg (scripts/setup.sh does this)",
        )
    return found


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise MediaError(
            f"{Path(cmd[0]).name} failed building a demo clip (exit {result.returncode})",
            expected="a clean exit",
            got=lines[-1] if lines else "no output",
            hint="Run the command by hand to see why: " + " ".join(cmd[:6]) + " ...",
        )


def opening_text(transcript: Path, words: int = SYNTHETIC_WORDS) -> str:
    """The first whole sentences of a transcript, about ``words`` words long."""
    sentences = split_sentences(clean_transcript_text(transcript.read_text(encoding="utf-8")))
    taken: list[str] = []
    count = 0
    for sentence in sentences:
        if count >= words:
            break
        taken.append(sentence)
        count += len(sentence.split())
    return " ".join(taken)


def synthesise_clip(text: str, out: Path, *, title: str = "") -> Path:
    """Speak ``text`` with espeak-ng and mux it with a plain video track into ``out`` (.mp4).

    Written to a temp file and renamed, so an interrupted build leaves no half file. The text is
    kept beside the clip as ``<name>.txt`` (the reference for word error rates).
    """
    espeak, ffmpeg = _require("espeak-ng"), _require("ffmpeg")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as tmp:
        text_file, wav, mp4 = Path(tmp) / "text.txt", Path(tmp) / "speech.wav", Path(tmp) / "c.mp4"
        text_file.write_text(text, encoding="utf-8")
        _run([espeak, "-v", "en-us", "-w", str(wav), "-f", str(text_file)])
        _run(
            [
                ffmpeg, "-nostdin", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", "color=c=0x1f2a44:s=320x180:r=5",
                "-i", str(wav), "-shortest",
                "-c:v", "mpeg4", "-q:v", "10", "-c:a", "aac", "-b:a", "64k",
                "-metadata", f"title={title}", "-metadata", f"comment={SYNTHETIC_NOTE}",
                "-movflags", "+faststart", str(mp4),
            ]
        )  # fmt: skip
        os.replace(mp4, out)
        out.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
    return out


def _synthetic_row(talk: TedTalk, media_dir: Path) -> ManifestRow:
    clip = media_dir / f"{talk.id}.mp4"
    reuse = clip.is_file() and clip.with_suffix(".txt").is_file()
    if reuse:
        try:
            info = probe(clip)
            reuse = info.has_audio and info.duration > 0
        except MediaError:
            reuse = False
    if not reuse:
        log.info("synthesising %s (%s)", clip.name, talk.title)
        synthesise_clip(opening_text(talk.transcript), clip, title=talk.title)
        info = probe(clip)
    base = ted_row(talk)
    extra = dict(base.extra)
    extra.update(
        {
            "original_duration": str(int(talk.duration)),
            "synthetic_source": "espeak-ng reading the first ~45 s of the TED transcript",
        }
    )
    return ManifestRow(
        id=talk.id,
        title=talk.title,
        description=f"{SYNTHETIC_NOTE} {talk.description}".strip(),
        tags=talk.tags,
        duration=round(info.duration, 2),
        published=base.published,
        url=base.url,
        language="en",
        speaker=base.speaker,
        media_path=str(clip),
        synthetic_audio=True,
        extra=extra,
    )


def librivox_rows(shared_dir: Path, media_dir: Path) -> list[ManifestRow]:
    """The LibriVox clips (real read speech, public domain) as audio items.

    The clips (a few seconds each) are copied into ``media_dir``: the app and the API play local
    files only from the library's own folders, and the shared data folder is not one of them.
    """
    folder = shared_dir / "speech" / "librivox"
    rows: list[ManifestRow] = []
    for source in sorted(folder.glob("*.wav")):
        wav = media_dir / "librivox" / source.name
        if not wav.is_file() or wav.stat().st_size != source.stat().st_size:
            wav.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, wav)
        excerpt = wav.stem.rsplit("-", 1)[-1]
        rows.append(
            ManifestRow(
                id=f"librivox-{excerpt}",
                title=f"Sense and Sensibility, read excerpt {excerpt}",
                description="A few seconds of Jane Austen's Sense and Sensibility (chapter 1) "
                "read aloud for LibriVox. Real recorded speech, public domain.",
                tags=("audiobook", "literature", "Jane Austen"),
                duration=round(probe(wav).duration, 2),
                language="en",
                speaker="LibriVox volunteer",
                media_path=str(wav),
                extra={"licence": "public domain (LibriVox)", "source": "pocketsphinx test data"},
            )
        )
    if not rows:
        log.warning("no LibriVox clips under %s; the demo has no real recorded speech", folder)
    return rows


def build_demo_library(
    shared_dir: Path,
    out_dir: Path,
    *,
    talks: int = DEFAULT_TALKS,
    synthetic: int = DEFAULT_SYNTHETIC,
    full: bool = False,
) -> Path:
    """Write the demo's generated media and manifest under ``out_dir``; return the manifest path.

    Args:
        shared_dir: the public data folder (``Settings().data.shared_dir``).
        out_dir: a folder in the data directory; only files under it are written.
        talks: how many TED talks with transcripts (ignored when ``full``).
        synthetic: how many talks get an espeak-ng audio track instead of their transcript.
        full: every TED talk that has a transcript.

    Raises:
        InvalidInputError: the TED files are missing from ``shared_dir``.
        MissingDependencyError: espeak-ng or ffmpeg is not installed (only when ``synthetic``).
    """
    shared_dir, out_dir = Path(shared_dir), Path(out_dir)
    all_talks = load_ted(shared_dir)
    chosen, synth = select_talks(all_talks, len(all_talks) if full else talks, synthetic)
    if full:
        excluded = {t.index for t in synth}
        chosen = [t for t in all_talks if t.index not in excluded]
    rows = [ted_row(t) for t in sorted(chosen, key=lambda t: t.index)]
    media_dir = out_dir / "media"
    rows += [_synthetic_row(t, media_dir) for t in synth]
    rows += librivox_rows(shared_dir, media_dir)
    path = write_manifest(rows, out_dir / MANIFEST_NAME)
    log.info(
        "demo library: %d transcript talks, %d synthesised, %d LibriVox clips -> %s",
        len(chosen),
        len(synth),
        len(rows) - len(chosen) - len(synth),
        path,
    )
    return path

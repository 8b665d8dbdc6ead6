"""TED known-item search: find a talk from its description, in an index of transcripts only.

Data: ``ted/ted_main.csv`` (metadata) and ``ted/talk_transcripts.csv`` (``csv_index`` -> the
transcript file of that row, 2,098 pairs). Every paired talk is indexed from its transcript alone:
the manifest row carries an opaque title (``"talk <csv_index>"``), no description and no tags, and
the library's metadata chunk is switched off, so neither the title nor the description is
searchable. The query is the talk's description (never its title); the one relevant item is the
talk itself. Metrics: Recall@1, Recall@10 and MRR (over the top 100), with 95 % percentile
bootstrap intervals of Recall@1 and MRR.

Every system also runs on the descriptions with the speaker's name taken out (``<system>/no-speaker``),
since a description often names its speaker and a transcript rarely does. ``hybrid`` is the
library's search as configured (by default the z-scores of the best chunk, the centroid and
whole-video BM25, docs/search.md); ``hybrid-rrf`` the same rankings fused by reciprocal ranks with
weights 1/1/1 (the default before the 2,092-talk run); ``hybrid-chunk`` the search with the
whole-video rankings weighted 0, i.e. each talk scored by its best chunk (the search before
whole-video evidence).
"""

from __future__ import annotations

import csv
import html
import json
import logging
import random
import re
import time
from pathlib import Path

from rich.progress import Progress

from agent.settings import Settings
from agent.types import Message
from evaluation.cache import file_sha256, text_sha256
from evaluation.report import EvalReport
from evaluation.runner import (
    EvalOptions,
    choose_systems,
    index_library,
    new_report,
    run_system,
    sample,
)
from evaluation.systems import RankRequest
from evaluation.ted_rows import (
    DEFAULT_SYSTEMS,
    SYSTEMS,
    K,
    Talk,
    build_systems,
    score_system,
)
from evaluation.workspace import EvalError, prepare_workspace, workspace_name
from retrieval.errors import InvalidInputError
from retrieval.transcripts import read_transcript

log = logging.getLogger(__name__)


def load_talks(ted_dir: str | Path) -> list[Talk]:
    """The talks of ``ted_main.csv`` that ``talk_transcripts.csv`` pairs with a transcript."""
    ted_dir = Path(ted_dir)
    main_csv, pairs_csv = ted_dir / "ted_main.csv", ted_dir / "talk_transcripts.csv"
    missing = [p.name for p in (main_csv, pairs_csv) if not p.is_file()]
    if missing:
        raise EvalError(
            f"Not a TED data folder: {ted_dir}",
            expected="ted_main.csv and talk_transcripts.csv (with the transcripts they name)",
            got="missing " + ", ".join(missing),
            hint="Use --data ../shared/data/ted",
        )
    with main_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    talks: list[Talk] = []
    with pairs_csv.open(newline="", encoding="utf-8") as fh:
        for lineno, pair in enumerate(csv.DictReader(fh), start=2):
            try:
                index = int(pair["csv_index"])
                row = rows[index]
            except (KeyError, ValueError, IndexError):
                raise EvalError(
                    f"{pairs_csv}:{lineno}: csv_index does not name a row of ted_main.csv",
                    expected=f"a 0-based row number below {len(rows)}",
                    got=repr(pair.get("csv_index")),
                ) from None
            transcript = ted_dir / pair["path"]
            description = " ".join(html.unescape(row.get("description") or "").split())
            if not description or not transcript.is_file():
                log.debug("skipping TED row %d: no description or transcript", index)
                continue
            talks.append(
                Talk(
                    id=f"ted-{index}",
                    csv_index=index,
                    description=description,
                    transcript=transcript.resolve(),
                    duration=float(row["duration"]) if row.get("duration") else None,
                    views=int(row.get("views") or 0),
                    speaker=" ".join(html.unescape(row.get("speaker") or "").split()),
                )
            )
    if not talks:
        raise EvalError(
            f"No TED talk with a transcript in {ted_dir}",
            expected="rows of talk_transcripts.csv whose transcript file exists",
            got="none",
        )
    return talks


def without_speaker(text: str, speaker: str) -> str:
    """``text`` with the speaker's full name and each part of it (as whole words) removed."""
    parts = [speaker, *speaker.split()] if speaker.strip() else []
    for part in sorted(set(parts), key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def has_speech(talk: Talk) -> bool:
    """Whether the library's transcript reader finds spoken text in the talk's transcript (a
    music or dance performance has only stage directions, and nothing to index)."""
    try:
        read_transcript(talk.transcript, talk.duration)
    except InvalidInputError:
        return False
    return True


def manifest_line(talk: Talk) -> str:
    """Transcript-only row: an opaque title, no description, no tags."""
    row: dict[str, object] = {
        "id": talk.id,
        "title": f"talk {talk.csv_index}",
        "transcript_path": str(talk.transcript),
        "language": "en",
    }
    if talk.duration:
        row["duration"] = talk.duration
    return json.dumps(row, sort_keys=True)


def run_ted(options: EvalOptions, settings: Settings, progress: Progress) -> EvalReport:
    talks = load_talks(options.data)
    queried = sample(talks, options.limit, options.seed)
    indexed = talks
    if options.max_talks is not None and options.max_talks < len(talks):
        if options.max_talks < len(queried):
            raise EvalError(
                "--max-talks is smaller than the number of queries",
                expected=f"at least --limit ({len(queried)}) talks in the index",
                got=str(options.max_talks),
            )
        chosen = {t.id for t in queried}
        rest = [t for t in talks if t.id not in chosen]
        extra = random.Random(options.seed + 1).sample(rest, options.max_talks - len(queried))
        chosen |= {t.id for t in extra}
        indexed = [t for t in talks if t.id in chosen]
    silent = {t.id for t in indexed if not has_speech(t)}
    indexed = [t for t in indexed if t.id not in silent]
    queried = [t for t in queried if t.id not in silent]
    wanted = choose_systems(options, SYSTEMS, DEFAULT_SYSTEMS)

    lines = [manifest_line(t) for t in indexed]
    content = text_sha256(*lines, *(file_sha256(t.transcript) for t in indexed))
    report = new_report(
        options,
        file_sha256(Path(options.data) / "talk_transcripts.csv"),
        len(queried),
        len(talks),
        settings,
    )
    report.dataset = {
        "talks_with_transcript": len(talks),
        "talks_indexed": len(indexed),
        "queries": len(queried),
        "index_content_sha256": content,
    }
    if silent:
        report.notes.append(
            f"left out {len(silent)} talk(s) whose transcript holds no spoken text "
            f"(performances): {', '.join(sorted(silent))}"
        )
    report.notes.append(
        "index = transcripts only (opaque titles, no description/tags, metadata chunk off); "
        "query = the talk's description; relevant = that talk"
    )
    ev_settings = prepare_workspace(settings, workspace_name("ted", content, settings), lines)
    ev_settings = ev_settings.model_copy(
        update={"ingest": ev_settings.ingest.model_copy(update={"metadata_chunk": False})}
    )
    report.settings = ev_settings.redacted()
    library = None
    if any(s != "popularity" for s in wanted):
        library = index_library(
            report, ev_settings, lines, progress, f"{len(indexed)} TED transcripts"
        )

    variants = {
        "": [t.description for t in queried],
        "/no-speaker": [
            without_speaker(t.description, t.speaker) or t.description for t in queried
        ],
    }
    systems, llms = build_systems(wanted, library, ev_settings, indexed, settings)
    for suffix, queries in variants.items():
        if library is not None and any(s.name != "popularity" for s in systems):
            # every system embeds the same descriptions: in batches once, from the cache after
            clock = time.perf_counter()
            library.embed_queries(queries)
            report.notes.append(
                f"queries{suffix or ''}: {len(queries)} embedded once in batches "
                f"({time.perf_counter() - clock:.0f}s, not in any system's time)"
            )
        requests = [
            RankRequest(id=t.id + suffix, query=q, context=(Message("user", q),))
            for t, q in zip(queried, queries, strict=True)
        ]
        for system in systems:
            k = 50 if system.name == "vidrec" else K
            ranked = run_system(system, requests, k, progress)
            report.systems.append(
                score_system(system.name + suffix, system.description, requests, ranked)
            )
            if ranked.errors:
                report.notes.append(
                    f"{system.name}{suffix}: {ranked.errors} case(s) failed, first: "
                    f"{ranked.first_error}"
                )
    sides = [
        side
        for side, on in (("model", options.adapt_embedder), ("queries", options.adapt_queries))
        if on
    ]
    if sides and library is not None:
        from evaluation.ted_adapt import adapted_rows

        for side in sides:
            report.systems.extend(
                adapted_rows(
                    report,
                    options,
                    settings,
                    content,
                    lines,
                    library,
                    indexed,
                    queried,
                    variants,
                    progress,
                    side,
                )
            )
    changed = sum(q != t.description for q, t in zip(variants["/no-speaker"], queried, strict=True))
    report.dataset["queries_naming_their_speaker"] = changed
    for llm in llms:
        report.prompts_used = sorted(set(report.prompts_used) | llm.tags)
    return report

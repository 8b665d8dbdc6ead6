"""TED chat: find the talk a user half remembers, over a conversation, through the product's turn.

Data: ``evaluation/data/ted_conversations.jsonl`` (requests written like chat messages from details
of a talk's transcript, never its title or speaker) over the TED index built here: a seeded sample
of the talks that ``ted/talk_transcripts.csv`` pairs with a transcript (``--max-talks``, 400 by
default), plus every target and watched talk. Unlike ``vidrec eval ted`` the talks are indexed as
a user would add them: title, speaker, description, tags and transcript (the library's metadata
chunk on). Each request kind:

* ``recall``: one turn describing a talk half remembered;
* ``constrained``: one turn with a length or topic limit the target satisfies;
* ``watched``: an earlier turn describes a talk the user already watched, a later one asks for
  something else; the watched talk must not be recommended.

Rows marked ``"split": "heldout"`` were written after the parser change that the first rows
prompted (its reading of "I watched the one ..."); ``"heldout2"`` after every later product
change. Each batch is also scored on its own.

Systems: ``vidrec``, the product's conversational turn (``Recommender.rank``: parser-first
understanding with the CPU default settings, references, exclusion, the fused search, the
ranking; LLM calls, if any, cached by input), and ``tfidf``, scikit-learn's TF-IDF over title +
description + tags + transcript of the same talks with the user turns joined as the query and no
constraint handling. Metrics: hit@1, hit@5 and MRR with 95 % bootstrap intervals, overall and per
kind, and the top-5 picks that break a stated length, topic or watched constraint.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import Progress

from agent.settings import Settings
from evaluation.agent_hitrate import conversation
from evaluation.cache import file_sha256, text_sha256
from evaluation.labelled import read_labelled
from evaluation.metrics import bootstrap_ci, hit_at_k, reciprocal_rank
from evaluation.report import EvalReport, SystemResult
from evaluation.runner import (
    EvalOptions,
    choose_systems,
    index_library,
    make_vidrec,
    new_report,
    run_system,
    sample,
)
from evaluation.systems import RankRequest, System, TfidfSystem, VidrecSystem, timing_note
from evaluation.workspace import EvalError, prepare_workspace, workspace_name
from retrieval.demo import TedTalk, load_ted, ted_row
from retrieval.errors import InvalidInputError
from retrieval.transcripts import read_transcript

log = logging.getLogger(__name__)

REQUESTS = Path(__file__).resolve().parent / "data" / "ted_conversations.jsonl"
KINDS = ("recall", "constrained", "watched")
DEFAULT_TALKS = 400
SYSTEMS = ("tfidf", "vidrec")
K = 50


@dataclass(frozen=True)
class Constraint:
    """A limit the request states: minutes (either side) and/or a topic (a TED tag) to keep to."""

    max_minutes: float | None = None
    min_minutes: float | None = None
    topic: str | None = None  # a TED tag every pick should carry (lower case)


@dataclass(frozen=True)
class ChatRequest:
    """One labelled request: the user's turns (oldest first), the talk meant and what it rules out."""

    id: str
    kind: str
    turns: tuple[str, ...]
    target: str  # "ted-<csv_index>", as in ``vidrec eval ted``
    watched: str | None = None
    constraint: Constraint | None = None
    split: str = "dev"  # "heldout", "heldout2": batches written after product changes


def _chat_request(raw: dict[str, Any]) -> ChatRequest:
    limit = raw.get("constraint")
    return ChatRequest(
        id=str(raw["id"]),
        kind=str(raw["kind"]),
        turns=tuple(str(t) for t in raw["turns"]),
        target=str(raw["target"]),
        watched=raw.get("watched"),
        constraint=Constraint(**limit) if limit else None,
        split=str(raw.get("split", "dev")),
    )


def load_requests(path: Path = REQUESTS) -> list[ChatRequest]:
    """The labelled set; a malformed line is an error naming its line."""
    rows = read_labelled(
        path,
        _chat_request,
        what="a TED chat request",
        expected='{"id", "kind", "turns": [...], "target", "watched"?, "constraint"?}',
        error=EvalError,
    )
    for line_no, request in rows:
        if request.kind not in KINDS or not request.turns:
            raise EvalError(
                f"{path}:{line_no}: request {request.id} has kind {request.kind!r} or no turns",
                expected=f"kind one of {', '.join(KINDS)} and at least one turn",
                got=f"kind={request.kind!r}, {len(request.turns)} turn(s)",
            )
    return [request for _, request in rows]


def _speaks(talk: TedTalk) -> bool:
    """Whether the transcript holds spoken text (a performance has only stage directions)."""
    try:
        read_transcript(talk.transcript, talk.duration or None)
    except InvalidInputError:
        return False
    return True


def index_talks(
    talks: Sequence[TedTalk], requests: Sequence[ChatRequest], size: int, seed: int = 0
) -> list[TedTalk]:
    """A seeded sample of ``size`` talks with speech, plus every target and watched talk.

    The sample does not depend on the requests, so editing the set changes the index only by the
    talks it adds (an unchanged workspace, or one seeded from it, is reused).
    """
    by_id = {t.id: t for t in talks}
    named = {i for r in requests for i in (r.target, r.watched) if i}
    unknown = sorted(named - set(by_id))
    if unknown:
        raise EvalError(
            "Requests name talks without a transcript",
            expected="ted-<csv_index> ids that talk_transcripts.csv pairs with a transcript",
            got=", ".join(unknown[:5]),
        )
    pool = sorted(talks, key=lambda t: t.index)
    random.Random(seed).shuffle(pool)
    chosen: dict[str, TedTalk] = {}
    for talk in pool:
        if len(chosen) >= size:
            break
        if _speaks(talk):
            chosen[talk.id] = talk
    for talk_id in sorted(named):
        chosen.setdefault(talk_id, by_id[talk_id])
    return sorted(chosen.values(), key=lambda t: t.index)


def manifest_lines(talks: Sequence[TedTalk]) -> list[str]:
    """The talks as a user would index them: metadata and transcript (``retrieval.demo``)."""
    return [json.dumps(ted_row(t).to_json(), sort_keys=True, ensure_ascii=False) for t in talks]


def whole_text(talk: TedTalk) -> str:
    """Title + description + tags + transcript: what the TF-IDF baseline indexes per talk."""
    spoken = read_transcript(talk.transcript, talk.duration or None).text
    return " ".join((talk.title, talk.description, " ".join(talk.tags), spoken))


@dataclass
class Violations:
    """Top-5 picks that break what the request stated."""

    length: int = 0
    topic: int = 0
    watched: int = 0

    @property
    def total(self) -> int:
        return self.length + self.topic + self.watched


def violations(
    request: ChatRequest, top: Sequence[str], talks: Mapping[str, TedTalk], k: int = 5
) -> Violations:
    """How many of the first ``k`` picks break the request's length, topic or watched limit."""
    out = Violations()
    limit = request.constraint
    for video_id in top[:k]:
        if video_id == request.watched:
            out.watched += 1
        talk = talks.get(video_id)
        if limit is None or talk is None:
            continue
        minutes = talk.duration / 60
        if (limit.max_minutes is not None and minutes > limit.max_minutes) or (
            limit.min_minutes is not None and minutes < limit.min_minutes
        ):
            out.length += 1
        if limit.topic is not None and limit.topic not in {t.lower() for t in talk.tags}:
            out.topic += 1
    return out


def score(
    name: str,
    description: str,
    requests: Sequence[ChatRequest],
    lists: Sequence[Sequence[str]],
    talks: Mapping[str, TedTalk],
    wall_s: float,
) -> list[SystemResult]:
    """One result over all requests, then one per kind (``<name>/<kind>``) and one per held-out
    batch (``<name>/heldout``, ``<name>/heldout2``)."""
    results = []
    groups = [("", list(range(len(requests))))] + [
        (f"/{kind}", [i for i, r in enumerate(requests) if r.kind == kind]) for kind in KINDS
    ]
    for split in sorted({r.split for r in requests} - {"dev"}):
        groups.append((f"/{split}", [i for i, r in enumerate(requests) if r.split == split]))
    for suffix, rows in groups:
        if not rows:
            continue
        metrics: dict[str, float] = {}
        for metric, values in (
            ("hit@1", [hit_at_k(lists[i], [requests[i].target], 1) for i in rows]),
            ("hit@5", [hit_at_k(lists[i], [requests[i].target], 5) for i in rows]),
            ("MRR", [reciprocal_rank(lists[i], [requests[i].target]) for i in rows]),
        ):
            metrics[metric] = sum(values) / len(values)
            metrics[f"{metric} lo"], metrics[f"{metric} hi"] = bootstrap_ci(values)
        broken = [violations(requests[i], lists[i], talks) for i in rows]
        metrics["top5 length viol."] = float(sum(v.length for v in broken))
        metrics["top5 topic viol."] = float(sum(v.topic for v in broken))
        metrics["top5 watched"] = float(sum(v.watched for v in broken))
        results.append(SystemResult(name + suffix, description, metrics, len(rows), wall_s))
    return results


def run_ted_chat(options: EvalOptions, settings: Settings, progress: Progress) -> EvalReport:
    requests = sample(load_requests(REQUESTS), options.limit, options.seed)
    talks = load_ted(Path(options.data).parent)
    indexed = index_talks(talks, requests, options.max_talks or DEFAULT_TALKS, options.seed)
    by_id = {t.id: t for t in indexed}
    lines = manifest_lines(indexed)
    content = text_sha256(*lines, *(file_sha256(t.transcript) for t in indexed))
    wanted = choose_systems(options, SYSTEMS)
    report = new_report(options, file_sha256(REQUESTS), len(requests), len(talks), settings)
    report.dataset = {
        "requests": len(requests),
        **{f"requests_{kind}": sum(r.kind == kind for r in requests) for kind in KINDS},
        "talks_indexed": len(indexed),
        "index_content_sha256": content,
    }
    report.notes.append(
        "index = title, speaker, description, tags and transcript of each talk (metadata chunk "
        "on); requests describe transcript details, never the title or speaker; relevant = the "
        "one talk meant; watched = a talk an earlier turn says was seen (must not be picked)"
    )
    ev_settings = prepare_workspace(settings, workspace_name("ted-chat", content, settings), lines)
    report.settings = ev_settings.redacted()
    library = index_library(report, ev_settings, lines, progress, f"{len(indexed)} TED talks")
    cases = [
        RankRequest(
            id=f"ted-chat-{r.id}",
            query=" ".join(r.turns),
            context=tuple(conversation(r.turns)),
        )
        for r in requests
    ]
    cases_out: dict[str, dict[str, list[str]]] = {r.id: {} for r in requests}
    for name in wanted:
        system: System
        vidrec: VidrecSystem | None = None
        if name == "tfidf":
            system = TfidfSystem(
                {t.id: whole_text(t) for t in indexed},
                "TF-IDF (scikit-learn, English stop-words, sublinear tf) over title + description "
                "+ tags + transcript; the user turns joined as the query; no constraint handling",
            )
        else:
            vidrec, llm = make_vidrec(ev_settings, library, settings)
            system = vidrec
        ranked = run_system(system, cases, K, progress)
        report.systems += score(
            name, system.description, requests, ranked.lists, by_id, ranked.wall_s
        )
        if vidrec is not None:
            report.prompts_used = sorted(set(report.prompts_used) | llm.tags)
            report.notes.append(timing_note([vidrec]))
        if ranked.errors:
            report.notes.append(
                f"{name}: {ranked.errors} case(s) failed, first: {ranked.first_error}"
            )
        for request, top in zip(requests, ranked.lists, strict=True):
            cases_out[request.id][name] = top[:5]
    details = ev_settings.data_dir / "ted_chat_top5.json"
    details.write_text(json.dumps(cases_out, indent=1), encoding="utf-8")
    report.notes.append(f"each request's top 5 per system: {details}")
    library.close()
    return report

"""Hit rate@5 of the recommending agent on conversational requests about TED talks.

``evaluation/ted_requests.jsonl`` holds requests written from TED talk metadata (one or more user
turns, the talk ids ``ted-<csv_index>`` that answer them, and for some a talk the user liked
before). This harness builds a TED index (the targets, the liked talks and distractors: the demo's
topically varied subset plus a seeded random sample, transcripts from ``shared/data``) in its own
data directory with the real embedder, then asks every request through ``Recommender.rank`` with
the configured LLM (the CPU default: llama.cpp, Qwen2.5-0.5B) in four variants:

* LLM rerank off / on (``settings.agent.rerank``),
* without / with history (the liked talk recorded as a ``like`` before the turn).

A request counts as a hit when one of its targets is in the top 5. The understanding call is made
once per request and shared by the variants; a variant whose candidate list equals another's reuses
its rerank. It then streams full answers (reply + 5 reasons) for a few requests and reports the time
to the first token of the reply and to the whole 5-item answer.

    python -m evaluation.agent_hitrate [--limit N] [--latency N] [--json PATH]
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from agent.recommender import Recommender
from agent.settings import Settings
from agent.types import Message, TurnUnderstanding
from evaluation.labelled import read_labelled
from retrieval.demo import TedTalk, load_ted, select_talks, ted_row
from retrieval.errors import InvalidInputError
from retrieval.manifest import ManifestRow, write_manifest

log = logging.getLogger(__name__)

REQUESTS = Path(__file__).resolve().parent / "ted_requests.jsonl"
K = 5
ASSISTANT_PLACEHOLDER = "Here are a few talks you might like."
VARIANTS = ("base", "rerank", "history", "history+rerank")


@dataclass(frozen=True)
class Request:
    id: str
    turns: tuple[str, ...]
    targets: tuple[str, ...]
    liked: tuple[str, ...] = ()

    def conversation(self) -> list[Message]:
        return conversation(self.turns)


def conversation(turns: Sequence[str], replies: Sequence[str] = ()) -> list[Message]:
    """User turns with an assistant reply between them (``replies[i]`` after turn ``i``, else a
    placeholder)."""
    messages: list[Message] = []
    for i, turn in enumerate(turns):
        if i:
            reply = replies[i - 1] if i - 1 < len(replies) else ASSISTANT_PLACEHOLDER
            messages.append(Message("assistant", reply))
        messages.append(Message("user", turn))
    return messages


@dataclass
class Outcome:
    id: str
    targets: list[str]
    search_text: str
    ranked: dict[str, list[str]] = field(default_factory=dict)  # variant -> top-5 ids
    hit: dict[str, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def load_requests(path: Path = REQUESTS) -> list[Request]:
    rows = read_labelled(
        path,
        lambda raw: Request(
            id=str(raw["id"]),
            turns=tuple(raw["turns"]),
            targets=tuple(raw["targets"]),
            liked=tuple(raw.get("liked", ())),
        ),
        what="a request",
        expected='{"id", "turns": [...], "targets": [...], "liked": [...]}',
        error=InvalidInputError,
    )
    return [request for _, request in rows]


def interleave(requests: Sequence[Request]) -> list[Request]:
    """Round-robin over the id prefixes (s, m, h), so that a --limit run is a fair sample."""
    groups: dict[str, list[Request]] = {}
    for r in requests:
        groups.setdefault(r.id.rstrip("0123456789"), []).append(r)
    out: list[Request] = []
    while any(groups.values()):
        for group in groups.values():
            if group:
                out.append(group.pop(0))
    return out


def _metadata_rows(shared_dir: Path, indices: Sequence[int]) -> list[ManifestRow]:
    """Rows indexed from metadata only (talks without a transcript in the shared data)."""
    import ast

    with (shared_dir / "ted" / "ted_main.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for i in indices:
        row = rows[i]
        published = row.get("published_date")
        out.append(
            ManifestRow(
                id=f"ted-{i}",
                title=row["title"].strip(),
                description=" ".join(row["description"].split()),
                tags=tuple(ast.literal_eval(row["tags"] or "[]")),
                duration=float(row["duration"]) or None,
                published=(
                    datetime.fromtimestamp(int(published), tz=UTC).date() if published else None
                ),
                url=row["url"].strip() or None,
                language="en",
                speaker=row["speaker"].strip() or None,
            )
        )
    return out


def build_manifest(
    shared_dir: Path, out_dir: Path, requests: Sequence[Request], talks: int, seed: int = 7
) -> Path:
    """Targets + liked talks + the demo subset + a seeded random sample, up to ``talks`` talks."""
    all_talks = load_ted(shared_dir)
    by_id = {t.id: t for t in all_talks}
    wanted = list(dict.fromkeys(t for r in requests for t in (*r.targets, *r.liked)))
    chosen: dict[str, TedTalk] = {i: by_id[i] for i in wanted if i in by_id}
    missing = [i for i in wanted if i not in by_id]
    demo, _ = select_talks(all_talks, 60, 0)
    for talk in demo:
        if len(chosen) + len(missing) >= talks:
            break
        chosen.setdefault(talk.id, talk)
    pool = [t for t in all_talks if t.id not in chosen and t.match == "exact"]
    random.Random(seed).shuffle(pool)
    for talk in pool:
        if len(chosen) + len(missing) >= talks:
            break
        chosen[talk.id] = talk
    rows = [ted_row(t) for t in sorted(chosen.values(), key=lambda t: t.index)]
    rows += _metadata_rows(shared_dir, [int(i.split("-")[1]) for i in missing])
    return write_manifest(rows, out_dir / "manifest.jsonl")


def eval_settings(base: Settings, data_dir: Path) -> Settings:
    return base.model_copy(
        update={
            "data_dir": data_dir,
            "models_cache": base.models_dir,
            "sql": base.sql.model_copy(update={"url": None}),
        }
    )


def open_ted(data_dir: Path | None, talks: int) -> tuple[Recommender, Settings]:
    """The Recommender over the TED eval index of the labelled requests' talks (built or brought
    up to date here, with one line saying what the ingest did)."""
    base = Settings()
    settings = eval_settings(base, data_dir or base.data_dir / "eval" / "agent-ted")
    manifest = build_manifest(
        base.data.shared_dir, settings.data_dir / "manifest", load_requests(), talks
    )
    rec = Recommender(settings)
    clock = time.perf_counter()
    ingest = rec.ingest([], manifest=manifest)
    print(
        f"index: {len(rec.library.videos())} talks ({len(ingest.ingested)} ingested now, "
        f"{len(ingest.unchanged)} unchanged, {len(ingest.failed)} failed) in "
        f"{time.perf_counter() - clock:.1f}s; LLM {settings.llm.backend}/{settings.llm.model} "
        f"on {settings.llm.device}, {settings.llm.threads} threads",
        flush=True,
    )
    return rec, settings


def _top(
    rec: Recommender, request: Request, user: str, rerank: bool, u: TurnUnderstanding
) -> tuple[list[str], float]:
    clock = time.perf_counter()
    ranked = rec.rank(request.conversation(), user, k=K, rerank=rerank, understanding=u)
    return [c.video.id for c in ranked.candidates], time.perf_counter() - clock


def run_request(rec: Recommender, request: Request, run_id: str) -> Outcome:
    plain, known = f"eval-{run_id}-{request.id}-n", f"eval-{run_id}-{request.id}-h"
    for liked in request.liked:
        rec.feedback(known, liked, "like")
    clock = time.perf_counter()
    first = rec.rank(request.conversation(), plain, k=K, rerank=False)
    u = first.understanding
    outcome = Outcome(request.id, list(request.targets), u.search_text)
    outcome.ranked["base"] = [c.video.id for c in first.candidates]
    outcome.seconds["understand"] = first.timings.get("understand", 0.0)
    outcome.seconds["base"] = time.perf_counter() - clock - outcome.seconds["understand"]
    outcome.ranked["rerank"], outcome.seconds["rerank"] = _top(rec, request, plain, True, u)
    if request.liked:
        outcome.ranked["history"], outcome.seconds["history"] = _top(rec, request, known, False, u)
        outcome.ranked["history+rerank"], outcome.seconds["history+rerank"] = _top(
            rec, request, known, True, u
        )
    else:  # no history: the same lists
        outcome.ranked["history"] = outcome.ranked["base"]
        outcome.ranked["history+rerank"] = outcome.ranked["rerank"]
    for variant, ids in outcome.ranked.items():
        outcome.hit[variant] = bool(set(ids[:K]) & set(request.targets))
    for user in (plain, known):
        rec.users_store.forget(user)  # SQL rows only: no model or cache in the eval dir
    return outcome


@dataclass
class Latency:
    first_token_s: list[float] = field(default_factory=list)
    full_answer_s: list[float] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    stages: list[dict[str, float]] = field(default_factory=list)


def measure_latency(rec: Recommender, requests: Sequence[Request], run_id: str) -> Latency:
    """Stream whole answers (reply + K reasons) with the default settings."""
    out = Latency()
    for request in requests:
        user = f"eval-{run_id}-{request.id}-lat"
        start = time.perf_counter()
        first: float | None = None
        items = 0
        for event in rec.stream(request.conversation(), user, k=K):
            if event.kind == "text" and first is None and event.text.strip():
                first = time.perf_counter() - start
            elif event.kind == "recommendation":
                items += 1
            elif event.kind == "done" and event.answer is not None:
                out.stages.append(event.answer.timings)
            elif event.kind == "error":
                log.warning("latency run %s failed: %s", request.id, event.text)
        out.full_answer_s.append(time.perf_counter() - start)
        out.first_token_s.append(first if first is not None else float("nan"))
        out.items.append(items)
        rec.users_store.forget(user)  # SQL rows only: no model or cache in the eval dir
    return out


def _rate(outcomes: Sequence[Outcome], variant: str) -> float:
    return sum(o.hit[variant] for o in outcomes) / len(outcomes) if outcomes else float("nan")


def report(
    outcomes: Sequence[Outcome], requests: Sequence[Request], latency: Latency | None
) -> dict[str, object]:
    with_history = {r.id for r in requests if r.liked}
    subset = [o for o in outcomes if o.id in with_history]
    table = {v: {"all": _rate(outcomes, v), "history_requests": _rate(subset, v)} for v in VARIANTS}
    result: dict[str, object] = {
        "requests": len(outcomes),
        "history_requests": len(subset),
        "hit_rate_at_5": table,
        "outcomes": [asdict(o) for o in outcomes],
    }
    if latency is not None and latency.full_answer_s:
        result["latency"] = {
            "runs": len(latency.full_answer_s),
            "first_token_s_median": statistics.median(latency.first_token_s),
            "full_answer_s_median": statistics.median(latency.full_answer_s),
            "first_token_s": latency.first_token_s,
            "full_answer_s": latency.full_answer_s,
            "items": latency.items,
            "stages_mean": {
                stage: statistics.fmean(s.get(stage, 0.0) for s in latency.stages)
                for stage in sorted({k for s in latency.stages for k in s})
            },
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.agent_hitrate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N requests")
    parser.add_argument(
        "--talks", type=int, default=100, help="talks in the index (targets + distractors)"
    )
    parser.add_argument(
        "--latency", type=int, default=5, help="full streamed answers to time (0: none)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="where the eval index lives")
    parser.add_argument("--json", type=Path, default=None, help="write the report here too")
    parser.add_argument("--fresh", action="store_true", help="ignore outcomes of an earlier run")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    requests = interleave(load_requests())  # any prefix mixes single, multi-turn and history
    if args.limit:
        requests = requests[: args.limit]
    shared = Settings().data.shared_dir
    if not (shared / "ted" / "ted_main.csv").is_file():
        print(f"TED data not found under {shared}; set VIDREC_DATA__SHARED_DIR", file=sys.stderr)
        return 2
    rec, settings = open_ted(args.data_dir, args.talks)
    data_dir = settings.data_dir
    run_id = datetime.now(UTC).strftime("%H%M%S")
    # outcomes are appended as they come, so an interrupted run resumes (--fresh starts over)
    partial = (
        data_dir
        / f"agent_hitrate.{settings.llm.backend}.{Path(settings.llm.model).name}.partial.jsonl"
    )
    done: dict[str, Outcome] = {}
    if partial.is_file() and not args.fresh:
        for line in partial.read_text(encoding="utf-8").splitlines():
            if line.strip():
                outcome = Outcome(**json.loads(line))
                done[outcome.id] = outcome
    elif partial.is_file():
        partial.unlink()
    outcomes = []
    clock = time.perf_counter()
    for i, request in enumerate(requests, start=1):
        outcome = done.get(request.id) or run_request(rec, request, run_id)
        if request.id not in done:
            with partial.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(asdict(outcome)) + "\n")
        outcomes.append(outcome)
        marks = " ".join(f"{v}={'Y' if outcome.hit[v] else '.'}" for v in VARIANTS)
        took = sum(outcome.seconds.values())
        print(
            f"[{i}/{len(requests)}] {request.id} {marks} {took:.1f}s q={outcome.search_text!r}",
            flush=True,
        )
    ranking_s = time.perf_counter() - clock
    latency = measure_latency(rec, requests[: args.latency], run_id) if args.latency else None
    result = report(outcomes, requests, latency)
    result["ranking_wall_s"] = ranking_s
    result["llm"] = f"{settings.llm.backend}/{settings.llm.model}"
    result["index_talks"] = len(rec.library.videos())
    rec.close()

    table = result["hit_rate_at_5"]
    assert isinstance(table, dict)
    print(
        f"\nhit rate@5 over {len(outcomes)} requests ({result['history_requests']} with a liked talk in history)"
    )
    print(f"{'variant':<16}{'all':>8}{'history reqs':>14}")
    for variant in VARIANTS:
        row = table[variant]
        print(f"{variant:<16}{row['all']:>8.3f}{row['history_requests']:>14.3f}")
    if "latency" in result:
        lat = result["latency"]
        assert isinstance(lat, dict)
        print(
            f"\nstreamed answers ({lat['runs']}, k={K}, rerank={settings.agent.rerank}): "
            f"first token median {lat['first_token_s_median']:.2f}s, "
            f"full 5-item answer median {lat['full_answer_s_median']:.2f}s"
        )
        print(
            "mean stage seconds: "
            + ", ".join(f"{k}={v:.2f}" for k, v in lat["stages_mean"].items())
        )
    out = args.json or data_dir / "agent_hitrate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"report: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

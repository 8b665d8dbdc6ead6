"""How the agent reads turns: parser alone, model alone, both, on labelled TED turns.

Three labelled sets, all asked through ``Recommender.rank`` (the product's own ranking, no rerank,
no history) over the TED index that ``python -m evaluation.agent_hitrate`` builds:

* ``evaluation/ted_requests.jsonl``: hit rate@5 (a target talk in the top 5);
* ``evaluation/data/length_requests.jsonl``: vague lengths ("not too long", "a deep dive"); a
  *violation* is a top-5 pick outside the labelled limit, a *false limit* a duration filter on a
  turn that states none ("long-term relationships");
* ``evaluation/data/reference_requests.jsonl``: multi-turn references by description ("I already
  saw the one by the astronaut ...", "more like the stress one you showed me"); the earlier picks
  are recorded as the session's impressions first. *Honoured*: an exclusion resolved to the
  labelled talk and kept it out of the top 5; a "more like" resolved to the labelled talk.

Each set runs under ``agent.understand`` = ``parser`` (no model), ``model`` (the model reads every
turn, the parser checks it) and ``auto`` (the default: the parser decides plain turns, the model
only what it cannot read).

    python -m evaluation.agent_turns [--modes parser,auto,model] [--limit N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.recommender import RankedTurn, Recommender
from agent.types import Message
from evaluation.agent_hitrate import (
    Request,
    conversation,
    interleave,
    load_requests,
    open_ted,
)
from evaluation.labelled import read_labelled
from retrieval.errors import InvalidInputError

DATA = Path(__file__).resolve().parent / "data"
LENGTHS = DATA / "length_requests.jsonl"
REFERENCES = DATA / "reference_requests.jsonl"
K = 5
MODES = ("parser", "auto", "model")


@dataclass(frozen=True)
class Labelled:
    """One labelled turn of the length or reference sets (fields as in the JSONL files)."""

    id: str
    turns: tuple[str, ...]
    max_minutes: float | None = None
    min_minutes: float | None = None
    no_limit: bool = False
    shown: tuple[str, ...] = ()
    exclude: str | None = None
    like: str | None = None


def load_labelled(path: Path) -> list[Labelled]:
    rows = read_labelled(
        path,
        lambda raw: Labelled(
            **{**raw, "turns": tuple(raw["turns"]), "shown": tuple(raw.get("shown", ()))}
        ),
        what="a labelled turn",
        expected='{"id", "turns": [...], and max_minutes, min_minutes, no_limit, shown, exclude '
        "or like}",
        error=InvalidInputError,
    )
    return [row for _, row in rows]


@dataclass
class ModeResult:
    mode: str
    hits: list[bool] = field(default_factory=list)
    length_violations: dict[str, int] = field(default_factory=dict)  # request -> bad picks
    false_limits: list[str] = field(default_factory=list)
    honoured: dict[str, bool] = field(default_factory=dict)
    model_turns: int = 0
    turns: int = 0
    understand_s: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int | str]:
        return {
            "mode": self.mode,
            "hit_rate_at_5": statistics.fmean(self.hits) if self.hits else float("nan"),
            "ted_requests": len(self.hits),
            "length_requests_violated": sum(v > 0 for v in self.length_violations.values()),
            "length_picks_violating": sum(self.length_violations.values()),
            "length_requests": len(self.length_violations),
            "false_limits": len(self.false_limits),
            "references_honoured": sum(self.honoured.values()),
            "references": len(self.honoured),
            "model_turns": self.model_turns,
            "turns": self.turns,
            "understand_s_median": statistics.median(self.understand_s)
            if self.understand_s
            else float("nan"),
        }


def run_mode(
    rec: Recommender,
    mode: str,
    ted: Sequence[Request],
    lengths: Sequence[Labelled],
    references: Sequence[Labelled],
) -> ModeResult:
    result = ModeResult(mode)
    for request in ted:
        ranked = rec.rank(request.conversation(), f"turns-{mode}-{request.id}", k=K, rerank=False)
        _count(result, ranked)
        top = {c.video.id for c in ranked.candidates}
        result.hits.append(bool(top & set(request.targets)))
    for case in lengths:
        ranked = rec.rank(conversation(case.turns), f"turns-{mode}-{case.id}", k=K, rerank=False)
        _count(result, ranked)
        limits = ranked.understanding.filters
        if case.no_limit:
            if limits.max_duration is not None or limits.min_duration is not None:
                result.false_limits.append(case.id)
            continue
        bad = 0
        for c in ranked.candidates:
            minutes = (c.video.duration or 0) / 60
            if case.max_minutes is not None and minutes > case.max_minutes:
                bad += 1
            if case.min_minutes is not None and minutes < case.min_minutes:
                bad += 1
        result.length_violations[case.id] = bad
    for case in references:
        user = f"turns-{mode}-{case.id}"
        store = rec.users_store
        session = store.start_session(user)
        store.add_turn(session, [Message("user", case.turns[0])], "", list(case.shown))
        store.record_many(user, [(v, "impression", None) for v in case.shown], session_id=session)
        titles = [v.title for v in map(rec.library.get_video, case.shown) if v is not None]
        messages = conversation(case.turns, ["Here are a few talks: " + "; ".join(titles) + "."])
        ranked = rec.rank(messages, user, k=K, rerank=False)
        _count(result, ranked)
        resolved = set(ranked.references.values())
        top = {c.video.id for c in ranked.candidates}
        if case.exclude is not None:
            result.honoured[case.id] = case.exclude in resolved and case.exclude not in top
        else:
            result.honoured[case.id] = case.like in resolved
        store.forget(user)
    return result


def _count(result: ModeResult, ranked: RankedTurn) -> None:
    result.turns += 1
    result.model_turns += ranked.understanding.source == "model"
    result.understand_s.append(ranked.timings.get("understand", 0.0))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.agent_turns", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--limit", type=int, default=None, help="first N of each set")
    parser.add_argument("--talks", type=int, default=100)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rec, settings = open_ted(args.data_dir, args.talks)
    all_requests = load_requests()
    ted, lengths, references = (
        interleave(all_requests),
        load_labelled(LENGTHS),
        load_labelled(REFERENCES),
    )
    if args.limit:
        ted, lengths, references = (
            ted[: args.limit],
            lengths[: args.limit],
            references[: args.limit],
        )
    results = []
    for mode in args.modes.split(","):
        variant = Recommender(
            settings.model_copy(
                update={"agent": settings.agent.model_copy(update={"understand": mode})}
            ),
            library=rec.library,
            llm=rec.llm if mode != "parser" else None,
            users=rec.users_store,
        )
        clock = time.perf_counter()
        result = run_mode(variant, mode, ted, lengths, references)
        results.append(result)
        print(f"{mode}: {time.perf_counter() - clock:.0f}s", flush=True)
    rows = [r.summary() for r in results]
    print(
        f"\n{'understanding':<14}{'hit@5':>7}{'length viol.':>14}{'false lim.':>11}"
        f"{'refs hon.':>11}{'model turns':>13}{'underst. p50':>14}"
    )
    for row in rows:
        print(
            f"{row['mode']:<14}{row['hit_rate_at_5']:>7.3f}"
            f"{row['length_requests_violated']:>8}/{row['length_requests']:<5}"
            f"{row['false_limits']:>11}{row['references_honoured']:>7}/{row['references']:<3}"
            f"{row['model_turns']:>9}/{row['turns']:<3}{row['understand_s_median']:>13.2f}s"
        )
    out = args.json or settings.data_dir / "agent_turns.json"
    out.write_text(
        json.dumps({"summary": rows, "details": [asdict(r) for r in results]}, indent=1),
        encoding="utf-8",
    )
    print(f"report: {out}")
    rec.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

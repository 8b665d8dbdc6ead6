"""The reason check over whole answers: are the picks' reasons supported, finished, specific?

Reads answers saved as JSON (``python -m benchmarks.agent_latency --answers PATH`` writes them:
per request its turns, the duration limits understood, and per pick the video id, the reason and
the evidence chunk id), looks each pick's video and evidence chunk up in the TED index, and runs
:func:`agent.reasons.check_reason_quality` (the product's own check) on every reason. With several
files (e.g. the old pipeline's answers and the new one's) the figures are printed side by side.

    python -m evaluation.agent_reasons --answers old.json --answers new.json [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent.reasons import ReasonCheck, check_reason_quality, summarise
from agent.settings import Settings
from agent.types import Answer
from evaluation.agent_hitrate import eval_settings
from retrieval.library import Library


def answer_row(
    request_id: str, turns: Sequence[str], answer: Answer, first_card_s: float, total_s: float
) -> dict[str, Any]:
    """One answer as the JSON this module reads."""
    filters = answer.understanding.filters if answer.understanding else None
    limits = [
        round(x / 60)
        for x in ((filters.max_duration, filters.min_duration) if filters else ())
        if x is not None
    ]
    return {
        "id": request_id,
        "turns": list(turns),
        "reply": answer.text,
        "first_card_s": first_card_s,
        "total_s": total_s,
        "timings": answer.timings,
        "source": answer.understanding.source if answer.understanding else "",
        "limits_minutes": limits,
        "picks": [
            {"video_id": r.video.id, "reason": r.reason, "chunk_id": r.evidence_chunk_id}
            for r in answer.recommendations
        ],
    }


def check_answers(rows: Sequence[dict[str, Any]], library: Library) -> list[dict[str, Any]]:
    """Every pick of every answer with its reason check."""
    out = []
    for row in rows:
        request = " ".join(row["turns"])
        allowed = [str(m) for m in row.get("limits_minutes", [])]
        for pick in row["picks"]:
            video = library.get_video(pick["video_id"])
            chunk = library.chunk(pick["chunk_id"])
            if video is None or chunk is None:
                continue
            check = check_reason_quality(
                pick["reason"], request=request, video=video, evidence=chunk.text, allowed=allowed
            )
            out.append(
                {"id": row["id"], "video_id": video.id, "reason": pick["reason"]} | asdict(check)
            )
    return out


def _checks(rows: Sequence[dict[str, Any]]) -> list[ReasonCheck]:
    fields = ReasonCheck.__dataclass_fields__
    return [ReasonCheck(**{k: v for k, v in r.items() if k in fields}) for r in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.agent_reasons", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--answers", type=Path, action="append", required=True)
    parser.add_argument("--data-dir", type=Path, default=None, help="the TED eval index")
    parser.add_argument("--min-supported", type=float, default=0.9)
    parser.add_argument("--json", type=Path, default=None, help="every pick's check")
    parser.add_argument("--show", type=int, default=3, help="failing reasons to print per file")
    args = parser.parse_args(argv)
    base = Settings()
    settings = eval_settings(base, args.data_dir or base.data_dir / "eval" / "agent-ted")
    library = Library(settings)
    table = {}
    details = {}
    for path in args.answers:
        checked = check_answers(json.loads(path.read_text(encoding="utf-8")), library)
        details[str(path)] = checked
        table[path.name] = summarise(_checks(checked), args.min_supported)
        failing = [c for c in checked if not _checks([c])[0].passes(args.min_supported)]
        for c in failing[: args.show]:
            print(f"{path.name} {c['id']} {c['video_id']}: {c['reason']!r}\n    {c['unsupported']}")
    names = list(table)
    print(f"\n{'reason check':<26}" + "".join(f"{n[:22]:>24}" for n in names))
    for label, key, fmt in (
        ("reasons", "reasons", "{:d}"),
        ("supported (mean)", "supported_mean", "{:.3f}"),
        ("cut sentences", "cut", "{:d}"),
        ("boilerplate", "boilerplate", "{:d}"),
        ("specific (share)", "specific_share", "{:.3f}"),
        (f"pass all (supp>={args.min_supported})", "passing_share", "{:.3f}"),
    ):
        print(f"{label:<26}" + "".join(f"{fmt.format(getattr(table[n], key)):>24}" for n in names))
    if args.json:
        args.json.write_text(json.dumps(details, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

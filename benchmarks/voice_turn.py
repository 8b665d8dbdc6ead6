"""Latency of one spoken turn in the chat app, stage by stage, with a raw Whisper baseline.

    python -m benchmarks.voice_turn [--clip WAV] [--repeats 3] [--talks 12] [--data-dir DIR]
                                    [--llm llamacpp|fake] [--json OUT]

A voice turn is what the chat app's microphone does (``ui.callbacks.voice_turn``): the facade's
``transcribe`` (the library's Whisper), then ``Recommender.stream`` over the transcript. Stages
come from ``Answer.timings`` (understand, retrieve, rank, rerank, reply, explain); transcription,
first token (first text delta after the stream starts) and total are timed around the calls,
exactly as the app times them for its status line.

Baseline, same run, same clip: raw ``faster_whisper.WhisperModel`` with the same model folder and
options (beam size, VAD filter, threads, compute type) decoding the file itself. The ratio
``vidrec transcription / raw faster-whisper`` is the cost of going through the facade.

Defaults are the real CPU stack (Whisper base int8, MiniLM embedder, llama.cpp Qwen2.5-0.5B). The
library is the demo subset (``--talks`` TED transcripts, no synthetic clips), built and ingested
once into ``<cache_dir>/bench-voice-turn`` (re-runs skip the unchanged ingest). Models are loaded
and warmed up before timing (their cold load times are printed too); repeats alternate baseline
and facade so load from other processes hits both alike. Medians are reported; CPU seconds (this
process) are steadier than wall seconds on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.recommender import Recommender
from agent.settings import Settings
from agent.types import Answer, Message
from retrieval.asr.faster_whisper import resolve_model_path

log = logging.getLogger(__name__)

STAGES = (
    "transcription",
    "understand",
    "retrieve",
    "rank",
    "rerank",
    "first_token",
    "cards",
    "first_card",
    "explain",
    "total",
)


@dataclass
class Timed:
    wall: float
    cpu: float


def timed(fn: Callable[[], Any]) -> tuple[Any, Timed]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, Timed(time.perf_counter() - wall, time.process_time() - cpu)


@dataclass
class TurnResult:
    transcript: str
    stages: dict[str, float]
    transcription_cpu: float
    titles: list[str] = field(default_factory=list)


def voice_turn(rec: Recommender, clip: Path, user: str) -> TurnResult:
    """One voice turn as the app runs it: transcribe, then stream the answer."""
    transcript, t = timed(lambda: rec.transcribe(clip))
    text = transcript.text.strip()
    started = time.perf_counter()
    first_token: float | None = None
    answer: Answer | None = None
    for event in rec.stream([Message("user", text)], user):
        if event.kind == "text" and first_token is None:
            first_token = time.perf_counter() - started
        elif event.kind == "error":
            raise RuntimeError(event.text)
        elif event.kind == "done":
            answer = event.answer
    total = time.perf_counter() - started
    assert answer is not None
    stages = {"transcription": t.wall, **answer.timings}
    if first_token is not None:
        stages["first_token"] = first_token
    stages["total"] = t.wall + total
    return TurnResult(
        transcript=text,
        stages=stages,
        transcription_cpu=t.cpu,
        titles=[r.video.title for r in answer.recommendations],
    )


def ensure_library(rec: Recommender, settings: Settings, talks: int) -> int:
    from retrieval.demo import build_demo_library

    manifest = build_demo_library(
        settings.data.shared_dir, settings.data_dir / "demo", talks=talks, synthetic=0
    )
    report, t = timed(lambda: rec.ingest([], manifest=manifest))
    print(
        f"library: {len(report.ingested)} ingested, {len(report.unchanged)} unchanged, "
        f"{len(report.failed)} failed ({t.wall:.1f} s)"
    )
    return len(report.ingested) + len(report.unchanged)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--clip", type=Path, default=defaults.data.shared_dir / "speech/espeak/q1.wav"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--talks", type=int, default=12)
    parser.add_argument("--data-dir", type=Path, default=defaults.cache_dir / "bench-voice-turn")
    parser.add_argument(
        "--llm", default=defaults.llm.backend, help="LLM backend (default: settings)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    settings = Settings(
        data_dir=args.data_dir, models_cache=defaults.models_dir, llm={"backend": args.llm}
    )
    settings.ensure_dirs()
    print(
        f"stack: asr={settings.asr.backend}:{settings.asr.model} ({settings.asr.compute_type}, "
        f"{settings.asr.threads} threads, beam {settings.asr.beam_size}) "
        f"embedder={settings.embedding.model} llm={settings.llm.backend}:{settings.llm.model} "
        f"rerank={settings.agent.rerank} explain={settings.agent.explain}"
    )
    rec = Recommender(settings)
    n_videos = ensure_library(rec, settings, args.talks)

    # raw faster-whisper, the same model folder and decoding options as the library's transcriber
    from faster_whisper import WhisperModel

    asr = settings.asr
    path = resolve_model_path(asr.model, settings.models_dir)
    raw, raw_load = timed(
        lambda: WhisperModel(
            str(path),
            device=asr.device,
            compute_type=asr.compute_type,
            cpu_threads=asr.threads,
            local_files_only=True,
        )
    )
    options = {
        "language": asr.language,
        "beam_size": asr.beam_size,
        "vad_filter": asr.vad_filter,
        "condition_on_previous_text": False,
    }

    def raw_transcribe() -> str:
        segments, _info = raw.transcribe(str(args.clip), **options)
        return " ".join(s.text.strip() for s in segments)

    # cold: loads Whisper (facade), the embedder and the LLM on the first turn
    cold = voice_turn(rec, args.clip, "bench-cold")
    raw_transcribe()  # warm-up
    print(
        f"cold first voice turn (loads every model): {cold.stages['total']:.2f} s; raw Whisper load {raw_load.wall:.2f} s"
    )

    turns: list[TurnResult] = []
    raw_times: list[Timed] = []
    raw_text = ""
    for i in range(args.repeats):
        raw_text, t = timed(raw_transcribe)
        raw_times.append(t)
        turns.append(voice_turn(rec, args.clip, f"bench-{i}"))

    med = {
        s: statistics.median(t.stages[s] for t in turns)
        for s in STAGES
        if all(s in t.stages for t in turns)
    }
    raw_wall = statistics.median(t.wall for t in raw_times)
    raw_cpu = statistics.median(t.cpu for t in raw_times)
    ours_cpu = statistics.median(t.transcription_cpu for t in turns)

    print(f"\nclip: {args.clip} | library: {n_videos} videos | repeats: {args.repeats} (medians)")
    print(f"heard: {turns[-1].transcript!r} (raw faster-whisper: {raw_text.strip()!r})")
    print(f"picks: {turns[-1].titles}")
    print(f"\n{'stage':<15}{'seconds':>10}")
    for stage, value in med.items():
        print(f"{stage.replace('_', ' '):<15}{value:>10.3f}")
    ratio_wall = med["transcription"] / raw_wall if raw_wall else float("nan")
    ratio_cpu = ours_cpu / raw_cpu if raw_cpu else float("nan")
    print(
        f"\nbaseline raw faster-whisper on the same clip: {raw_wall:.3f} s wall, {raw_cpu:.3f} s CPU"
        f"\nratio vidrec transcription / raw faster-whisper: {ratio_wall:.2f}x wall, "
        f"{ratio_cpu:.2f}x CPU"
        f"\ntranscription share of the voice turn: {med['transcription'] / med['total']:.0%}"
    )
    result = {
        "clip": str(args.clip),
        "videos": n_videos,
        "repeats": args.repeats,
        "llm": f"{settings.llm.backend}:{settings.llm.model}",
        "median_stage_seconds": med,
        "raw_faster_whisper": {"wall": raw_wall, "cpu": raw_cpu, "load": raw_load.wall},
        "vidrec_transcription_cpu": ours_cpu,
        "ratio_wall": ratio_wall,
        "ratio_cpu": ratio_cpu,
        "cold_turn": asdict(cold),
        "turns": [asdict(t) for t in turns],
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    rec.close()
    return result


if __name__ == "__main__":
    main()

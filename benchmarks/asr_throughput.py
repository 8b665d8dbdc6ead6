"""ASR throughput: our Transcriber against raw ``faster_whisper.WhisperModel``, same run, same inputs.

Inputs: the five LibriVox clips in shared/data/speech/librivox plus one demo clip (a TED opening
spoken by espeak-ng, muxed into an .mp4; built once into the cache dir). Both sides use the same
model folder and options (beam size, VAD filter, ``condition_on_previous_text=False``, threads,
compute type). Each is loaded and warmed up before timing; passes alternate between the two so
that load on a shared machine hits both alike.

Prints audio seconds per wall second and per CPU second (the process's own CPU time, steadier on
a busy machine) for each, and the ratio ours / raw.

    python -m benchmarks.asr_throughput [--repeats 2] [--model base] [--threads 2]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from agent.settings import Settings
from retrieval.asr import create_transcriber
from retrieval.asr.faster_whisper import resolve_model_path
from retrieval.demo import load_ted, opening_text, select_talks, synthesise_clip
from retrieval.media import probe

log = logging.getLogger(__name__)


@dataclass
class Tally:
    audio_s: float = 0.0
    wall_s: float = 0.0
    cpu_s: float = 0.0

    def add(self, audio_s: float, run: Callable[[], str]) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        text = run()
        self.wall_s += time.perf_counter() - wall
        self.cpu_s += time.process_time() - cpu
        self.audio_s += audio_s
        return text


def _inputs(settings: Settings) -> list[Path]:
    shared = settings.data.shared_dir
    clips = sorted((shared / "speech" / "librivox").glob("*.wav"))
    if not clips:
        raise SystemExit(f"no LibriVox clips under {shared / 'speech' / 'librivox'}")
    _, synth = select_talks(load_ted(shared), 0, 1)
    talk = synth[0]
    clip = settings.cache_dir / "benchmarks" / f"{talk.id}-espeak.mp4"
    if not clip.is_file():
        synthesise_clip(opening_text(talk.transcript), clip, title=talk.title)
    return [*clips, clip]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default=None, help="ASR model (default: settings)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    settings = Settings()
    asr = settings.asr.model_copy(
        update={
            k: v for k, v in {"model": args.model, "threads": args.threads}.items() if v is not None
        }
    )
    inputs = _inputs(settings)
    durations = [probe(p).duration for p in inputs]

    from faster_whisper import WhisperModel

    model_dir = resolve_model_path(asr.model, settings.models_dir)
    raw = WhisperModel(
        str(model_dir),
        device=asr.device,
        compute_type=asr.compute_type,
        cpu_threads=asr.threads,
        local_files_only=True,
    )
    options = {
        "language": asr.language,
        "beam_size": asr.beam_size,
        "vad_filter": asr.vad_filter,
        "condition_on_previous_text": False,
    }
    ours = create_transcriber(asr, settings.models_dir)

    def run_raw(path: Path) -> str:
        segments, _ = raw.transcribe(str(path), **options)
        return " ".join(s.text.strip() for s in segments)

    def run_ours(path: Path) -> str:
        return ours.transcribe(path).text

    shortest = inputs[durations.index(min(durations))]
    run_raw(shortest)  # warm-up (and ours loads its model here)
    run_ours(shortest)

    tallies = {"raw faster-whisper": Tally(), "vidrec Transcriber": Tally()}
    texts: dict[str, dict[Path, str]] = {name: {} for name in tallies}
    runners = {"raw faster-whisper": run_raw, "vidrec Transcriber": run_ours}
    for repeat in range(args.repeats):
        order = list(tallies) if repeat % 2 == 0 else list(reversed(tallies))
        for name in order:
            runner = runners[name]
            for path, seconds in zip(inputs, durations, strict=True):
                texts[name][path] = tallies[name].add(seconds, partial(runner, path))

    audio_total = sum(durations)
    print(f"ASR throughput: Whisper {asr.model!r}, {asr.device}/{asr.compute_type}, "
          f"{asr.threads} threads, beam {asr.beam_size}, VAD {asr.vad_filter}")  # fmt: skip
    print(f"inputs: {len(inputs)} files, {audio_total:.1f} s of audio, {args.repeats} passes each")
    print(f"{'':22}{'wall s':>9}{'audio s/wall s':>16}{'cpu s':>9}{'audio s/cpu s':>15}")
    rates: dict[str, tuple[float, float]] = {}
    for name, tally in tallies.items():
        rates[name] = (tally.audio_s / tally.wall_s, tally.audio_s / tally.cpu_s)
        print(
            f"{name:22}{tally.wall_s:9.1f}{rates[name][0]:16.2f}"
            f"{tally.cpu_s:9.1f}{rates[name][1]:15.2f}"
        )
    raw_rate, our_rate = rates["raw faster-whisper"], rates["vidrec Transcriber"]
    print(
        f"ratio ours/raw: {our_rate[0] / raw_rate[0]:.3f} (wall), "
        f"{our_rate[1] / raw_rate[1]:.3f} (cpu)"
    )
    same = sum(
        texts["raw faster-whisper"][p].split() == texts["vidrec Transcriber"][p].split()
        for p in inputs
    )
    print(f"identical transcripts: {same}/{len(inputs)}")


if __name__ == "__main__":
    main()

"""Batch ingest on Ray against the single-process ingest: videos per minute, same run, same inputs.

Inputs: the five LibriVox clips in shared/data/speech/librivox, each copied ``--copies`` times under
another name (so every copy is a video of its own that Whisper transcribes). Both sides run the
real ``vidrec ingest`` command end to end in a fresh data dir (model loading, Ray's actor start-up
and the writes included): ``vidrec ingest DIR`` and ``vidrec ingest DIR --ray ADDRESS``. Passes
alternate between the two so that load on a shared machine hits both alike.

``--address local`` (the default) starts a throwaway Ray in the ingest process with ``--cpus``
CPUs; give a head's ``host:port`` to use a cluster started with ``ray start``. Prints wall seconds,
videos per minute and the ratio Ray / single-process for each pass and in total.

    python -m benchmarks.ray_ingest [--copies 2] [--repeats 1] [--address local]
        [--transcribe-actors 2] [--cpus 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def _inputs(settings: Settings, folder: Path, copies: int) -> int:
    clips = sorted((settings.data.shared_dir / "speech" / "librivox").glob("*.wav"))
    if not clips:
        raise SystemExit(f"no LibriVox clips under {settings.data.shared_dir}/speech/librivox")
    folder.mkdir(parents=True)
    for copy in range(copies):
        for clip in clips:
            shutil.copyfile(clip, folder / f"{clip.stem}-copy{copy}.wav")
    return len(clips) * copies


def _ingest(inputs: Path, data_dir: Path, ray: list[str], env: dict[str, str]) -> float:
    """One ``vidrec ingest`` in a fresh data dir; returns its wall seconds."""
    command = [sys.executable, "-m", "ui.cli", "ingest", str(inputs), *ray]
    env = {**env, "VIDREC_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or "failed 0" not in done.stdout:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--address", default="local", help="Ray address, 'auto' or 'local'")
    parser.add_argument("--transcribe-actors", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of a 'local' Ray")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args(argv)

    settings = Settings()
    root = Path(tempfile.mkdtemp(prefix="vidrec-bench-ray-"))
    try:
        videos = _inputs(settings, root / "inputs", args.copies)
        base = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "VIDREC_MODELS_CACHE": str(settings.models_dir),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        # Ray: each Whisper actor gets a share of the CPUs instead of all of them
        share = max(1, args.cpus // args.transcribe_actors)
        ray_env = {
            **base,
            "VIDREC_ASR__THREADS": str(share),
            "VIDREC_INGEST__RAY__TRANSCRIBE_ACTORS": str(args.transcribe_actors),
            "VIDREC_INGEST__RAY__LOCAL_CPUS": str(args.cpus),
            # the actors (Whisper ones and one embedder) leave a share for the decode tasks
            "VIDREC_INGEST__RAY__ACTOR_CPUS": str(args.cpus / (args.transcribe_actors + 2)),
            "VIDREC_INGEST__RAY__DECODE_CPUS": "0.1",
        }
        runs = {
            "single process": ([], base),
            f"ray ({args.address})": (["--ray", args.address], ray_env),
        }
        seconds: dict[str, list[float]] = {name: [] for name in runs}
        for repeat in range(args.repeats):
            order = list(runs) if repeat % 2 == 0 else list(reversed(runs))
            for name in order:
                flags, env = runs[name]
                data_dir = root / f"data-{repeat}-{len(seconds[name])}-{name[:3]}"
                seconds[name].append(_ingest(root / "inputs", data_dir, flags, env))
                shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"batch ingest: {videos} videos (LibriVox clips x{args.copies}), Whisper {settings.asr.model!r}, "
        f"{args.repeats} pass(es) each, {os.cpu_count()} CPUs on this machine"
    )
    print(f"{'':24}{'wall s (each pass)':>28}{'videos/min':>12}")
    rates: dict[str, float] = {}
    for name, times in seconds.items():
        rates[name] = videos * len(times) / sum(times) * 60
        each = ", ".join(f"{t:.1f}" for t in times)
        print(f"{name:24}{each:>28}{rates[name]:12.2f}")
    ray_name = next(n for n in runs if n.startswith("ray"))
    ratio = rates[ray_name] / rates["single process"]
    print(f"ratio ray / single process: {ratio:.2f}x")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {"videos": videos, "seconds": seconds, "videos_per_minute": rates, "ratio": ratio},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

"""Settings sections owned by the retrieval layer.

They are plain pydantic models: the one ``Settings`` object (``agent.settings``) nests them, reads
``VIDREC_*`` env vars and the TOML file, and hands each component its own section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REPO_ROOT = Path(__file__).resolve().parents[1]


class Section(BaseModel):
    """A settings section: unknown keys (typos in vidrec.toml or env vars) are errors."""

    model_config = ConfigDict(extra="forbid")


class ASRSettings(Section):
    backend: str = "faster-whisper"
    model: str = Field("base", description="'base' (multilingual, packaged), 'tiny.en', or a path")
    device: str = "cpu"
    compute_type: str = "int8"
    threads: int = 2
    beam_size: int = 5
    vad_filter: bool = True
    language: str | None = None


class EmbeddingSettings(Section):
    backend: str = "sentence-transformers"
    model: str = Field("all-MiniLM-L6-v2", description="packaged model name or a local path")
    query_model: str | None = Field(
        None,
        description="a query encoder adapted from `model` to this library's stored vectors "
        "(`vidrec train --embedder --queries`): queries are encoded by it, documents by `model`; "
        "unset = `model` for both",
    )
    device: str = "cpu"
    batch_size: int = 64
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto",
        description="number format of the model's weights and arithmetic: auto = bfloat16 on a "
        "CPU with bfloat16 in hardware (AVX-512 BF16 / AMX; 2-4x faster, cosine to float32 >= "
        "0.9998, benchmarks/embed_precision.py), float32 elsewhere",
    )
    threads: int | None = Field(
        None,
        description="torch CPU threads (process-wide) for document batches; 0 or unset = torch's "
        "default (all cores). Queries run on `query_threads` (benchmarks/embed_threads.py: for "
        "32-chunk batches 2 threads were 0.80x the wall p50 of 1 on the loaded 2-core box)",
    )
    query_threads: int | None = Field(
        1,
        description="torch CPU threads while a query is embedded (a few short texts: more "
        "threads cost more in hand-offs than they save: with 2 on the loaded 2-core box one "
        "query's p95 was 14x that of 1, benchmarks/embed_threads.py, docs/scale/README.md); "
        "unset = as `threads`",
    )
    # `vidrec train --embedder` (retrieval.embed.adapt): fine-tuning on the library's own
    # (description, transcript chunk) pairs; docs/search.md measures the defaults
    adapt_epochs: int = Field(1, ge=1, le=20, description="passes over the pairs")
    adapt_pairs_per_video: int = Field(
        4, ge=1, le=64, description="transcript chunks paired with each video's description"
    )
    adapt_lr: float = Field(3e-5, gt=0, le=1e-3, description="AdamW learning rate")
    adapt_batch_size: int = Field(
        32, ge=2, le=512, description="pairs a batch (each pair's negatives: the batch's others)"
    )
    query_adapt_epochs: int = Field(
        3, ge=1, le=50, description="passes over the descriptions when only queries are adapted"
    )
    query_adapt_lr: float | None = Field(
        None,
        gt=0,
        le=1e-3,
        description="AdamW learning rate of a query encoder only (`vidrec train --embedder "
        "--queries`, `vidrec eval --adapt-queries`); unset = adapt_lr. At 1e-4 against 3e-5: "
        "ReDial's encoders (~2,550 conversations a fold) +0.009 Recall@10, INSPIRED's (~200) "
        "-0.020 (docs/evaluation.md)",
    )
    query_adapt_validation: float = Field(
        0.2,
        ge=0,
        le=0.5,
        description="share of the described videos held out from a first query encoder to choose "
        "the search's fusion weights for it (retrieval.query_fusion); 0 = keep search.*_weight",
    )


class StoreSettings(Section):
    backend: str = "chroma"
    chroma_url: str | None = Field(
        None, description="http://host:port of `chroma run`; embedded if unset"
    )
    collection: str = "vidrec_chunks"
    search_ef: int = Field(
        100,
        ge=10,
        le=100_000,
        description="HNSW ef at query time (Chroma's `hnsw.ef_search`, its default 100; applied "
        "to existing collections when they are opened): the breadth of the graph search. A "
        "search asks for 100-1,600 chunks; at 100 the ReDial catalogue's top 400 missed 38 of the "
        "exact 400. 1000 finds them all, but moved neither TED nor ReDial beyond noise and cost "
        "p95 at 100k chunks (docs/search.md)",
    )
    sync_threshold: int = Field(
        100,
        ge=100,
        le=100_000,
        description="Chroma persists its HNSW graph every this many records (`hnsw.sync_threshold`, "
        "its default 1000; applied to existing collections when they are opened). Records written "
        "after the last persist are put into the graph again by every process that opens it, in "
        "an order that varies, so two processes answered one query differently (59 of 80 INSPIRED "
        "queries' top 400). At 100, Chroma's batch size, that tail is searched exactly instead",
    )


class SQLSettings(Section):
    url: str | None = Field(
        None, description="SQLAlchemy URL; sqlite file in the data dir if unset"
    )


class ChunkingSettings(Section):
    target_seconds: float = 45.0
    max_chars: int = 900
    overlap_seconds: float = 10.0


class SearchSettings(Section):
    chunk_candidates: int = 100
    video_candidates: int = Field(100, description="videos taken from each whole-video ranking")
    rrf_k: int = 60
    fusion: Literal["rrf", "zscore"] = Field(
        "zscore",
        description="how video rankings are fused: z-scores of their scores (keeps margins; ahead "
        "on all 2,092 TED talks), or reciprocal ranks (retrieval.fusion, docs/search.md)",
    )
    chunk_weight: float = Field(
        0.6, ge=0, description="weight of videos ranked by their best chunk (dense + BM25)"
    )
    video_dense_weight: float = Field(
        1.1, ge=0, description="weight of videos ranked by their chunk-vector centroid"
    )
    video_lexical_weight: float = Field(
        1.0, ge=0, description="weight of videos ranked by BM25 over their whole text"
    )
    query_encoder_weights: bool = Field(
        True,
        description="with embedding.query_model set, use the fusion weights chosen for that "
        "encoder when it was trained (recorded in its adapted.json); false = the weights above",
    )
    video_bm25_k1: float = Field(
        2.0, gt=0, description="BM25 k1 of the whole-video index (term saturation; bm25s: 1.5)"
    )
    video_bm25_b: float = Field(
        0.9, ge=0, le=1, description="BM25 b of the whole-video index (length normalisation)"
    )
    video_bm25_pair_buckets: int = Field(
        1 << 18,
        ge=0,
        description="adjacent word pairs count as terms of the whole-video index, hashed into this "
        "many buckets (0: single words only; docs/search.md)",
    )
    query_cache_size: int = Field(
        4096, ge=0, description="query texts whose vectors are kept in memory (0: none)"
    )
    post_filter_min_share: float = Field(
        0.2,
        ge=0,
        le=1.01,
        description="a filter letting at least this share of videos through is applied after an "
        "unfiltered vector query for proportionally more neighbours (above 1: always in the store)",
    )


class RaySettings(Section):
    """Batch ingest on Ray (``vidrec ingest --ray ADDRESS``; see ``retrieval.ray_ingest``)."""

    transcribe_actors: int = Field(1, ge=1, description="Whisper actors (each loads Whisper once)")
    embed_actors: int = Field(1, ge=1, description="embedder actors (each loads it once)")
    actor_cpus: float = Field(1.0, gt=0, description="CPUs Ray reserves for each actor")
    decode_cpus: float = Field(0.5, gt=0, description="CPUs Ray reserves for each decode task")
    embed_batch_videos: int = Field(16, ge=1, description="videos per embedding call")
    local_cpus: int | None = Field(None, description="--ray local: CPUs (unset = all)")
    local_object_store_mb: int = Field(512, ge=64, description="--ray local: object store size")


class IngestSettings(Section):
    media_extensions: list[str] = [
        ".mp4",
        ".mkv",
        ".webm",
        ".mov",
        ".avi",
        ".m4v",
        ".wav",
        ".mp3",
        ".m4a",
        ".flac",
        ".ogg",
        ".opus",
    ]
    caption_extensions: list[str] = [".srt", ".vtt"]
    metadata_chunk: bool = Field(
        True, description="also index title + description + tags as one chunk per video"
    )
    embed_flush_chunks: int = Field(
        512, description="chunks gathered across videos before one embedding call"
    )
    max_file_mb: float = Field(
        20_000.0, description="an input file larger than this is refused before it is hashed"
    )
    max_audio_seconds: float = Field(
        6 * 3600.0, description="media longer than this is refused before it is transcribed"
    )
    ray: RaySettings = Field(default_factory=RaySettings)


class DataSettings(Section):
    shared_dir: Path = Field(
        REPO_ROOT.parent / "shared" / "data",
        description="the read-only public data sets (TED, MovieLens, ReDial, ...)",
    )

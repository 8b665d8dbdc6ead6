"""The one typed settings object of vidrec.

Sources, strongest first: constructor arguments, ``VIDREC_*`` environment variables (nested with
``__``, e.g. ``VIDREC_LLM__BACKEND=vllm``), the TOML file (``VIDREC_CONFIG`` or ``vidrec.toml`` in the
working directory), then the defaults below. ``vidrec config`` prints the effective values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from retrieval.settings import (
    ASRSettings,
    ChunkingSettings,
    DataSettings,
    EmbeddingSettings,
    IngestSettings,
    SearchSettings,
    Section,
    SQLSettings,
    StoreSettings,
)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vidrec"


class LLMSettings(Section):
    backend: str = Field("llamacpp", description="llamacpp | vllm | openai | transformers")
    model: str = Field(
        "qwen2.5-0.5b",
        description="packaged name (qwen2.5-0.5b, qwen2.5-1.5b), a GGUF/HF path, or the served model id",
    )
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint for vllm/openai")
    api_key: SecretStr | None = None
    timeout_s: float = 60.0
    max_retries: int = 2
    temperature: float = 0.0
    max_tokens: int = 512
    n_ctx: int = 14336
    slots: int = Field(
        7,
        ge=1,
        description="llamacpp: prompt slots, each with its KV cache (the fixed prefix of a prompt "
        "kind stays cached) and decoded together: understand, chat and agent.explain_top reasons "
        "requests at once; n_ctx is shared between them",
    )
    threads: int = Field(
        2,
        ge=1,
        description="llamacpp: CPU threads (2: the cores of the reference machine, ~37 tokens/s "
        "decode when the model has them to itself). On a machine busy with other work set 1: at "
        "load ~7.5 on 2 cores one understand call took 29-31 s with 1 thread against 100 s with "
        "2, its threads waiting for each other at every step (docs/eval-speed.md)",
    )
    device: str = "cpu"


class CollabSettings(Section):
    """The collaborative model fitted from the interaction log (``vidrec train``, agent/collab).

    Confidence of a (user, video) pair: ``1 + alpha * strength`` where strength sums the events:
    like +like_strength, watched +watch_strength * fraction, a positive rating r (r >= 2.5,
    ``agent.feedback``) +rating_strength * r / 5, dislike or a negative rating -dislike_strength
    (negative confidence = disliked, as the implicit library reads it).
    """

    # ALS defaults: best held-out NDCG@10 of a 3x2x3 grid on MovieLens (`vidrec train --search`,
    # agent.collab.search)
    factors: int = 128
    regularization: float = 1.0
    iterations: int = 15
    alpha: float = 2.0
    like_strength: float = 1.0
    watch_strength: float = 1.0
    rating_strength: float = 1.0
    dislike_strength: float = 1.0
    recent_items: int = Field(
        50, ge=1, description="how many of a user's newest liked videos seed the recent neighbours"
    )
    recent_decay: float = Field(
        0.6,
        gt=0.0,
        le=1.0,
        description="weight of the i-th newest of them: recent_decay ** i (chosen on 3 MovieLens "
        "validation folds; `vidrec train --search` chooses it on a log)",
    )
    next_window: int = Field(
        5,
        ge=1,
        description="what people watch next (agent.collab.transitions): a video counts as "
        "following another when it came at most this many places later in a user's timeline",
    )
    next_gap_decay: float = Field(
        0.7,
        gt=0.0,
        le=1.0,
        description="the g-th place after a video counts next_gap_decay ** (g - 1)",
    )
    candidates: int = Field(
        50,
        ge=0,
        description="how many of the best videos by collaborative score join the ranker's "
        "candidates beside the search hits (0: none)",
    )
    session_window_minutes: float = Field(
        120.0,
        gt=0,
        description="feedback within this long of a conversation's last turn belongs to it",
    )
    keep_versions: int = 3
    cold_start_lambda: float = Field(
        0.5, description="MMR lambda of the popular-but-diverse picks for a new user"
    )
    use_tuned_weights: bool = Field(
        True, description="blend with the weights tuned at `vidrec train` when the model has them"
    )
    threads: int = 2
    seed: int = 42


class LearnedSettings(Section):
    """The learned ranking stage (agent/learn): LightGBM lambdarank over every signal, trained by
    `vidrec train` on the logged conversations; without a trained version the hand-tuned blend
    ranks."""

    enabled: bool = Field(
        True, description="rank with the newest trained version when there is one (off: the blend)"
    )
    pool: int = Field(
        50,
        ge=1,
        description="hits asked of the hybrid search when the learned stage ranks (with 100 the "
        "stage's turn was slower: per-turn difference p50 345 ms against 141 ms with 50, one run "
        "each of benchmarks/learned_stage.py on the shared 2-core box)",
    )
    popular: int = Field(
        50, ge=0, description="the most popular videos the stage adds as candidates (0: none)"
    )
    matched: int = Field(
        30,
        ge=0,
        description="the videos whose centroid is nearest the whole conversation's query vector "
        "the stage adds as candidates (0: none); a query encoder trained on logged conversations "
        "(`vidrec train --embedder --queries`) makes them count",
    )
    min_turns: int = Field(
        50,
        ge=2,
        description="logged turns with a liked pick among their candidates needed to train; "
        "fewer: no version is saved and the blend keeps ranking",
    )
    reading: bool = Field(
        True, description="the dialogue's genres, tags, years and speakers as features"
    )
    gate_turns: int = Field(
        40,
        ge=0,
        description="a trained ranker is used only if its order beats the blend's Recall@10 "
        "beyond chance on the training turns, each ranked by a ranker fitted without it (5-fold "
        "cross-validation), and only when there are at least this many (on INSPIRED's ~11 "
        "held-out turns a fold's ranker once passed by chance and cost Recall@10); fewer: the "
        "blend keeps ranking. 0: no check",
    )
    keep_versions: int = 3


class LengthSettings(Section):
    """Duration limits that vague phrases map to (agent/lengths.py), in minutes; hard limits.

    A number the user writes ("under 25 minutes") wins over these. TED talks run 2-25 minutes,
    most 8-18, so "short" leaves a few per topic and "long" keeps the longer third.
    """

    few_minutes_max_minutes: float = Field(
        7.0, gt=0, description='"a few minutes", "bite-sized", "a coffee break": at most'
    )
    short_max_minutes: float = Field(10.0, gt=0, description='"short", "quick", "brief": at most')
    not_too_long_max_minutes: float = Field(
        15.0, gt=0, description='"not too long", "short on time": at most'
    )
    lunch_max_minutes: float = Field(20.0, gt=0, description='"over lunch": at most')
    half_hour_max_minutes: float = Field(
        30.0, gt=0, description='"half an hour", "my commute": at most'
    )
    hour_max_minutes: float = Field(60.0, gt=0, description='"I have an hour": at most')
    long_min_minutes: float = Field(
        18.0, gt=0, description='"something long", "a deep dive", "in-depth": at least'
    )


class AgentSettings(Section):
    rerank: bool = Field(
        False,
        description="LLM listwise rerank of the top candidates (off: with the CPU default it "
        "lowered TED hit rate@5 from 0.95 to 0.77, python -m evaluation.agent_hitrate)",
    )
    rerank_top_n: int = 8
    understand: str = Field(
        "auto",
        description="auto: the parser reads plain turns and the LLM only references, likes and "
        "topic changes; model: the LLM reads every turn; parser: never the LLM",
    )
    candidates: int = 50
    explain: bool = True
    explain_top: int = Field(
        3,
        ge=0,
        description="the model writes reasons for this many top cards (one request each, sent "
        "together; 0 = grounded reasons only); the others keep their grounded reason. 3 halves "
        "the whole answer against 5 on the 2-core CPU default (docs/agent-turn.md); set 5 on a "
        "GPU server, where the extra requests cost little",
    )
    history_weight: float = 0.3
    collab_weight: float = 0.2
    diversity_lambda: float = 0.8
    profile_half_life_days: float = Field(
        60.0, description="age at which a feedback event counts half in the user's profile"
    )
    negative_weight: float = Field(
        0.5, description="how strongly similarity to disliked videos lowers a candidate's score"
    )
    opinions: bool = Field(
        True,
        description="read what the dialogue says of each title it names (liked, disliked, seen); "
        "off: every named title counts as a plain mention, a like (the ablation nolikes)",
    )
    conversation_popularity_weight: float = Field(
        1.0,
        ge=0,
        description="weight in the blend of how many conversation sessions took each video (the "
        "collaborative model's sessions, log1p scaled to 0..1 by the most taken); its "
        "`conversation_popular` most taken videos join the candidates (0: neither). ReDial, "
        "two halves of 700 cases' pools: Recall@10 0.148 / 0.145 against 0.135 / 0.128 without",
    )
    conversation_popular: int = Field(
        50, ge=0, description="the videos most taken in conversations added as candidates"
    )
    request_weight: float = Field(
        2.0,
        ge=0,
        description="weight in the blend of what people took after asking for something like "
        "this (agent.collab.requests: the conversation's embedding mapped to the videos logged "
        "turns took, by ridge regression (`request_ridge`) or a kNN (`request_neighbours`), "
        "log1p scaled to 0..1 by the best); its `request_candidates` best videos join the "
        "candidates (0: neither). "
        "ReDial, 500 of its cases, blend only: Recall@10 0.145 (0), 0.152 (1), 0.161 (2), 0.149 (4)",
    )
    request_ridge: float = Field(
        0.0075,
        ge=0,
        le=100,
        description="ridge penalty (times the number of logged turns) of the map from a "
        "conversation's embedding to the videos taken after it; 0: the kNN of "
        "`request_neighbours` instead. The signal alone, ReDial cross-fitted: Recall@10 0.156 "
        "(0.0075) against 0.143 (kNN); INSPIRED 0.099 against 0.093",
    )
    request_neighbours: int = Field(
        200,
        ge=1,
        le=100_000,
        description="with `request_ridge` 0: how many of the most similar logged turns vote",
    )
    request_candidates: int = Field(
        50, ge=0, description="the videos best by similar requests added as candidates"
    )
    conversation_match_weight: float = Field(
        0.0,
        ge=0,
        description="weight in the blend of how near each video is to the whole conversation "
        "(its rank among the `conversation_match` videos whose centroid is nearest the "
        "conversation's query vector, scaled as the search's rank is); they join the candidates "
        "(0: neither; the learned stage adds its own, `learned.matched`). Worth it only with a "
        "query encoder trained on conversations: ReDial at 1, the blend +0.005 [+0.001, +0.010] "
        "with one (vidrec +0.002, n.s.), vidrec -0.006 [-0.013, +0.001] without",
    )
    conversation_match: int = Field(
        30, ge=0, le=1000, description="the videos nearest the whole conversation in the blend"
    )
    collab: CollabSettings = CollabSettings()
    learned: LearnedSettings = LearnedSettings()
    lengths: LengthSettings = LengthSettings()


class APISettings(Section):
    host: str = "127.0.0.1"
    port: int = 8000
    max_upload_mb: float = 50.0
    max_body_kb: float = 256.0
    rate_limit_per_minute: int = 600
    expensive_rate_limit_per_minute: int = Field(
        60, description="per key, for what runs a model: recommend turns, chat, transcriptions"
    )
    bad_key_limit_per_minute: int = Field(
        30, description="failed key checks per client address before it gets 429s (0: no limit)"
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="where rate limit counts live (a `limits` storage URI): memory:// counts in "
        "this process only; redis://host:6379/0 shares them across every API worker",
    )
    cors_origins: list[str] = Field(default_factory=list)
    require_keys: bool = True
    max_concurrency: int | None = Field(
        None,
        description="facade calls running at once, the rest queue in order; unset: 1 for an "
        "in-process LLM (llamacpp, transformers: one model, turns would only interleave), else 8",
    )
    ingest_roots: list[str] = Field(
        [], description="folders POST /v1/videos may ingest server-side paths from (none: off)"
    )
    max_audio_seconds: float = Field(
        300.0, description="a spoken query or /v1/transcribe upload longer than this is refused"
    )
    media_roots: list[str] = Field(
        [],
        description="folders besides the data dir and ingest_roots whose media files the API and "
        "the app may serve (e.g. where `vidrec ingest` read local videos)",
    )
    ingest_job_timeout_s: float = Field(
        6 * 3600.0, description="an ingest job running longer is stopped (0: no limit)"
    )
    mcp_http: bool = Field(True, description="mount the MCP streamable HTTP endpoint at /mcp")
    ingest_lease_s: float = Field(
        60.0,
        gt=0,
        description="an ingest job's claim lasts this long unless its worker renews it; after a "
        "worker is killed, another resumes its job within about this time",
    )
    ingest_poll_s: float = Field(
        2.0, gt=0, description="how often an idle worker looks for jobs queued by other workers"
    )


class UISettings(Section):
    host: str = "127.0.0.1"
    port: int = 7860
    default_user: str = "guest"


class Settings(BaseSettings):
    """Everything configurable in vidrec, one nested section per component."""

    model_config = SettingsConfigDict(
        env_prefix="VIDREC_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    models_cache: Path | None = Field(
        None, description="where packaged weights are assembled; <data_dir>/models if unset"
    )
    data: DataSettings = DataSettings()
    asr: ASRSettings = ASRSettings()
    embedding: EmbeddingSettings = EmbeddingSettings()
    store: StoreSettings = StoreSettings()
    sql: SQLSettings = SQLSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    search: SearchSettings = SearchSettings()
    ingest: IngestSettings = IngestSettings()
    llm: LLMSettings = LLMSettings()
    agent: AgentSettings = AgentSettings()
    api: APISettings = APISettings()
    ui: UISettings = UISettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("VIDREC_CONFIG", "vidrec.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    # Derived locations: all mutable state lives under data_dir, never in the source tree.
    @property
    def sql_url(self) -> str:
        return self.sql.url or f"sqlite:///{self.data_dir / 'vidrec.db'}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.models_cache or self.data_dir / "models"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.chroma_dir, self.models_dir, self.cache_dir):
            path.mkdir(parents=True, exist_ok=True)

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets masked (for ``vidrec config``)."""
        return self.model_dump(mode="json")

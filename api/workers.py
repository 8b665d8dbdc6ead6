"""What ``vidrec serve --workers N`` (N > 1) needs: every process must see the same state.

Shared by construction: SQL (users, events, sessions, turns, keys, jobs, catalogue: one database;
PostgreSQL across machines, the SQLite file on one machine), the durable ingest queue (in SQL), the
BM25 index (rebuilt or loaded per process whenever the catalogue version moves) and the
collaborative model (reloaded by each process when a newer version appears in the data dir).

Not shared unless configured, checked here: the vector store (embedded Chroma is one process's:
refused), rate limit counts (``memory://`` counts per process: a warning) and an in-process LLM
(each worker loads its own copy: a warning).
"""

from __future__ import annotations

from agent.settings import Settings
from api.context import IN_PROCESS_LLMS
from retrieval.errors import ConfigError


def multi_worker_warnings(settings: Settings, workers: int) -> list[str]:
    """Raise ConfigError for what cannot work with ``workers`` processes; list what will work
    poorly."""
    if workers <= 1:
        return []
    if not settings.store.chroma_url:
        raise ConfigError(
            f"{workers} API workers cannot share an embedded Chroma",
            expected="store.chroma_url pointing at a `chroma run` server",
            got=f"embedded Chroma in {settings.chroma_dir}",
            hint="Start `chroma run --path DIR --port 8001` and set "
            "VIDREC_STORE__CHROMA_URL=http://127.0.0.1:8001, or serve with --workers 1",
        )
    warnings = []
    if settings.api.rate_limit_per_minute > 0 and settings.api.rate_limit_storage.startswith(
        "memory://"
    ):
        warnings.append(
            f"rate limits are counted per worker: a key gets up to {workers} x "
            f"{settings.api.rate_limit_per_minute}/min; set "
            "VIDREC_API__RATE_LIMIT_STORAGE=redis://host:6379/0 to share them"
        )
    if settings.llm.backend in IN_PROCESS_LLMS:
        warnings.append(
            f"llm.backend={settings.llm.backend} loads the model in each of the {workers} "
            "workers; serve it once (vLLM or llama.cpp server) and set llm.backend=vllm"
        )
    return warnings

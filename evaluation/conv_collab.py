"""The collaborative models the shipped ``vidrec`` row of ReDial / INSPIRED runs with.

The interaction log is what an operator of a movie-chat service would have: the MovieLens ratings
(imported, as ``vidrec import-interactions`` reads them: history, no sessions) plus training
dialogues, each recorded as one conversation session of one user who liked every movie it
names, in the order named. ``agent.collab.train`` (what ``vidrec train`` runs) fits and tunes
the model on that log.

Which dialogues train which cases:

* ``--train PATH``: every dialogue of PATH (another file of the task, e.g. ReDial's validation
  dialogues to score the test file) trains one model for all cases;
* otherwise ``--folds N`` cross-fitting: the scored file's dialogues are split into N folds by id
  and each fold's cases are scored by a model trained on the *other* folds' dialogues, so a
  case's own dialogue is never in its model.

``--no-sessions`` records the dialogues as imported history instead of sessions (the model then
has no session co-occurrence or session popularity).

Each model is kept under ``<cache_dir>/eval/collab/log-<hash of its log and settings>``, so a
re-run (an ablation flag, another ``--limit``) uses it again instead of fitting it anew.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent.collab import (
    IMPORTED_SESSION_PREFIX,
    Collaborative,
    ModelStore,
    load_model,
    model_root,
    train,
)
from agent.collab.requests import Request, RequestIndex, conversation_text
from agent.interactions import read_movielens_ratings
from agent.settings import CollabSettings
from agent.types import FeedbackEvent
from evaluation.dialogues import Dialogue, extract_cases
from retrieval.library import Library, query_embedder_id

__all__ = [
    "DIALOGUE_EPOCH",
    "FoldModels",
    "dialogue_events",
    "fold_of",
    "train_fold_models",
]

log = logging.getLogger(__name__)

DIALOGUE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
WHOLE = -1  # the fold key of the one model trained on --train


def dialogue_events(dialogue: Dialogue, *, as_session: bool = True) -> list[FeedbackEvent]:
    """A dialogue as the interaction log records a conversation: one session of one user that
    liked every movie it names, in the order they are named (``as_session`` False: an import)."""
    user = f"dialogue:{dialogue.id}"
    session = user if as_session else f"{IMPORTED_SESSION_PREFIX}{user}"
    out: list[FeedbackEvent] = []
    seen: set[str] = set()
    for turn, utterance in enumerate(dialogue.utterances):
        for movie in utterance.movies:
            if movie not in seen:
                seen.add(movie)
                at = DIALOGUE_EPOCH + timedelta(minutes=turn, seconds=len(seen))
                out.append(FeedbackEvent(user, movie, "like", None, at, session_id=session))
    return out


def dialogue_requests(dialogue: Dialogue) -> list[Request]:
    """A dialogue's turns as the log's requests (:mod:`agent.collab.requests`): each case's
    conversation before the turn, and the movies the turn took."""
    user = f"dialogue:{dialogue.id}"
    return [Request(user, conversation_text(c.context), c.targets) for c in extract_cases(dialogue)]


def _log_key(
    events: Sequence[FeedbackEvent],
    cfg: CollabSettings,
    requests: Sequence[Request] = (),
    embedder: str = "",
) -> str:
    """A folder name for the model of this log and these settings (what decides the fit; with an
    embedder, the blend is tuned with its content vectors)."""
    digest = hashlib.sha256(cfg.model_dump_json().encode())
    if embedder:
        digest.update(f"blend tuned with the content vectors of {embedder}\n".encode())
    if requests:
        digest.update(f"requests embedded by {embedder}\n".encode())
    for e in events:
        digest.update(
            f"{e.user_id}|{e.video_id}|{e.kind}|{e.value}|{e.timestamp}|{e.session_id}\n".encode()
        )
    for r in requests:
        digest.update(f"{r.user_id}|{r.text}|{'|'.join(r.items)}\n".encode())
    return "log-" + digest.hexdigest()[:16]


def fold_of(dialogue_id: str, folds: int) -> int:
    return int(hashlib.sha256(dialogue_id.encode()).hexdigest(), 16) % folds


@dataclass
class FoldModels:
    """One collaborative scorer per fold (or one for all, :data:`WHOLE`), and what was done."""

    folds: int
    sessions: bool = True  # the training dialogues as sessions (False: as imported history)
    scorers: dict[int, Collaborative] = field(default_factory=dict)
    # the library each scorer's cases are ranked with, where it is not the run's
    # (``--adapt-queries``: each fold's query encoder, :mod:`evaluation.conv_queries`)
    libraries: dict[int, Library] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def key(self, dialogue_id: str) -> int:
        """Which scorer serves a case of this dialogue."""
        return WHOLE if WHOLE in self.scorers else fold_of(dialogue_id, self.folds)


def train_fold_models(
    scored: Sequence[Dialogue],
    train_dialogues: Sequence[Dialogue] | None,
    movielens: Path,
    cfg: CollabSettings,
    scratch: Path,
    *,
    folds: int = 5,
    sessions: bool = True,
    needed: set[str] | None = None,
    library: Library | None = None,
    libraries: Mapping[int, Library] | None = None,
) -> FoldModels:
    """Fit the models (see the module docstring) into folders under ``scratch``, one per log
    and settings: a model an earlier run fitted there on the same log is used again.

    Args:
        needed: the dialogue ids whose cases will be scored (folds without one are not fitted).
        library: its (cached) query embedding embeds the training dialogues' turns as each
            model's similar requests, and its content vectors tune the blend as ``vidrec
            train`` does; without it the models have no requests and an untuned blend.
        libraries: per fold key, the library that does this instead (its query encoder).
    """
    start = time.perf_counter()
    ml_events = read_movielens_ratings(movielens)[0] if movielens.exists() else []
    out = FoldModels(max(1, folds), sessions, libraries=dict(libraries or {}))
    plans: list[tuple[int, list[Dialogue]]]
    if train_dialogues is not None:
        plans = [(WHOLE, list(train_dialogues))]
    else:
        wanted = {fold_of(d, out.folds) for d in (needed or {d.id for d in scored})}
        plans = [
            (fold, [d for d in scored if fold_of(d.id, out.folds) != fold])
            for fold in sorted(wanted)
        ]
    for key, dialogues in plans:
        fold_library = out.libraries.get(key, library)
        events = [*ml_events]
        requests: list[Request] = []
        for dialogue in dialogues:
            events.extend(dialogue_events(dialogue, as_session=sessions))
            if sessions:
                requests.extend(dialogue_requests(dialogue))
        if fold_library is None:
            requests = []
        embedder = (
            query_embedder_id(fold_library.config.embedding) if fold_library is not None else ""
        )
        folder = scratch / _log_key(events, cfg, requests, embedder)
        store = ModelStore(model_root(folder), cfg.keep_versions)
        latest = store.latest()  # the same log and settings fitted by an earlier run
        if latest is None:
            index = (
                RequestIndex.fit(requests, fold_library.embed_queries, embedder)
                if fold_library is not None
                else None
            )
            vectors = (
                fold_library.video_vectors(sorted({e.video_id for e in events}))
                if fold_library is not None
                else None
            )
            meta = train(events, cfg, store, item_vectors=vectors, requests=index).meta
        else:
            meta = load_model(latest).meta
        out.scorers[key] = Collaborative(folder, cfg)
        sw = meta.session_blend
        out.notes.append(
            f"{'model' if key == WHOLE else f'fold {key}'}: {len(dialogues)} training dialogues, "
            f"{len(ml_events)} MovieLens ratings; session weights "
            + (f"{sw.session:g} / {sw.popularity:g}" if sw else "not tuned")
            + (
                f"; blend profile {bw.profile:g}, collab {bw.collab:g}, recent {bw.recent:g}, "
                f"next {bw.next:g}"
                if (bw := meta.blend)
                else "; blend not tuned"
            )
            + (" (fitted by an earlier run)" if latest else "")
        )
    out.seconds = time.perf_counter() - start
    log.info("collaborative models: %s (%.0fs)", "; ".join(out.notes), out.seconds)
    return out

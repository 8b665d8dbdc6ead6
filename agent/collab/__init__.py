"""The collaborative model: what people who liked the same videos liked.

Learned from every recorded event of every user (``agent.users``), fitted with ``implicit``'s ALS
(``vidrec train``), versioned on disk, and asked by the ranker for a score per video and for its
best videos (:class:`CollabScorer`). Modules, one concern each:

* :mod:`~agent.collab.matrix`: events -> the users x videos confidence matrix, and sessions;
* :mod:`~agent.collab.model`: the fitted model and fold-in; ``fit`` / ``recommend`` /
  ``similar_items`` in the style of ``implicit``;
* :mod:`~agent.collab.signals`: the signals it scores a user's videos with, and their blend;
* :mod:`~agent.collab.blend`: the weights of the signals and how they combine;
* :mod:`~agent.collab.store`: versions on disk;
* :mod:`~agent.collab.metrics`: top-k, hit and NDCG over score matrices;
* :mod:`~agent.collab.splits` and :mod:`~agent.collab.tuning`: held-out splits and weight tuning;
* :mod:`~agent.collab.search`: choosing the ALS settings and recent decay on a log;
* :mod:`~agent.collab.training`: ``vidrec train``;
* :mod:`~agent.collab.service`: the scorer the agent uses.
"""

from __future__ import annotations

from agent.collab.blend import MAX_COLLAB_RATIO, BlendWeights, SessionWeights, row_zscore
from agent.collab.matrix import (
    IMPORTED_SESSION_PREFIX,
    CollabError,
    InteractionMatrix,
    Sessions,
    build_matrix,
    build_sessions,
    event_strength,
)
from agent.collab.meta import ModelMeta
from agent.collab.metrics import hit_ndcg, hits_gains, top_k
from agent.collab.model import CollabModel
from agent.collab.search import SearchResult, search_settings
from agent.collab.service import Collaborative, CollabScorer
from agent.collab.splits import HeldSession, leave_last_in_session, leave_last_out
from agent.collab.store import ModelStore, load_model, model_root, save_model
from agent.collab.training import TrainReport, train, train_from_log
from agent.collab.tuning import TuningResult, tune_blend, tune_sessions

__all__ = [
    "IMPORTED_SESSION_PREFIX",
    "MAX_COLLAB_RATIO",
    "BlendWeights",
    "CollabError",
    "CollabModel",
    "CollabScorer",
    "Collaborative",
    "HeldSession",
    "InteractionMatrix",
    "ModelMeta",
    "ModelStore",
    "SearchResult",
    "SessionWeights",
    "Sessions",
    "TrainReport",
    "TuningResult",
    "build_matrix",
    "build_sessions",
    "event_strength",
    "hit_ndcg",
    "hits_gains",
    "leave_last_in_session",
    "leave_last_out",
    "load_model",
    "model_root",
    "row_zscore",
    "save_model",
    "search_settings",
    "top_k",
    "train",
    "train_from_log",
    "tune_blend",
    "tune_sessions",
]

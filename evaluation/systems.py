"""The systems an evaluation compares, behind one small interface: a request in, ranked ids out.

- ``PopularitySystem``: a fixed order of items by a count (the classic floor).
- ``BM25System``: BM25 (``bm25s``, English stop-words, Snowball stemming) over the very chunks the
  library indexed, a video scored by its best chunk.
- ``DenseSystem``: the library's dense retrieval only (``Library.search_by_vector`` with the
  embedded query).
- ``HybridSystem``: the library's hybrid search (dense + BM25, chunks and whole videos, RRF), no
  LLM; with other ``SearchSettings`` (e.g. whole-video weights at 0: best-chunk scoring).
- ``TfidfSystem``: scikit-learn's TF-IDF over one whole text per item (e.g. title + description +
  tags + transcript), cosine similarity to the query; no constraint handling.
- ``VidrecSystem``: the whole ``Recommender`` (LLM turn understanding, retrieval, personalisation,
  optional LLM rerank) ranking for the conversation; ``RoutedSystem`` when each fold of the cases
  has its own (cross-fitted collaborative model).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np

from agent.types import FeedbackKind, Message
from retrieval.lexical import bm25s_module, english_stemmer, tokenize
from retrieval.settings import SearchSettings
from retrieval.types import SearchFilters

if TYPE_CHECKING:
    from agent.pool import Stage
    from agent.recommender import Recommender
    from retrieval.library import Library

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RankRequest:
    """What every system sees of a case: never its targets.

    Attributes:
        id: the case id (stable across runs; used to key caches and user ids).
        query: plain text for retrieval baselines (the recent dialogue, or a TED description).
        context: the conversation as messages, for the full recommender.
        excluded: ids that must not be ranked (movies already mentioned).
        feedback: (video id, kind) the user gave before this turn (like, dislike, watched), for
            a system that records it first (``VidrecSystem(feedback=True)``).
    """

    id: str
    query: str
    context: tuple[Message, ...]
    excluded: frozenset[str] = frozenset()
    feedback: tuple[tuple[str, str], ...] = ()


class System(Protocol):
    name: str
    description: str

    def rank(self, request: RankRequest, k: int) -> list[str]:
        """Up to ``k`` item ids, best first, none of ``request.excluded``."""
        ...


class PopularitySystem:
    """Items ordered by a score, highest first (ties: id order); the same list for every case."""

    name = "popularity"

    def __init__(self, scores: Mapping[str, float], description: str) -> None:
        self.description = description
        self._order = [i for i, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]

    def rank(self, request: RankRequest, k: int) -> list[str]:
        out: list[str] = []
        for item in self._order:
            if item not in request.excluded:
                out.append(item)
                if len(out) == k:
                    break
        return out


class LeaveOneOutPopularity:
    """Mention counts over the OTHER dialogues of the data set (the case's own never counts).

    A stand-in for training-set popularity when only one split is given: dialogues are
    independent, so counting the others does not leak the case's answer. Ties are broken by a
    prior (MovieLens ratings count), then id.
    """

    name = "popularity"

    def __init__(
        self,
        mentions: Mapping[str, Iterable[str]],
        prior: Mapping[str, float],
        dialogue_of: Mapping[str, str],
    ) -> None:
        self.description = (
            "mentions of each movie in the other dialogues of the file (leave-dialogue-out), "
            "ties by MovieLens ratings count"
        )
        self._own: dict[str, set[str]] = {d: set(items) for d, items in mentions.items()}
        counts: dict[str, int] = defaultdict(int)
        for items in self._own.values():
            for item in items:
                counts[item] += 1
        ids = sorted(set(prior) | set(counts))
        self._ids = ids
        self._index = {item: i for i, item in enumerate(ids)}
        self._counts = np.array([counts.get(i, 0) for i in ids], dtype=np.float64)
        prior_arr = np.array([prior.get(i, 0.0) for i in ids], dtype=np.float64)
        # prior scaled into [0, 0.5): never outweighs one mention
        self._prior = 0.5 * prior_arr / (prior_arr.max() + 1.0) if len(ids) else prior_arr
        self._dialogue_of = dialogue_of

    def rank(self, request: RankRequest, k: int) -> list[str]:
        scores = self._counts + self._prior
        own = self._own.get(self._dialogue_of.get(request.id, ""), set())
        if own or request.excluded:
            scores = scores.copy()
            for item in own:
                scores[self._index[item]] -= 1.0
            for item in request.excluded:
                if item in self._index:
                    scores[self._index[item]] = -np.inf
        top = np.argsort(-scores, kind="stable")[: k + len(request.excluded)]
        return [self._ids[i] for i in top if np.isfinite(scores[i])][:k]


class BM25System:
    """BM25 over chunk texts, a video scored by its best chunk."""

    name = "bm25"

    def __init__(self, chunks: Sequence[tuple[str, str]], description: str = "") -> None:
        """``chunks``: ``(video_id, text)`` pairs (a video may have many)."""
        bm25s = bm25s_module()

        self.description = description or (
            "BM25 (bm25s, English stop-words, Snowball stemming) over the indexed chunks, "
            "video = best chunk"
        )
        self._stem = english_stemmer()
        self._video_ids = [v for v, _ in chunks]
        self._retriever = bm25s.BM25()
        self._retriever.index(self._tokenize([t for _, t in chunks]), show_progress=False)

    def _tokenize(self, texts: list[str]) -> Any:
        return tokenize(texts, stemmer=self._stem)  # the library's own BM25 tokenizer

    def rank(self, request: RankRequest, k: int) -> list[str]:
        tokens = self._tokenize([request.query])
        if not self._video_ids or not tokens.vocab:
            return []
        n = min(len(self._video_ids), max(200, (k + len(request.excluded)) * 4))
        while True:
            docs, scores = self._retriever.retrieve(tokens, k=n, show_progress=False)
            out: list[str] = []
            for doc, score in zip(docs[0], scores[0], strict=True):
                if score <= 0:
                    break
                video = self._video_ids[int(doc)]
                if video not in request.excluded and video not in out:
                    out.append(video)
                    if len(out) == k:
                        return out
            if n >= len(self._video_ids) or (len(scores[0]) and scores[0][-1] <= 0):
                return out
            n = min(len(self._video_ids), n * 4)


class TfidfSystem:
    """TF-IDF (``sklearn`` ``TfidfVectorizer``, English stop-words, sublinear tf) over one text per
    item, ranked by cosine similarity to the query."""

    name = "tfidf"

    def __init__(self, texts: Mapping[str, str], description: str = "") -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.description = description or (
            "TF-IDF (scikit-learn, English stop-words, sublinear tf) over each item's whole text, "
            "cosine similarity"
        )
        self._ids = list(texts)
        self._vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True)
        self._matrix = self._vectorizer.fit_transform([texts[i] for i in self._ids])

    def rank(self, request: RankRequest, k: int) -> list[str]:
        query = self._vectorizer.transform([request.query])
        scores = (self._matrix @ query.T).toarray().ravel()  # rows are L2-normalised: cosine
        order = np.argsort(-scores, kind="stable")
        out = [
            self._ids[i] for i in order if scores[i] > 0 and self._ids[i] not in request.excluded
        ]
        return out[:k]


def library_chunks(library: Library, video_ids: Iterable[str]) -> list[tuple[str, str]]:
    """``(video_id, text)`` of every chunk the library indexed for ``video_ids``."""
    wanted = set(video_ids)
    catalogue = getattr(library, "catalogue", None)
    if catalogue is not None and hasattr(catalogue, "all_chunks"):
        _, rows = catalogue.all_chunks()  # one query instead of one per video
        return [(vid, text) for _, vid, text in rows if vid in wanted]
    return [(vid, ch.text) for vid in sorted(wanted) for ch in library.chunks(vid)]


def _filters(request: RankRequest) -> SearchFilters:
    return SearchFilters(exclude_ids=request.excluded)


class DenseSystem:
    """The library's dense retrieval alone (query embedding -> nearest chunks -> videos)."""

    name = "dense"

    def __init__(self, library: Library, description: str = "") -> None:
        self.library = library
        self.description = description or (
            f"dense retrieval only ({library.embedder.name}), video = best chunk"
        )

    def rank(self, request: RankRequest, k: int) -> list[str]:
        vector = self.library.embed_query(request.query)
        hits = self.library.search_by_vector(vector, filters=_filters(request), k=k)
        return [h.video.id for h in hits]


class HybridSystem:
    """The library's hybrid search (dense + BM25 fused by RRF), no LLM."""

    def __init__(
        self,
        library: Library,
        description: str = "",
        *,
        name: str = "hybrid",
        search: SearchSettings | None = None,
    ) -> None:
        self.library = library
        self.name = name
        self.description = description or (
            "library hybrid search: dense + BM25 over chunks and whole videos, fused by RRF"
        )
        self._searcher = library.searcher_with(search) if search is not None else library.searcher

    def rank(self, request: RankRequest, k: int) -> list[str]:
        hits = self._searcher.search(request.query, filters=_filters(request), k=k)
        return [h.video.id for h in hits]


def eval_user_id(case_id: str) -> str:
    """The fresh user a case is ranked for (stable across runs)."""
    return "eval-" + hashlib.sha256(case_id.encode("utf-8")).hexdigest()[:16]


class VidrecSystem:
    """The shipped ``Recommender`` ranking the conversation's turn, a fresh user per case.

    ``Recommender.rank``: the turn's understanding, retrieval, personalisation (the collaborative
    model the recommender was given) and, when set, the LLM rerank; no reply text. Seconds per
    stage are summed in ``seconds`` (``cases`` counts the turns).
    """

    def __init__(
        self,
        recommender: Recommender,
        description: str,
        *,
        feedback: bool = False,
        name: str = "vidrec",
        stage: Stage = "auto",
    ) -> None:
        self.recommender = recommender
        self.description = description
        self.feedback = feedback
        self.name = name
        self.stage: Stage = stage  # "off": the hand-tuned blend even with a learned ranker
        self.seconds: dict[str, float] = defaultdict(float)
        self.cases = 0

    def rank(self, request: RankRequest, k: int) -> list[str]:
        user_id = eval_user_id(request.id)
        store = self.recommender.users_store
        if self.feedback:
            store.forget(user_id)  # a fresh user whatever an earlier run recorded
            for video_id, kind in request.feedback:  # what the user clicked before this turn
                value = 1.0 if kind == "watched" else None
                self.recommender.feedback(user_id, video_id, cast(FeedbackKind, kind), value)
        clock = time.perf_counter()
        try:
            turn = self.recommender.rank(
                list(request.context), user_id, k=k, filters=_filters(request), stage=self.stage
            )
        finally:
            if self.feedback:
                store.forget(user_id)
        self.seconds["total"] += time.perf_counter() - clock
        for stage, seconds in turn.timings.items():
            self.seconds[stage] += seconds
        self.cases += 1
        ranked: list[str] = []
        for candidate in turn.candidates:
            if candidate.video.id not in request.excluded and candidate.video.id not in ranked:
                ranked.append(candidate.video.id)
        return ranked[:k]


def timing_note(systems: Sequence[VidrecSystem]) -> str:
    """``"vidrec: <ms> per case (understand .., retrieve .., rank .. ms)"`` over their cases."""
    n = max(1, sum(s.cases for s in systems))
    seconds: dict[str, float] = defaultdict(float)
    for system in systems:
        for stage, value in system.seconds.items():
            seconds[stage] += value
    stages = ", ".join(
        f"{stage} {1000 * v / n:.0f}" for stage, v in seconds.items() if stage != "total"
    )
    return f"vidrec: {1000 * seconds['total'] / n:.0f} ms per case over {n} cases ({stages} ms)"


class RoutedSystem:
    """One system in a table whose cases are answered by several (e.g. one per fold)."""

    def __init__(
        self,
        name: str,
        description: str,
        systems: Mapping[int, System],
        route: Callable[[RankRequest], int],
    ) -> None:
        self.name = name
        self.description = description
        self.systems = dict(systems)
        self.route = route

    def rank(self, request: RankRequest, k: int) -> list[str]:
        return self.systems[self.route(request)].rank(request, k)

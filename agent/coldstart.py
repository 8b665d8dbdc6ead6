"""Cold start: what to show someone the recommender knows nothing about yet.

A new user with no history and a vague first turn ("show me something good") gets
*popular-but-diverse* picks plus one clarifying question:

1. the ``pool`` most popular videos (users with a positive interaction, from the collaborative
   model; from the SQL log when no model is trained; library order when nobody has interacted),
   after hard filters and exclusions;
2. re-ordered by MMR over their content vectors (``Library.video_vectors``) with
   ``CollabSettings.cold_start_lambda``, so the list spans several topics instead of the five most
   popular videos on one;
3. a question built from what the picks are about ("More like cooking, climate change or
   education? ...") that invites the user to say what they want, so the next turn has content.

A *new video* needs nothing here: content retrieval finds it, and the blend gives a video without
interactions an average (zero) collaborative score, never a penalty.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence

from agent.collab import CollabScorer
from agent.diversity import mmr_rerank
from agent.feedback import is_positive
from agent.settings import Settings
from agent.types import Candidate, FeedbackEvent
from agent.users import UserStore
from retrieval.library import Library
from retrieval.types import SearchFilters, Video

log = logging.getLogger(__name__)

DEFAULT_POOL = 50
GENERIC_QUESTION = (
    "What are you in the mood for? Tell me a topic, a video you enjoyed, or how much time you have."
)


def popularity_from_events(events: Iterable[FeedbackEvent]) -> dict[str, float]:
    """Users with a positive event (``agent.feedback.is_positive``) per video."""
    users: dict[str, set[str]] = {}
    for event in events:
        if is_positive(event):
            users.setdefault(event.video_id, set()).add(event.user_id)
    return {video: float(len(who)) for video, who in users.items()}


def _passes(video: Video, filters: SearchFilters) -> bool:
    from agent.hard_filters import passes  # the ranker's own filter check, so both agree

    return passes(video, filters)


def popular_diverse(
    library: Library,
    popularity: Mapping[str, float],
    k: int,
    *,
    diversity_lambda: float = 0.5,
    exclude: Collection[str] = (),
    filters: SearchFilters | None = None,
    pool: int = DEFAULT_POOL,
) -> list[Candidate]:
    """Up to ``k`` popular videos of the library, diversified by MMR over content vectors.

    Args:
        popularity: video id -> popularity (any non-negative scale); videos missing from it
            count as 0 and follow the popular ones in library order.
        diversity_lambda: MMR trade-off (1 = popularity order, lower = more varied).
        exclude: ids never to return (already seen).
        filters: the hard filters of the turn (duration, language, tags...).
        pool: how many of the most popular are considered.
    """
    filters = filters or SearchFilters()
    skip = set(exclude) | set(filters.exclude_ids)
    videos = [v for v in library.videos() if v.id not in skip and _passes(v, filters)]
    if not videos or k <= 0:
        return []
    position = {v.id: n for n, v in enumerate(videos)}
    videos.sort(key=lambda v: (-popularity.get(v.id, 0.0), position[v.id]))
    shortlist = videos[: max(pool, k)]
    relevance = [math.log1p(popularity.get(v.id, 0.0)) for v in shortlist]
    vectors = library.video_vectors([v.id for v in shortlist])
    order = mmr_rerank([v.id for v in shortlist], relevance, vectors, k, diversity_lambda)
    by_id = {v.id: (v, r) for v, r in zip(shortlist, relevance, strict=True)}
    candidates = []
    for video_id in order:
        video, score = by_id[video_id]
        chunks = library.chunks(video_id)
        first = chunks[0] if chunks else None
        candidates.append(
            Candidate(
                video=video,
                score=score,
                collab_score=score,
                evidence_chunk_id=first.id if first else None,
                evidence_text=first.text if first else "",
                evidence_start=first.start if first else None,
                evidence_end=first.end if first else None,
            )
        )
    log.info("cold start: %d popular-but-diverse picks from %d", len(candidates), len(videos))
    return candidates


def clarifying_question(picks: Sequence[Candidate | Video], max_topics: int = 3) -> str:
    """One question that offers the topics the picks span (generic when they carry no tags)."""
    topics: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for n, pick in enumerate(picks):
        video = pick.video if isinstance(pick, Candidate) else pick
        for tag in dict.fromkeys(t.strip().lower() for t in video.tags if t.strip()):
            topics[tag] += 1
            first_seen.setdefault(tag, n)
    if not topics:
        return GENERIC_QUESTION
    # one topic per pick where possible: the first tag of each pick, in list order
    chosen: list[str] = []
    for pick in picks:
        video = pick.video if isinstance(pick, Candidate) else pick
        tags = [t.strip().lower() for t in video.tags if t.strip()]
        fresh = [t for t in tags if t not in chosen]
        if fresh:
            chosen.append(max(fresh, key=lambda t: (topics[t], -first_seen[t])))
        if len(chosen) >= max_topics:
            break
    options = chosen[0] if len(chosen) == 1 else ", ".join(chosen[:-1]) + " or " + chosen[-1]
    return (
        f"To get these right for you: are you more in the mood for {options}? "
        "Or tell me a video you enjoyed, or how much time you have."
    )


def cold_start_candidates(
    library: Library,
    collab: CollabScorer | None,
    store: UserStore,
    settings: Settings,
    *,
    exclude: Collection[str] = (),
    filters: SearchFilters | None = None,
) -> list[Candidate]:
    """The facade's cold-start path: popularity from the newest collaborative model, else from
    the SQL log; ``AgentSettings.candidates`` picks, MMR with ``cold_start_lambda``."""
    popularity = collab.popularity() if collab is not None else {}
    if not popularity:
        from agent.interactions import all_events

        popularity = popularity_from_events(all_events(store))
    return popular_diverse(
        library,
        popularity,
        settings.agent.candidates,
        diversity_lambda=settings.agent.collab.cold_start_lambda,
        exclude=exclude,
        filters=filters,
    )

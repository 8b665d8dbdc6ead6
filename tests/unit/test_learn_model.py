"""The learned ranker: features, fitting on data whose answer is known, fallback, versions."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from agent.learn.features import (
    FEATURES,
    MISSING_RANK,
    SIGNAL_FEATURES,
    TurnContext,
    feature_matrix,
)
from agent.learn.model import (
    LearnedRanker,
    LearnedRankerError,
    RankerMeta,
    TrainingData,
    paired_gain_low,
)
from agent.learn.reading import Vocabulary, read_dialogue
from agent.learn.store import RankerStore
from agent.learn.training import fit_ranker
from agent.settings import LearnedSettings
from agent.types import Candidate
from retrieval.types import Video

COL = {name: i for i, name in enumerate(FEATURES)}


def _candidate(video_id: str, **kw: object) -> Candidate:
    video = Video(video_id, video_id, tags=("horror",), published=date(1996, 1, 1))
    return Candidate(video=video, **kw)  # type: ignore[arg-type]


def test_feature_rows_follow_the_candidates_and_mark_missing_sources() -> None:
    candidates = [
        _candidate("a", score=0.9, content_score=0.8, source_ranks={"search": 0, "collab": 3}),
        _candidate(
            "b",
            score=0.5,
            collab_score=1.2,
            source_ranks={"similar": 2},
            signals={"session": 2.5, "requests": 0.4},
        ),
    ]
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    vocab = Vocabulary([c.video for c in candidates])
    context = TurnContext(
        latest=np.array([1.0, 0.0]),
        dialogue=np.array([0.0, 2.0]),
        liked=(np.array([0.0, 1.0]),),
        reading=read_dialogue(["a scary movie from the 90s"], vocab),
        popularity={"a": 9.0},
        history_seen=frozenset({"b"}),
        user_turns=2,
    )
    rows = feature_matrix(candidates, vectors, context)
    assert rows.shape == (2, len(FEATURES))
    a, b = rows
    assert a[COL["blend_rank"]] == 0 and b[COL["blend_rank"]] == 1
    assert a[COL["search_rank"]] == 0 and b[COL["search_rank"]] == MISSING_RANK
    assert a[COL["similar_rank"]] == MISSING_RANK and b[COL["similar_rank"]] == 2
    assert a[COL["collab_rank"]] == 3 and b[COL["collab_known"]] == 1.0
    assert a[COL["sim_latest"]] == pytest.approx(1.0) and b[COL["sim_latest"]] == 0.0
    assert b[COL["sim_dialogue"]] == pytest.approx(1.0)
    assert b[COL["liked_sim_max"]] == pytest.approx(1.0)
    assert a[COL["popularity_log"]] == pytest.approx(np.log1p(9.0))
    assert a[COL["tag_hits"]] == 1 and a[COL["year_agree"]] == 1
    assert b[COL["history_seen"]] == 1 and a[COL["history_seen"]] == 0
    assert a[COL["user_turns"]] == 2 and a[COL["liked_in_dialogue"]] == 1
    assert b[COL["session_signal"]] == 2.5 and b[COL["requests_signal"]] == pytest.approx(0.4)
    assert b[COL["collab_signal"]] == 0.0 and a[COL["session_signal"]] == 0.0  # none: 0


def _synthetic(turns: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Turns of 20 candidates whose one target has the highest tag_hits: the blend score is
    noise, so only a ranker that learned the signal puts targets first."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(turns):
        x = rng.random((20, len(FEATURES))).astype(np.float32)
        y = np.zeros(20, np.float32)
        y[int(rng.integers(20))] = 1.0
        x[:, COL["tag_hits"]] = rng.random(20) * 0.5 + y
        out.append((x, y))
    return out


def test_the_ranker_learns_the_signal_that_finds_the_targets() -> None:
    model, data, reason = fit_ranker(
        _synthetic(200), LearnedSettings(min_turns=50, gate_turns=20), source="synthetic", seed=1
    )
    assert model is not None and reason == ""
    assert data.turns == 200 and model.meta.rows == 4000 and model.meta.positives == 200
    hits = 0
    for x, y in _synthetic(50, seed=2):
        hits += int(y[int(np.argmax(model.score(x)))] == 1.0)
    assert hits >= 45
    top = max(model.meta.importances, key=lambda n: model.meta.importances[n])
    assert top == "tag_hits"
    assert abs(sum(model.meta.importances.values()) - 1.0) < 0.01


def test_a_ranker_not_ahead_of_the_blend_on_held_out_turns_is_not_used() -> None:
    """The blend's own order finds every target first: a learned order can only tie on the
    turns held out of the fit, and then the blend keeps ranking (ReDial: the learned stage
    ranked below the blend, and the stage shipped on regardless)."""
    rng = np.random.default_rng(3)
    turns = []
    for _ in range(200):
        x = rng.random((20, len(FEATURES))).astype(np.float32)
        y = np.zeros(20, np.float32)
        target = int(rng.integers(20))
        y[target] = 1.0
        order = [target, *(i for i in range(20) if i != target)]
        x[order, COL["blend_rank"]] = np.arange(20, dtype=np.float32)
        turns.append((x, y))
    cfg = LearnedSettings(min_turns=50, gate_turns=20)
    model, data, reason = fit_ranker(turns, cfg, source="s", seed=1)
    assert model is None and data.turns == 200
    assert "fitted without it" in reason and "not above the blend's 1.0" in reason
    # the learner of the signal the blend lacks does pass the same gate
    learned, _, _ = fit_ranker(_synthetic(200), cfg, source="s", seed=1)
    assert learned is not None and learned.meta.beats_blend and learned.meta.gate_turns >= 20
    # too few turns to tell: the blend keeps ranking, whatever they showed
    few, _, why = fit_ranker(_synthetic(60), cfg.model_copy(update={"gate_turns": 80}), source="s")
    assert few is None and "fewer than agent.learned.gate_turns = 80" in why
    assert (learned.meta.gate_recall10_learned or 0) > (learned.meta.gate_recall10_blend or 0)


def test_too_little_data_keeps_the_blend() -> None:
    model, data, reason = fit_ranker(_synthetic(10), LearnedSettings(min_turns=50), source="s")
    assert model is None and data.turns == 10
    assert "fewer than agent.learned.min_turns = 50" in reason


def test_turns_without_a_positive_or_a_negative_are_dropped() -> None:
    x = np.zeros((3, len(FEATURES)), np.float32)
    data = TrainingData.stack(
        [(x, np.zeros(3, np.float32)), (x, np.ones(3, np.float32)), (x, np.eye(3)[0])]
    )
    assert data.turns == 1 and data.groups == [3]


def test_versions_save_reload_and_prune(tmp_path: Path) -> None:
    store = RankerStore(tmp_path / "ranker", keep_versions=2)
    assert store.current() is None  # nothing trained: the blend ranks
    model, _, _ = fit_ranker(
        _synthetic(60), LearnedSettings(min_turns=50, gate_turns=0), source="s"
    )
    assert model is not None
    first = store.save(model)
    assert first.name == "v0001" and (tmp_path / "ranker" / "LATEST").read_text() == "v0001"
    loaded = store.current()
    assert loaded is not None and loaded.meta.version == 1
    x = _synthetic(1, seed=5)[0][0]
    np.testing.assert_allclose(loaded.score(x), model.score(x), rtol=1e-6)
    assert loaded.meta.importances == model.meta.importances
    # another process saves a newer version: picked up on the next call
    RankerStore(tmp_path / "ranker", keep_versions=2).save(model)
    RankerStore(tmp_path / "ranker", keep_versions=2).save(model)
    newest = store.current()
    assert newest is not None and newest.meta.version == 3
    assert [p.name for p in store.versions.versions()] == ["v0002", "v0003"]


def test_a_model_of_other_features_is_refused(tmp_path: Path) -> None:
    model, _, _ = fit_ranker(
        _synthetic(60), LearnedSettings(min_turns=50, gate_turns=0), source="s"
    )
    assert model is not None
    with pytest.raises(LearnedRankerError, match="other features"):
        model.score(np.zeros((2, 3), np.float32))
    (tmp_path / "v0001").mkdir()
    (tmp_path / "v0001" / "meta.json").write_text("{}")
    with pytest.raises(LearnedRankerError, match="vidrec train"):
        LearnedRanker.load(tmp_path / "v0001")


def test_a_saved_ranker_of_other_features_leaves_the_blend_ranking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A version trained before an upgrade changed the features: every turn raised before."""
    from dataclasses import replace

    model, _, _ = fit_ranker(
        _synthetic(60), LearnedSettings(min_turns=50, gate_turns=0), source="s"
    )
    assert model is not None
    model.meta = replace(model.meta, features=model.meta.features[:-1])  # one feature fewer
    store = RankerStore(tmp_path / "ranker")
    store.save(model)
    with caplog.at_level("WARNING"):
        assert store.current() is None and store.current() is None
    assert sum("vidrec train" in r.getMessage() for r in caplog.records) == 1  # said once
    model.meta = replace(model.meta, features=FEATURES)
    store.save(model)  # trained again
    assert store.current() is not None


def test_the_learned_order_is_diversified_like_the_blend() -> None:
    from agent.learn.stage import diversified

    candidates = [
        _candidate("a", score=3.0),
        _candidate("a2", score=2.9),  # a near copy of a
        _candidate("b", score=2.0),
    ]
    vectors = {"a": np.array([1.0, 0.0]), "a2": np.array([1.0, 0.01]), "b": np.array([0.0, 1.0])}
    rows = np.arange(3, dtype=np.float32)[:, None]
    same, _ = diversified(candidates, rows, vectors, 1.0)
    assert [c.video.id for c in same] == ["a", "a2", "b"]
    mixed, mixed_rows = diversified(candidates, rows, vectors, 0.5)
    assert [c.video.id for c in mixed] == ["a", "b", "a2"]
    assert mixed_rows[:, 0].tolist() == [0.0, 2.0, 1.0]  # the rows follow their candidates


def test_a_held_out_gain_within_the_turns_noise_keeps_the_blend() -> None:
    """ReDial fold 4: on 122 held-out turns the learned order found 0.3661 of the targets in its
    top 10 against the blend's 0.362, passed, and cost the whole file Recall@10 (0.163 against
    the blend's 0.169). A gain that small is noise: the blend must keep ranking."""
    rng = np.random.default_rng(0)
    blend = (rng.random(122) < 0.362).astype(float)
    learned = blend.copy()
    # 11 turns differ, one more in favour of learned: 6 targets only it found, 5 only the blend
    learned[rng.choice(np.flatnonzero(blend == 0), 6, replace=False)] = 1.0
    learned[rng.choice(np.flatnonzero(blend == 1), 5, replace=False)] = 0.0
    assert learned.sum() == blend.sum() + 1
    gain_low = paired_gain_low(learned - blend, seed=0)
    assert gain_low < 0.0
    meta = RankerMeta(
        features=FEATURES,
        importances={},
        turns=623,
        rows=151727,
        positives=700,
        rounds=9,
        validation_ndcg10=None,
        source="s",
        trained_at="2026-12-05T18:00:00+00:00",
        gate_turns=122,
        gate_recall10_learned=0.3661,
        gate_recall10_blend=0.362,
        gate_gain_low=round(gain_low, 4),
    )
    assert not meta.beats_blend
    # a clear gain passes: 30 more turns of 122 with their target in the top 10
    clear = blend.copy()
    clear[np.flatnonzero(blend == 0)[:30]] = 1.0
    assert paired_gain_low(clear - blend, seed=0) > 0.0


NOISE = [
    i for i, name in enumerate(FEATURES) if name.removesuffix("_signal") not in SIGNAL_FEATURES
]


def _mostly_right_blend(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """40 candidates a turn; the blend puts the target near the top (a geometric rank), and
    ``tag_hits`` marks it half the time, beside four other candidates: a weak extra signal. The
    blend's parts are absent (0: a library without a collaborative model), the rest noise."""
    rng = np.random.default_rng(seed)
    turns = []
    for _ in range(n):
        x = np.zeros((40, len(FEATURES)), np.float32)
        x[:, NOISE] = rng.random((40, len(NOISE)))
        y = np.zeros(40, np.float32)
        target = int(rng.integers(40))
        y[target] = 1.0
        rank = min(39, int(rng.geometric(0.12)) - 1)
        others = [i for i in range(40) if i != target]
        rng.shuffle(others)
        x[[*others[:rank], target, *others[rank:]], COL["blend_rank"]] = np.arange(40)
        x[:, COL["tag_hits"]] = 0.0
        x[rng.choice(others, 4, replace=False), COL["tag_hits"]] = 1.0
        x[target, COL["tag_hits"]] = float(rng.random() < 0.5)
        turns.append((x, y))
    return turns


def test_the_ranker_corrects_a_mostly_right_blend_from_few_turns() -> None:
    """The trees start from the blend's order and learn corrections: 150 turns are enough to
    add a weak signal the blend lacks and pass the check (fitted from nothing, the ranker lost
    part of the blend's order and did not pass: ReDial's learned stage never did)."""
    cfg = LearnedSettings(min_turns=50, gate_turns=20)
    model, _, reason = fit_ranker(_mostly_right_blend(150, 1), cfg, source="s", seed=1)
    assert model is not None, reason
    learned = blend = 0
    for x, y in _mostly_right_blend(500, 9):
        target = int(np.argmax(y))
        learned += int(target in np.argsort(-model.score(x), kind="stable")[:10])
        blend += int(x[target, COL["blend_rank"]] < 10)
    assert learned >= blend + 25  # at least 0.05 more of the new turns' targets in the top 10


def test_a_ranker_trained_on_other_query_vectors_leaves_the_blend_ranking(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: a ranker whose content similarities came from another query embedder (the
    model or a query encoder changed since `vidrec train`) was used as if they were the same."""
    from dataclasses import replace

    model, _, _ = fit_ranker(
        _synthetic(60), LearnedSettings(min_turns=50, gate_turns=0), source="s"
    )
    assert model is not None
    model.meta = replace(model.meta, embedder="sentence-transformers:all-MiniLM-L6-v2")
    RankerStore(tmp_path / "ranker").save(model)
    same = RankerStore(tmp_path / "ranker", embedder="sentence-transformers:all-MiniLM-L6-v2")
    assert same.current() is not None
    moved = RankerStore(
        tmp_path / "ranker", embedder="sentence-transformers:all-MiniLM-L6-v2+queries:/m/q"
    )
    with caplog.at_level("WARNING"):
        assert moved.current() is None and moved.current() is None
    said = [r.getMessage() for r in caplog.records if "other query vectors" in r.getMessage()]
    assert len(said) == 1 and "vidrec train" in said[0]
    assert RankerStore(tmp_path / "ranker").current() is not None  # not checked: as before
    model.meta = replace(model.meta, embedder="")  # saved before the embedder was recorded
    RankerStore(tmp_path / "ranker").save(model)
    assert moved.current() is not None

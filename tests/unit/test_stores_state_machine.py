"""Property-based state machine over the real facade (fake models, real SQL, Chroma and BM25).

Random sequences of ingest, re-ingest of a changed file, unchanged re-ingest, remove, search,
feedback, a recommendation turn, train and user deletion must keep the stores in agreement after
every step: the SQL catalogue, Chroma and the BM25 index hold the same video and chunk ids, no
chunk is an orphan, nothing is left ``pending``, BM25 finds a video by the words of its current
text only, and a deleted user appears nowhere (SQL rows, model versions, the database bytes).

The default run uses a small fixed budget; ``-m slow`` runs a long one (as Chroma tests its own
collections with hypothesis' ``RuleBasedStateMachine``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agent.collab import CollabError, train_from_log
from agent.privacy import find_traces
from agent.recommender import Recommender
from agent.settings import Settings
from tests.consistency import store_problems

VIDEOS = ("glaciers", "volcanoes", "bees", "tides")
USERS = ("ann", "ben", "cat")
VARIANTS = ("alpha", "beta", "gamma")
FILLER = (
    "People came from far away to listen and the speaker explained every step with care. "
    "Questions followed about what was seen and what it could mean for the years ahead. "
)


def _text(video: str, variant: str, long: bool) -> str:
    """A transcript whose marker word ``<video><variant>`` names exactly this version."""
    body = f"This talk is about {video}. The marker is {video}{variant}. "
    return body + FILLER * (40 if long else 1)


class StoresAgree(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="vidrec-sm-"))
        self.settings = Settings(
            data_dir=self.root / "data",
            models_cache=Settings().models_dir,
            asr={"backend": "fake"},
            embedding={"backend": "fake"},
            llm={"backend": "fake"},
        )
        self.rec = Recommender(self.settings)
        self.inputs = self.root / "inputs"
        self.inputs.mkdir()
        self.indexed: dict[str, str] = {}  # video -> marker word of the indexed version
        self.users: set[str] = set()
        self.forgotten: set[str] = set()

    def teardown(self) -> None:
        self.rec.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- rules ----------------------------------------------------------------------------------
    def _ingest(self, video: str, variant: str, long: bool) -> None:
        (self.inputs / f"{video}.md").write_text(_text(video, variant, long), encoding="utf-8")
        manifest = self.inputs / f"{video}.jsonl"
        row = {"id": video, "title": f"A talk on {video}", "transcript_path": f"{video}.md"}
        manifest.write_text(json.dumps(row) + "\n", encoding="utf-8")
        report = self.rec.ingest([], manifest=manifest)
        assert report.ok, report.failed
        self.indexed[video] = f"{video}{variant}"

    @rule(video=st.sampled_from(VIDEOS), variant=st.sampled_from(VARIANTS), long=st.booleans())
    def ingest(self, video: str, variant: str, long: bool) -> None:
        """A new video, or a re-ingest of a changed (or the same) file."""
        self._ingest(video, variant, long)

    @precondition(lambda self: bool(self.indexed))
    @rule(data=st.data())
    def reingest_unchanged(self, data: st.DataObject) -> None:
        video = data.draw(st.sampled_from(sorted(self.indexed)))
        report = self.rec.ingest([], manifest=self.inputs / f"{video}.jsonl")
        assert report.unchanged == [video] and not report.ingested

    @precondition(lambda self: bool(self.indexed))
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        video = data.draw(st.sampled_from(sorted(self.indexed)))
        self.rec.remove_video(video)
        del self.indexed[video]

    @rule(word=st.sampled_from([*VIDEOS, "speaker", "marker"]))
    def search(self, word: str) -> None:
        hits = self.rec.search(word, k=10)
        assert {h.video.id for h in hits} <= set(self.indexed)

    @precondition(lambda self: bool(self.indexed))
    @rule(user=st.sampled_from(USERS), data=st.data(), kind=st.sampled_from(["like", "watched"]))
    def feedback(self, user: str, data: st.DataObject, kind: str) -> None:
        video = data.draw(st.sampled_from(sorted(self.indexed)))
        self.rec.feedback(user, video, kind)
        self.users.add(user)
        self.forgotten.discard(user)

    @precondition(lambda self: bool(self.indexed))
    @rule(user=st.sampled_from(USERS), word=st.sampled_from(VIDEOS))
    def recommend(self, user: str, word: str) -> None:
        answer = self.rec.recommend(f"a talk about {word}", user, k=3)
        assert {r.video.id for r in answer.recommendations} <= set(self.indexed)
        self.users.add(user)
        self.forgotten.discard(user)

    @rule()
    def train(self) -> None:
        try:
            train_from_log(self.settings, tune=False)
        except CollabError as exc:  # an empty log: a clear refusal, nothing written
            assert "nothing to learn" in str(exc)

    @rule(user=st.sampled_from(USERS))
    def forget(self, user: str) -> None:
        self.rec.forget_user(user)
        self.users.discard(user)
        self.forgotten.add(user)

    # --- invariants -----------------------------------------------------------------------------
    @invariant()
    def catalogue_chroma_and_bm25_agree(self) -> None:
        lib = self.rec.library
        assert {v.id for v in lib.videos()} == set(self.indexed)
        assert store_problems(lib) == []

    @invariant()
    def bm25_finds_current_text_only(self) -> None:
        lexical = self.rec.library.lexical
        for video in VIDEOS:
            for variant in VARIANTS:
                marker = f"{video}{variant}"
                found = {m.video_id for m in lexical.search(marker, 10)}
                assert found == ({video} if self.indexed.get(video) == marker else set()), marker

    @invariant()
    def deleted_users_are_gone(self) -> None:
        assert set(self.rec.users()) == self.users
        model_dir = self.rec.collab.model_dir
        for user in self.forgotten:
            assert find_traces(user, self.rec.users_store, model_dir) == [], user


_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


def test_stores_agree_small_budget() -> None:
    run = settings(
        max_examples=4, stateful_step_count=12, deadline=None, suppress_health_check=_HEALTH
    )(StoresAgree)
    run.TestCase().runTest()


@pytest.mark.slow
def test_stores_agree_long_budget() -> None:
    run = settings(
        max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=_HEALTH
    )(StoresAgree)
    run.TestCase().runTest()

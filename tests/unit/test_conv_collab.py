"""The log the ReDial / INSPIRED collaborative model is fitted on (evaluation.conv_collab)."""

from __future__ import annotations

from evaluation.conv_collab import dialogue_events


def test_a_dialogue_is_one_session_liking_each_movie_once_in_order() -> None:
    from evaluation.dialogues import Dialogue, Utterance

    dialogue = Dialogue(
        "d1",
        (
            Utterance("seeker", "I loved A and B", ("A", "B")),
            Utterance("recommender", "Try C, or A again", ("C", "A")),
        ),
    )
    events = dialogue_events(dialogue)
    assert [e.video_id for e in events] == ["A", "B", "C"]
    history = dialogue_events(dialogue, as_session=False)  # --no-sessions: imported history
    assert {e.session_id for e in history} == {"import:dialogue:d1"}
    assert {(e.user_id, e.session_id, e.kind) for e in events} == {
        ("dialogue:d1", "dialogue:d1", "like")
    }
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    assert len({e.timestamp for e in events}) == 3

from __future__ import annotations

from agent.rules import parse_rules
from evaluation.agent_turns import LENGTHS, REFERENCES, conversation, load_labelled


def test_the_labelled_sets_are_big_enough_and_well_formed() -> None:
    lengths = load_labelled(LENGTHS)
    references = load_labelled(REFERENCES)
    limited = [c for c in lengths if not c.no_limit]
    assert len(limited) >= 30
    assert all((c.max_minutes is None) != (c.min_minutes is None) for c in limited)
    assert len(references) >= 15
    assert all(c.shown and len(c.turns) >= 2 for c in references)
    assert all((c.exclude is None) != (c.like is None) for c in references)
    assert len({c.id for c in [*lengths, *references]}) == len(lengths) + len(references)


def test_the_parser_reads_every_labelled_length() -> None:
    for case in load_labelled(LENGTHS):
        rules = parse_rules(case.turns[-1])
        got = (
            rules.max_duration / 60 if rules.max_duration else None,
            rules.min_duration / 60 if rules.min_duration else None,
        )
        assert got == (case.max_minutes, case.min_minutes), case


def test_conversation_interleaves_replies() -> None:
    messages = conversation(["a", "b"], ["shown: X"])
    assert [(m.role, m.content) for m in messages] == [
        ("user", "a"),
        ("assistant", "shown: X"),
        ("user", "b"),
    ]

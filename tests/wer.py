"""Word error rate as the speech tests measure it (jiwer, case, hyphens and punctuation ignored)."""

from __future__ import annotations

import jiwer

_NORMALISE = jiwer.Compose(
    [
        jiwer.ToLowerCase(),
        jiwer.SubstituteRegexes({r"-": " "}),
        jiwer.RemovePunctuation(),
        jiwer.RemoveMultipleSpaces(),
        jiwer.Strip(),
        jiwer.ReduceToListOfListOfWords(),
    ]
)


def words(text: str) -> list[str]:
    """The normalised words of ``text``."""
    return list(_NORMALISE(text)[0])


def wer(references: list[str], hypotheses: list[str]) -> float:
    """Corpus WER of ``hypotheses`` against ``references`` after normalisation."""
    return float(
        jiwer.wer(
            references,
            hypotheses,
            reference_transform=_NORMALISE,
            hypothesis_transform=_NORMALISE,
        )
    )

"""What an id from outside (a user id, a manifest's video id) may contain.

Ids end up in URL paths (``/v1/users/{id}``), file names of exports, log lines and terminals, so
the characters that would break or disguise those are refused when the id is first created: path
separators, ``.``/``..``, control and invisible format characters (NUL, newlines, bidi overrides).
Letters of any script, digits, spaces inside, and punctuation such as ``-_.@:+`` are fine.
"""

from __future__ import annotations

import unicodedata

ID_EXAMPLES = "e.g. 'alice', 'user-42' or 'talk_2019.07'"


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an id (a short phrase), or ``None`` when it can."""
    if value in (".", ".."):
        return f"{value!r} alone"
    for ch in value:
        if ch in "/\\":
            return f"a path separator {ch!r}"
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            return f"a control or invisible character ({name})"
    return None

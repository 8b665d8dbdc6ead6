"""Rich consoles for the CLI that never hard-wrap a line.

Messages carry paths, ids, URLs and commands that people copy; rich would break them at the
terminal width (80 without a terminal), so a path such as ``.../ratings.csv:26`` could come out
split across two lines. Consoles are made per call so that ``COLUMNS`` and the streams in force
when the command runs apply, and markup is off so that ``[...]`` in a path prints as it is.
"""

from __future__ import annotations

from rich.console import Console


def err_console() -> Console:
    """A console on standard error for messages (long lines run on; the terminal folds them)."""
    return Console(stderr=True, soft_wrap=True, markup=False, highlight=False)

"""Where each evaluation task's data lies under the shared data folder (``data.shared_dir``):
the default of ``vidrec eval TASK --data`` and the examples its errors give."""

from __future__ import annotations

__all__ = ["SHARED_DATA"]

SHARED_DATA: dict[str, str] = {
    "redial": "redial/valid_data.jsonl",
    "inspired": "inspired/dev.tsv",
    "movielens": "movielens/ml-latest-small/ratings.csv",
    "ted": "ted",
    "ted-chat": "ted",
}

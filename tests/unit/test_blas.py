"""One BLAS thread inside retrieval.blas.one_blas_thread, the setting restored after."""

from __future__ import annotations

import numpy as np
import scipy.linalg  # noqa: F401  both BLAS libraries loaded, as the context loads them
from threadpoolctl import threadpool_info

from retrieval.blas import one_blas_thread


def _blas_threads() -> list[int]:
    return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]


def test_inside_the_context_blas_runs_one_thread_and_the_setting_comes_back() -> None:
    before = _blas_threads()
    assert before  # numpy's OpenBLAS at least
    with one_blas_thread():
        assert set(_blas_threads()) == {1}
        product = np.ones((200, 200)) @ np.ones((200, 200))
    assert float(product[0, 0]) == 200.0
    assert _blas_threads() == before

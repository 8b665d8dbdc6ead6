"""One BLAS thread for the small matrix products on a turn's path.

NumPy's and SciPy's OpenBLAS start a thread per core for every product above a small size. The
products a turn makes (MMR's similarity matrix over ~150 candidates, the collaborative model's
fold-in of one user) are small, and the process runs other threads at the same time (the
embedder's, the language model's, concurrent requests): there the BLAS threads only wait for
each other. On the 2-core reference machine under load, MMR over 150 candidates took 16 ms with
two BLAS threads and 1.6 ms with one (p50). ``implicit`` asks for the same for its ALS.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["one_blas_thread"]

_lock = threading.Lock()
_controller: Any = None


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context in which NumPy's and SciPy's BLAS use one thread (restored on leaving)."""
    global _controller
    if _controller is None:
        with _lock:
            if _controller is None:
                import numpy  # noqa: F401  both BLAS libraries loaded before they are listed
                import scipy.linalg  # noqa: F401
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
    limit: AbstractContextManager[Any] = _controller.limit(limits=1, user_api="blas")
    return limit

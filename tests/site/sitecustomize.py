"""Registers the test fakes in every Python process started with this folder on ``PYTHONPATH``.

``vidrec serve --workers N`` spawns its worker processes afresh (uvicorn uses ``spawn``), so fakes
registered in the parent are gone there; Python imports ``sitecustomize`` at every start, so the
integration tests put this folder first on ``PYTHONPATH`` to give each worker the same fakes as
``tests/conftest.py`` gives the test process. Nothing outside the tests puts it there.
"""

from tests.conftest import pytest_configure

pytest_configure(None)  # type: ignore[arg-type]

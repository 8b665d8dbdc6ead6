from __future__ import annotations

import sys

import pytest

from retrieval.errors import ConfigError, MissingDependencyError
from retrieval.registry import Registry


def test_unknown_name_lists_valid_ones() -> None:
    reg: Registry[object] = Registry("widget")
    reg.register("b", object)
    reg.register("a", object)
    with pytest.raises(ConfigError) as info:
        reg.create("c")
    message = str(info.value)
    assert "'a', 'b'" in message and "'c'" in message


def test_lazy_registration_imports_only_on_use() -> None:
    reg: Registry[object] = Registry("widget")
    reg.register("od", "collections:OrderedDict")
    assert reg.create("od").__class__.__name__ == "OrderedDict"


def test_hidden_module_gives_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hide an installed module, as if the optional package were missing.
    monkeypatch.setitem(sys.modules, "json", None)
    reg: Registry[object] = Registry("widget")
    reg.register("gpu", "json:loads", extra="gpu")
    with pytest.raises(MissingDependencyError, match=r"pip install 'vidrec\[gpu\]'"):
        reg.resolve("gpu")

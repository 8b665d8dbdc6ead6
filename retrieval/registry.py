"""Name -> implementation registries behind every swappable part.

Real backends register lazily by dotted path so that importing a factory never imports torch,
Chroma or llama.cpp; tests register their fakes through the very same ``register`` call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from retrieval.errors import ConfigError, MissingDependencyError

T = TypeVar("T")


class Registry(Generic[T]):
    """A registry of factories for one kind of part (``"transcriber"``, ``"llm"``, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T] | str] = {}
        self._extras: dict[str, str] = {}

    def register(self, name: str, factory: Callable[..., T] | str, *, extra: str = "") -> None:
        """Register ``factory`` (a callable or ``"module:attr"``) under ``name``.

        ``extra`` names the pip extra that provides the backend, for the install hint.
        """
        self._factories[name] = factory
        if extra:
            self._extras[name] = extra

    def unregister(self, name: str) -> None:
        self._factories.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._factories)

    def resolve(self, name: str) -> Callable[..., T]:
        try:
            factory = self._factories[name]
        except KeyError:
            raise ConfigError(
                f"Unknown {self.kind} backend {name!r}",
                expected="one of " + ", ".join(repr(n) for n in self.names()),
                got=repr(name),
                hint=f"Set the {self.kind} backend in settings (see `vidrec config`)",
            ) from None
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                extra = self._extras.get(name)
                hint = f"pip install 'vidrec[{extra}]'" if extra else "reinstall vidrec"
                raise MissingDependencyError(
                    f"The {self.kind} backend {name!r} needs a package that is not installed "
                    f"({exc.name or exc})",
                    hint=f"Install it with: {hint}",
                ) from exc
            resolved: Callable[..., T] = getattr(module, attr)
            return resolved
        return factory

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        return self.resolve(name)(*args, **kwargs)

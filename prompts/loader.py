"""Load versioned prompt files and render them strictly.

Each prompt is ``prompts/<name>.toml``::

    name = "understand"
    version = "1"
    description = "Extract search text and filters from the conversation"
    system = \"\"\"You are ...\"\"\"
    user = \"\"\"Conversation:\\n{{ conversation }}\"\"\"

``system`` and ``user`` are Jinja2 templates. Rendering fails with :class:`PromptError` on a
variable the templates use but the caller did not pass, and on a variable passed but never used
(a typo or a stale call site), so a prompt and its callers cannot drift apart silently.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from prompts.messages import Message
from retrieval.errors import InvalidInputError, NotFoundError

PROMPTS_DIR = Path(__file__).resolve().parent
REQUIRED_KEYS = ("name", "version", "system", "user")

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


class PromptError(InvalidInputError):
    """A prompt file is malformed, or rendered with missing or unused variables."""

    code = "prompt_error"


@dataclass(frozen=True)
class Prompt:
    """One versioned prompt: a system and a user template.

    Attributes:
        name: the file's stem, e.g. ``"understand"``.
        version: bumped whenever the wording changes (logged with every call).
        system: Jinja2 template of the system message (may be empty: no system message).
        user: Jinja2 template of the user message.
        description: what the prompt is for.
        path: the file it came from.
    """

    name: str
    version: str
    system: str
    user: str
    description: str = ""
    path: Path | None = None
    variables: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names: set[str] = set()
        for part in ("system", "user"):
            try:
                names |= jinja2.meta.find_undeclared_variables(_ENV.parse(getattr(self, part)))
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(
                    f"Prompt {self.tag} ({self.path or 'inline'}): {part} template does not parse",
                    expected="a valid Jinja2 template",
                    got=f"{exc.message} on line {exc.lineno}",
                    hint="Fix the template syntax ({{ var }}, {% for %}...{% endfor %})",
                ) from exc
        object.__setattr__(self, "variables", frozenset(names))

    @property
    def tag(self) -> str:
        """``"name@version"``, what every LLM call logs."""
        return f"{self.name}@{self.version}"

    def render_parts(self, **variables: Any) -> tuple[str, str]:
        """Render ``(system, user)`` text; see :meth:`render`."""
        passed = set(variables)
        missing = sorted(self.variables - passed)
        unused = sorted(passed - self.variables)
        if missing or unused:
            problems = []
            if missing:
                problems.append("missing " + ", ".join(missing))
            if unused:
                problems.append("unused " + ", ".join(unused))
            raise PromptError(
                f"Prompt {self.tag} rendered with the wrong variables ({'; '.join(problems)})",
                expected="exactly " + (", ".join(sorted(self.variables)) or "no variables"),
                got=", ".join(sorted(passed)) or "none",
                hint=f"Pass every variable the templates in {self.path or self.name} use, and "
                "only those",
            )
        try:
            system = _ENV.from_string(self.system).render(**variables).strip()
            user = _ENV.from_string(self.user).render(**variables).strip()
        except jinja2.UndefinedError as exc:  # e.g. a missing attribute of a passed object
            raise PromptError(
                f"Prompt {self.tag} could not be rendered",
                expected="every value the template reads",
                got=exc.message or str(exc),
                hint="Check the values passed to render()",
            ) from exc
        return system, user

    def render(self, **variables: Any) -> list[Message]:
        """Render into chat messages: ``[system, user]`` (no system message when it is empty).

        Raises:
            PromptError: a template variable was not passed, or a passed one is not used.
        """
        system, user = self.render_parts(**variables)
        messages = [Message("system", system)] if system else []
        messages.append(Message("user", user))
        return messages


def _read(path: Path) -> Prompt:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PromptError(
            f"Prompt file {path} is not valid TOML",
            expected="TOML with name, version, description, system, user",
            got=str(exc),
        ) from exc
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise PromptError(
            f"Prompt file {path} lacks {', '.join(missing)}",
            expected="keys " + ", ".join(REQUIRED_KEYS) + " (and description)",
            got="keys " + (", ".join(sorted(raw)) or "none"),
        )
    bad = [
        k for k in ("name", "system", "user", "description") if not isinstance(raw.get(k, ""), str)
    ]
    if bad or not isinstance(raw["version"], str | int):
        raise PromptError(
            f"Prompt file {path} has values of the wrong type",
            expected="strings for name, system, user, description; a string or int version",
            got=", ".join(f"{k}={type(raw[k]).__name__}" for k in (*bad, "version")),
        )
    if raw["name"] != path.stem:
        raise PromptError(
            f"Prompt file {path} names itself {raw['name']!r}",
            expected=f"name = {path.stem!r} (the file name)",
            got=repr(raw["name"]),
            hint="Rename the file or fix the name key",
        )
    return Prompt(
        name=raw["name"],
        version=str(raw["version"]),
        system=raw["system"],
        user=raw["user"],
        description=raw.get("description", ""),
        path=path,
    )


@functools.cache
def _load_cached(path: Path, mtime_ns: int) -> Prompt:
    return _read(path)


def load_prompt(name: str, directory: Path | None = None) -> Prompt:
    """Load ``<directory>/<name>.toml`` (default: the ``prompts`` package folder).

    Raises:
        NotFoundError: no such prompt (the message lists the available ones).
        PromptError: the file is malformed.
    """
    folder = directory or PROMPTS_DIR
    path = folder / f"{name}.toml"
    if not path.is_file():
        available = sorted(p.stem for p in folder.glob("*.toml"))
        raise NotFoundError(
            f"No prompt named {name!r} in {folder}",
            expected="one of " + (", ".join(available) or "(none)"),
            got=repr(name),
            hint=f"Add {path.name} with name, version, description, system and user",
        )
    return _load_cached(path, path.stat().st_mtime_ns)


def list_prompts(directory: Path | None = None) -> list[Prompt]:
    """Every prompt in ``directory`` (default: the ``prompts`` package folder), sorted by name."""
    folder = directory or PROMPTS_DIR
    return [load_prompt(p.stem, folder) for p in sorted(folder.glob("*.toml"))]

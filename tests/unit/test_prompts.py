"""Prompt files: loading, strict rendering (missing and unused variables), tags, listing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.types import Message
from prompts.loader import Prompt, PromptError, list_prompts, load_prompt
from retrieval.errors import InvalidInputError, NotFoundError

GREET = '''
name = "greet"
version = "2"
description = "Say hello"
system = "You greet {{ audience }} politely."
user = """Greet {{ who }}.
{% for t in topics %}- {{ t }}
{% endfor %}"""
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "greet.toml").write_text(GREET)
    return tmp_path


def test_load_and_render(folder: Path) -> None:
    prompt = load_prompt("greet", folder)
    assert prompt.tag == "greet@2"
    assert prompt.variables == {"audience", "who", "topics"}
    messages = prompt.render(audience="viewers", who="Ada", topics=["ocean", "jazz"])
    assert messages[0] == Message("system", "You greet viewers politely.")
    assert messages[1].role == "user"
    assert messages[1].content.startswith("Greet Ada.")
    assert "- ocean" in messages[1].content and "- jazz" in messages[1].content


def test_missing_variable_is_an_error(folder: Path) -> None:
    prompt = load_prompt("greet", folder)
    with pytest.raises(PromptError, match="missing who") as info:
        prompt.render(audience="viewers", topics=[])
    assert isinstance(info.value, InvalidInputError)
    assert "audience, topics, who" in str(info.value)  # what was expected


def test_unused_variable_is_an_error(folder: Path) -> None:
    prompt = load_prompt("greet", folder)
    with pytest.raises(PromptError, match="unused mood"):
        prompt.render(audience="viewers", who="Ada", topics=[], mood="happy")


def test_missing_attribute_of_a_passed_value_is_an_error() -> None:
    prompt = Prompt(name="p", version="1", system="", user="{{ item.title }}")
    with pytest.raises(PromptError, match="could not be rendered"):
        prompt.render(item={})


def test_empty_system_gives_only_a_user_message() -> None:
    prompt = Prompt(name="p", version="1", system="", user="Hi {{ x }}")
    assert prompt.render(x=1) == [Message("user", "Hi 1")]


def test_bad_syntax_names_the_prompt() -> None:
    with pytest.raises(PromptError, match=r"p@1.*does not parse"):
        Prompt(name="p", version="1", system="", user="{% for x in %}")


def test_unknown_prompt_lists_available(folder: Path) -> None:
    with pytest.raises(NotFoundError, match="greet"):
        load_prompt("nope", folder)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('name = "bad"\nversion = "1"\nsystem = ""\nuser = ""\n', "names itself 'bad'"),
        ('name = "broken"\nversion = "1"\n', "lacks system, user"),
        ('name = "broken"\nversion = "1"\nsystem = 3\nuser = ""\n', "wrong type"),
        ("name = ", "not valid TOML"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "broken.toml").write_text(text)
    with pytest.raises(PromptError, match=match):
        load_prompt("broken", tmp_path)


def test_integer_version_becomes_text(tmp_path: Path) -> None:
    (tmp_path / "v.toml").write_text('name = "v"\nversion = 3\nsystem = ""\nuser = "u"\n')
    assert load_prompt("v", tmp_path).tag == "v@3"


def test_edit_is_picked_up(folder: Path) -> None:
    path = folder / "greet.toml"
    assert load_prompt("greet", folder).version == "2"
    path.write_text(GREET.replace('version = "2"', 'version = "3"'))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert load_prompt("greet", folder).version == "3"


def test_list_prompts(folder: Path) -> None:
    (folder / "other.toml").write_text('name = "other"\nversion = "1"\nsystem = ""\nuser = "x"\n')
    assert [p.name for p in list_prompts(folder)] == ["greet", "other"]


def test_shipped_prompts_all_load() -> None:
    """Every prompt file in the package parses and names itself after its file."""
    for prompt in list_prompts():
        assert prompt.path is not None and prompt.path.stem == prompt.name
        assert prompt.tag == f"{prompt.name}@{prompt.version}"

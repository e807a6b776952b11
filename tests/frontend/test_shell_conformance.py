"""BuildKit's shell-lexer test data: envVarTest and wordsTest, row by row."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.errors import ShellExpansionError
from minikit.frontend.shell import Lexer

BUILDKIT = Path(__file__).parent / "data" / "buildkit"

SHELL = BUILDKIT / "shell"
ENV_VAR_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def env_var_rows() -> list[tuple[str, str]]:
    rows = []
    for line in (SHELL / "envVarTest").read_text(encoding="utf-8").split("\n"):
        if line.startswith("#") or not line.strip():
            continue
        tag, source, expected = (field.strip() for field in line.strip().split("|"))
        # W rows need Windows' case-insensitive lookups; minikit runs on Linux.
        if tag in ("A", "U"):
            rows.append((source, expected))
    return rows


def words_rows() -> list[tuple[str, dict[str, str], list[str]]]:
    rows = []
    env: dict[str, str] = {}
    for line in (SHELL / "wordsTest").read_text(encoding="utf-8").split("\n"):
        if line.startswith("#") or line == "":
            continue
        if line.startswith("ENV "):
            key, _, value = line[4:].lstrip(" ").partition("=")
            env[key] = value
            continue
        left, right = line.split("|")
        rows.append((left.strip(), dict(env), right.lstrip(" ").split(",")))
    return rows


@pytest.mark.parametrize(("source", "expected"), env_var_rows())
def test_env_var_row(source: str, expected: str) -> None:
    lexer = Lexer("\\")
    if expected == "error":
        with pytest.raises(ShellExpansionError):
            lexer.process_word(source, ENV_VAR_ENV)
    else:
        assert lexer.process_word(source, ENV_VAR_ENV) == expected


@pytest.mark.parametrize(("source", "env", "expected"), words_rows())
def test_words_row(source: str, env: dict[str, str], expected: list[str]) -> None:
    try:
        words = Lexer("\\").process_words(source, env)
    except ShellExpansionError:
        words = ["error"]
    assert words == expected


def test_row_counts() -> None:
    assert len(env_var_rows()) == 173
    assert len(words_rows()) == 18

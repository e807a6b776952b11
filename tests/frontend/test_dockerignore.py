""".dockerignore reading and pattern matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikit.errors import ContextError
from minikit.frontend.dockerignore import (
    PatternMatcher,
    go_clean,
    parse_ignore_file,
    read_ignore_patterns,
)


def test_comments_only_at_column_zero() -> None:
    assert parse_ignore_file("# comment\n #kept\n") == ["#kept"]


def test_lines_trimmed_and_blank_skipped() -> None:
    assert parse_ignore_file("\n  a  \n\t\n") == ["a"]


def test_patterns_cleaned() -> None:
    text = "/abs\n./rel/\na//b/../c\n!/x/./y\n/\n"
    assert parse_ignore_file(text) == ["abs", "rel", "a/c", "!x/y", "/"]


def test_bom_and_crlf() -> None:
    assert parse_ignore_file(b"\xef\xbb\xbfa\r\nb\r\n") == ["a", "b"]


@pytest.mark.parametrize(
    ("path", "clean"),
    [("", "."), ("a/../..", ".."), ("/../a", "/a"), ("a/./b/", "a/b"), ("//a", "/a")],
)
def test_go_clean(path: str, clean: str) -> None:
    assert go_clean(path) == clean


def test_last_match_wins() -> None:
    matcher = PatternMatcher(["*.txt", "!keep.txt", "keep.txt"])
    assert matcher.matches("keep.txt")


def test_exception_reincludes_inside_excluded_folder() -> None:
    matcher = PatternMatcher(["*", "!**/*.py", "!requirements.txt"])
    assert not matcher.matches("pkg/deep/inner.py")
    assert matcher.matches("pkg/data.txt")
    assert matcher.matches("pkg")
    assert matcher.may_include_below("pkg")


def test_folder_pattern_matches_contents() -> None:
    matcher = PatternMatcher(["node_modules"])
    assert matcher.matches("node_modules/a/b.js")
    assert not matcher.matches("src/node_modules_x")


@pytest.mark.parametrize(
    ("pattern", "path", "excluded"),
    [
        ("*.log", "a.log", True),
        ("*.log", "dir/a.log", False),
        ("**/*.log", "dir/sub/a.log", True),
        ("dir/**", "dir/a/b", True),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[a-c]x", "bx", True),
        ("[^a-c]x", "bx", False),
        ("\\*", "*", True),
        ("a.b", "axb", False),
    ],
)
def test_pattern_syntax(pattern: str, path: str, excluded: bool) -> None:
    assert PatternMatcher([pattern]).matches(path) is excluded


def test_may_include_below_false_without_matching_exception() -> None:
    matcher = PatternMatcher(["build", "!src/keep"])
    assert not matcher.may_include_below("build")
    assert matcher.may_include_below("src")


@pytest.mark.parametrize("pattern", ["a[b", "[]", "x\\", "[z-a]"])
def test_bad_pattern(pattern: str) -> None:
    with pytest.raises(ContextError):
        PatternMatcher([pattern])


def test_lone_exclamation_rejected() -> None:
    with pytest.raises(ContextError) as caught:
        PatternMatcher(["!"])
    assert str(caught.value) == 'illegal exclusion pattern: "!"'


def test_dockerfile_specific_file_replaces(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("a\n")
    (tmp_path / "build").mkdir()
    dockerfile = tmp_path / "build" / "Dockerfile2"
    (tmp_path / "build" / "Dockerfile2.dockerignore").write_text("b\n")
    assert read_ignore_patterns(tmp_path, dockerfile) == ["b"]
    assert read_ignore_patterns(tmp_path, tmp_path / "Dockerfile") == ["a"]


def test_no_ignore_file(tmp_path: Path) -> None:
    assert read_ignore_patterns(tmp_path, None) == []


def test_unreadable_ignore_file(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").mkdir()
    with pytest.raises(ContextError):
        read_ignore_patterns(tmp_path, None)

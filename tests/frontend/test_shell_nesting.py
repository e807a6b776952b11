"""Deeply nested substitutions fail as expansion errors, not as Python's RecursionError."""

from __future__ import annotations

import pytest

from minikit.errors import ShellExpansionError
from minikit.frontend.shell import Lexer


def _nested(depth: int) -> str:
    return "${a:-" * depth + "x" + "}" * depth


def test_moderate_nesting_expands():
    assert Lexer().process_word(_nested(50), {}) == "x"


def test_deep_nesting_rejected():
    with pytest.raises(ShellExpansionError) as caught:
        Lexer().process_word(_nested(3000), {})
    assert "nested too deeply" in caught.value.message


def test_deep_nesting_message_is_short():
    with pytest.raises(ShellExpansionError) as caught:
        Lexer().process_words(_nested(3000), {})
    assert len(caught.value.message) < 200

"""Shell-word lexing: variable expansion and word splitting for Dockerfile values."""

from minikit.frontend.shell.lexer import Lexer

__all__ = ["Lexer"]

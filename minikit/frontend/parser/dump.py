"""Render a parse result the way BuildKit's ``Node.Dump`` prints an AST."""

from __future__ import annotations

from minikit.frontend.gotext import go_lower, quote, quote_list, trim_space
from minikit.frontend.parser.model import Instruction, ParseResult


def dump(result: ParseResult) -> str:
    """Return BuildKit's ``AST.Dump()`` of ``result`` plus a final newline.

    This is the format of the ``result`` files in BuildKit's parser tests:
    one ``(keyword ["--flag"] "arg" ...)`` line per instruction.
    """
    lines = "".join("(" + dump_instruction(ins) + ")\n" for ins in result.instructions)
    return trim_space(lines) + "\n"


def dump_instruction(instruction: Instruction) -> str:
    """Return the dump of one instruction, without the enclosing parentheses."""
    text = go_lower(instruction.raw_keyword)
    if instruction.flags:
        text += " " + quote_list(instruction.flags)
    for arg in instruction.args:
        text += " " + quote(arg)
    if instruction.sub is not None:
        text += " (" + dump_instruction(instruction.sub) + ")"
    return trim_space(text)

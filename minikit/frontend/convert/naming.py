"""Progress names of build steps, formatted as BuildKit's dockerfile2llb does.

A step is named ``[stage i/n] TEXT``. ``n`` counts the stage's FROM of an
image (not of ``scratch`` or another stage), its RUN, COPY, ADD and WORKDIR
instructions, and the ONBUILD triggers it inherits. ``i`` is padded to the
width of ``n``. The stage part is left out when the Dockerfile has a single
build state. Steps of a trigger read ``ONBUILD`` after the bracket.

TEXT is the instruction as written, with variables of the stage expanded by
the shell lexer (BuildKit's ``processCmdEnv``) and the keyword upper-cased.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from minikit.errors import MinikitError

if TYPE_CHECKING:
    from minikit.frontend.convert.state import StageState
    from minikit.frontend.shell import Lexer

# Shown in place of the value of a secret exposed with --mount=type=secret,env=.
SECRET_MASK = "****"
STEP_KEYWORDS = frozenset({"RUN", "COPY", "ADD", "WORKDIR"})


def prefix_command(state: StageState, text: str, onbuild: bool = False) -> str:
    """Return ``text`` with the ``[stage i/n]`` prefix, counting one more step."""
    if state.cmd_total == 0:
        return text
    state.cmd_index += 1
    width = int(1 + math.log10(state.cmd_total))
    prefix = "[" + (state.display_name + " " if state.display_name else "")
    prefix += f"{state.cmd_index:>{width}}/{state.cmd_total}] "
    if onbuild:
        prefix += "ONBUILD "
    return prefix + text


def uppercase_command(text: str) -> str:
    """Upper-case the first word of ``text`` (split at the first space)."""
    first, space, rest = text.partition(" ")
    return first.upper() + space + rest


def expand_for_display(lexer: Lexer, text: str, env: Mapping[str, str]) -> str:
    """Expand ``text`` for a step name; on a lexer error keep it as written."""
    try:
        return lexer.process_word(text, env)
    except MinikitError:
        return text


def run_display_lexer(escape_token: str) -> Lexer:
    """Return the lexer for RUN step names: quotes kept, unset variables kept."""
    from minikit.frontend.shell import Lexer

    return Lexer(escape_token, raw_quotes=True, skip_unset_env=True)


def masked_env(env: Mapping[str, str], secret_names: list[str]) -> dict[str, str]:
    """Return ``env`` with secret environment variables replaced by the mask."""
    masked = dict(env)
    for name in secret_names:
        masked[name] = SECRET_MASK
    return masked


def summarize_heredoc(body: str) -> str:
    """Return the first line of a heredoc body, with ``...`` when more follow."""
    lines = body.strip().replace("\r\n", "\n").split("\n")
    return lines[0] + ("..." if len(lines) > 1 else "")

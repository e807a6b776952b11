"""Where the files shipped beside the code are: the Lark grammars."""

from __future__ import annotations

from pathlib import Path

import minikit


def grammar_dir() -> Path:
    """Return the folder that holds the ``.lark`` grammar files.

    An installed wheel carries them in ``minikit/grammar``; a source checkout
    keeps them in ``grammar/`` next to the ``minikit`` package.
    """
    package = Path(minikit.__file__).parent
    installed = package / "grammar"
    if installed.is_dir():
        return installed
    return package.parent / "grammar"

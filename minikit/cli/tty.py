"""The live terminal view for ``--progress=tty``."""

from __future__ import annotations

from typing import IO

from minikit.cli.progress import PlainProgress


class TTYProgress(PlainProgress):
    """Live view of running steps.

    TODO: this still prints the plain format; the live view with one line per
    running step, timers and collapsing output is not written yet.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)

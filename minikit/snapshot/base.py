"""The snapshotter interface that the executor, ops and exporters depend on."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol


class Snapshotter(Protocol):
    """Mounts chains of overlay-format layers as one root filesystem.

    A chain is a list of diff dirs, top-most first (the order of overlay's
    ``lowerdir=``). An empty chain is an empty root (``scratch``). Both methods
    must be called inside the build's private mount namespace, and may be called
    from several threads at once.
    """

    name: str
    """``overlayfs`` or ``native``."""

    def prepare(
        self, lowers: Sequence[Path], upper: Path, work: Path
    ) -> AbstractContextManager[Path]:
        """Return a context manager that yields a writable merged view of ``lowers``.

        Changes land in ``upper`` in overlay format once the context exits without
        an exception. ``work`` is scratch space on the same filesystem as
        ``upper``. Nothing stays mounted after the context exits, even on error.
        """
        ...

    def view(self, lowers: Sequence[Path]) -> AbstractContextManager[Path]:
        """Return a context manager that yields a read-only merged ``lowers``."""
        ...

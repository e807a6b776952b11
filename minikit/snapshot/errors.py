"""Errors of the snapshot layer, part of minikit's one error tree.

NOTE: these belong in ``minikit.errors``. They live here until that module gains
them, and every other package should import them from ``minikit.snapshot``.
"""

from __future__ import annotations

from minikit.errors import MinikitError


class SnapshotError(MinikitError):
    """A snapshot that could not be mounted, copied, unmounted or diffed."""


class LayerError(MinikitError):
    """A layer tar that is invalid or unsafe to apply, or a layer that fails to pack."""

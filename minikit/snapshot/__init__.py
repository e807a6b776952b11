"""Snapshots as chains of overlay-format layer folders, and their layer tars.

A layer is a diff dir in overlayfs format, and a snapshot is a list of them,
top-most first. Snapshotters mount a chain (``prepare``, ``view``).
``write_layer_tar`` and ``apply_layer_tar`` convert between a diff dir and an OCI
layer blob.
"""

import importlib
from typing import Any

# Names are imported on first use, so a build loads only the parts it runs.
_EXPORTS = {
    "Compression": "minikit.snapshot.compression",
    "LayerError": "minikit.snapshot.errors",
    "LayerInfo": "minikit.snapshot.layer",
    "NativeSnapshotter": "minikit.snapshot.native",
    "OverlaySnapshotter": "minikit.snapshot.overlay",
    "SnapshotError": "minikit.snapshot.errors",
    "Snapshotter": "minikit.snapshot.base",
    "TreeCopier": "minikit.snapshot.copy",
    "apply_layer_tar": "minikit.snapshot.apply",
    "detect_snapshotter": "minikit.snapshot.detect",
    "is_opaque": "minikit.snapshot.fsformat",
    "is_whiteout": "minikit.snapshot.fsformat",
    "lookup": "minikit.snapshot.fsformat",
    "read_xattrs": "minikit.snapshot.fsformat",
    "remove_path": "minikit.snapshot.copy",
    "resolve_in_root": "minikit.snapshot.safepath",
    "write_layer_tar": "minikit.snapshot.layer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'minikit.snapshot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

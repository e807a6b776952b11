"""Snapshots as chains of overlay-format layer folders, and their layer tars.

A layer is a diff dir in overlayfs format, and a snapshot is a list of them,
top-most first. Snapshotters mount a chain (``prepare``, ``view``).
``write_layer_tar`` and ``apply_layer_tar`` convert between a diff dir and an OCI
layer blob.
"""

from minikit.snapshot.apply import apply_layer_tar
from minikit.snapshot.base import Snapshotter
from minikit.snapshot.compression import Compression
from minikit.snapshot.copy import TreeCopier, remove_path
from minikit.snapshot.detect import detect_snapshotter
from minikit.snapshot.errors import LayerError, SnapshotError
from minikit.snapshot.fsformat import is_opaque, is_whiteout, lookup, read_xattrs
from minikit.snapshot.layer import LayerInfo, write_layer_tar
from minikit.snapshot.native import NativeSnapshotter
from minikit.snapshot.overlay import OverlaySnapshotter
from minikit.snapshot.safepath import resolve_in_root

__all__ = [
    "Compression",
    "LayerError",
    "LayerInfo",
    "NativeSnapshotter",
    "OverlaySnapshotter",
    "SnapshotError",
    "Snapshotter",
    "TreeCopier",
    "apply_layer_tar",
    "detect_snapshotter",
    "is_opaque",
    "is_whiteout",
    "lookup",
    "read_xattrs",
    "remove_path",
    "resolve_in_root",
    "write_layer_tar",
]

"""The overlayfs diff-dir format that every minikit layer folder uses.

A deleted entry is a character device 0:0 of the same name (a whiteout). A folder
that hides everything below it in lower layers carries the xattr
``user.overlay.opaque=y``, because minikit mounts overlay with ``userxattr``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

OPAQUE_XATTR = "user.overlay.opaque"
OVERLAY_XATTR_PREFIXES = ("user.overlay.", "trusted.overlay.")

# Extended attributes that a layer carries: file capabilities and user.* (the
# overlay's own user.overlay.* bookkeeping excluded). SELinux labels and ACLs are
# host policy and stay out, as in BuildKit's differ.
_CAPABILITY_XATTR = "security.capability"

# Errors that mean "this filesystem or file type has no such xattr support".
_NO_XATTR_ERRNOS = (errno.ENOTSUP, errno.ENODATA, errno.EPERM)


def is_whiteout(st: os.stat_result) -> bool:
    """Tell whether ``st`` is an overlay whiteout (a character device 0:0)."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def make_whiteout(path: Path) -> None:
    """Create a whiteout at ``path`` (allowed without CAP_MKNOD since Linux 5.8)."""
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def is_opaque(path: Path) -> bool:
    """Tell whether the folder ``path`` is marked opaque."""
    try:
        value = os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False)
    except OSError as error:
        if error.errno in _NO_XATTR_ERRNOS:
            return False
        raise
    return value == b"y"


def set_opaque(path: Path) -> None:
    """Mark the folder ``path`` opaque."""
    os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)


def strip_whiteouts(layer: Path) -> int:
    """Remove whiteouts and opaque markers from a layer that has nothing below it.

    In the bottom layer they hide nothing, and overlayfs lists a whiteout in
    a folder that exists in that layer alone as an entry that cannot be
    opened. Returns the number of markers removed.
    """
    removed = 0
    for folder, dirs, files in os.walk(layer):
        for name in files:
            path = os.path.join(folder, name)
            if is_whiteout(os.lstat(path)):
                os.unlink(path)
                removed += 1
        for name in dirs:
            path = Path(folder) / name
            if is_opaque(path):
                os.removexattr(path, OPAQUE_XATTR, follow_symlinks=False)
                removed += 1
    return removed


def is_layer_xattr(name: str) -> bool:
    """Tell whether the xattr ``name`` belongs in a layer (tar) or a copied tree."""
    if name.startswith(OVERLAY_XATTR_PREFIXES):
        return False
    return name.startswith("user.") or name == _CAPABILITY_XATTR


def read_xattrs(path: Path) -> dict[str, bytes]:
    """Return the layer xattrs of ``path`` (not following symlinks), sorted by name."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as error:
        if error.errno in _NO_XATTR_ERRNOS:
            return {}
        raise
    values: dict[str, bytes] = {}
    for name in sorted(names):
        if not is_layer_xattr(name):
            continue
        try:
            values[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as error:
            if error.errno not in _NO_XATTR_ERRNOS:
                raise
    return values


def relative_parts(path: str | PurePosixPath) -> tuple[str, ...]:
    """Split a path inside a root (``/a/b``, ``a/b`` or ``./a/b``) into its names.

    Raises ValueError for a ``..`` component, since it could leave the root.
    """
    parts = tuple(part for part in PurePosixPath(path).parts if part not in ("/", "."))
    if ".." in parts:
        raise ValueError(f"path {str(path)!r} contains '..'")
    return parts


def lookup(lowers: Sequence[Path], path: str | PurePosixPath) -> Path | None:
    """Return where ``path`` lives in the merged view of ``lowers``, or None if absent.

    ``lowers`` is top-most first. A whiteout or a non-folder on the way hides the
    layers below it, and so does an opaque folder. Symlinks along the path are not
    followed: a symlink where a folder is expected ends the lookup with None.
    The root itself (``/``) resolves to the top-most layer.
    """
    parts = relative_parts(path)
    if not parts:
        return lowers[0] if lowers else None
    for layer in lowers:
        found, stop = _lookup_in_layer(layer, parts)
        if found is not None or stop:
            return found
    return None


def _lookup_in_layer(layer: Path, parts: tuple[str, ...]) -> tuple[Path | None, bool]:
    """Return the match of ``parts`` in one layer, and whether it hides lower ones."""
    current = layer
    for index, name in enumerate(parts):
        current = current / name
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return None, False
        if is_whiteout(st):
            return None, True
        if index == len(parts) - 1:
            return current, True
        if not stat.S_ISDIR(st.st_mode):
            return None, True
        if is_opaque(current):
            found, _ = _lookup_in_layer(current, parts[index + 1 :])
            return found, True
    return None, False

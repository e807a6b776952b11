"""Paths inside a rootfs, and the mount stubs a RUN leaves behind.

A mount needs an existing file or directory at its destination, so the
executor creates missing destinations (and their missing parents) before
mounting. After the process exits, each such stub that is still an empty
directory or a zero-byte file is deleted again, deepest first. Its parent
directory then gets back the atime and mtime it had just before the
deletion, as in BuildKit's ``executor/stubs.go``. So stubs do not reach
the layer the snapshotter makes from the rootfs.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque
from dataclasses import dataclass

from minikit.executor.syscalls import SetupError

# The kernel's own limit on symlinks followed while resolving one path.
MAX_SYMLINKS = 40


def resolve_in_root(root: str, path: str) -> str:
    """Resolve ``path`` as if ``root`` were ``/``, and return it relative to ``root``.

    Symlinks in existing components are followed inside ``root``: an
    absolute target restarts at ``root`` and ``..`` never climbs above it.
    Components after the first missing one are kept as written. The result
    has no leading slash; ``""`` is the root itself.
    """
    pending = deque(_components(path))
    resolved: list[str] = []
    followed = 0
    while pending:
        name = pending.popleft()
        if name == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, name)
        try:
            mode = os.lstat(candidate).st_mode
        except FileNotFoundError:
            resolved.append(name)
            continue
        except NotADirectoryError as error:
            raise SetupError.from_os_error(
                "resolve", "/" + "/".join(resolved), error
            ) from error
        if not stat.S_ISLNK(mode):
            resolved.append(name)
            continue
        followed += 1
        if followed > MAX_SYMLINKS:
            raise SetupError.from_errno("resolve", path, errno.ELOOP)
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending.extendleft(reversed(_components(target)))
    return "/".join(resolved)


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def host_path(root: str, relative: str) -> str:
    """Join a path from ``resolve_in_root`` back onto ``root``."""
    return os.path.join(root, relative) if relative else root


@dataclass(frozen=True)
class Stubs:
    """The missing paths recorded before a RUN, relative to ``root``."""

    root: str
    paths: tuple[str, ...]


def record_stubs(root: str, destinations: list[str]) -> Stubs:
    """Record every destination in ``destinations``, and each parent, that is
    missing from ``root`` now."""
    recorded: dict[str, None] = {}
    for destination in destinations:
        relative = resolve_in_root(root, destination)
        parts = relative.split("/") if relative else []
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if not os.path.lexists(os.path.join(root, prefix)):
                recorded[prefix] = None
    return Stubs(root, tuple(recorded))


def remove_stubs(stubs: Stubs) -> tuple[str, ...]:
    """Delete the recorded stubs that are an empty directory or a zero-byte file.

    Returns the container paths that were deleted, deepest first. Parents are
    opened without following symlinks, so a RUN that swapped a directory for
    a symlink cannot make this delete anything outside the rootfs.
    """
    removed = []
    ordered = sorted(stubs.paths, key=lambda p: p.count("/"), reverse=True)
    for relative in ordered:
        if _remove_one(stubs.root, relative):
            removed.append("/" + relative)
    return tuple(removed)


def _remove_one(root: str, relative: str) -> bool:
    parent, _, name = relative.rpartition("/")
    try:
        parent_fd = _open_directory(root, parent)
    except OSError:
        return False
    try:
        before = os.fstat(parent_fd)
        if not _delete_if_empty(parent_fd, name):
            return False
        os.utime(parent_fd, ns=(before.st_atime_ns, before.st_mtime_ns))
        return True
    except OSError:
        return False
    finally:
        os.close(parent_fd)


def _open_directory(root: str, relative: str) -> int:
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(root, flags)
    for part in relative.split("/") if relative else []:
        try:
            child = os.open(part, flags, dir_fd=descriptor)
        finally:
            os.close(descriptor)
        descriptor = child
    return descriptor


def _delete_if_empty(parent_fd: int, name: str) -> bool:
    info = os.lstat(name, dir_fd=parent_fd)
    if stat.S_ISDIR(info.st_mode):
        try:
            os.rmdir(name, dir_fd=parent_fd)
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise
        return True
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        os.unlink(name, dir_fd=parent_fd)
        return True
    return False

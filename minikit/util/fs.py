"""Resolving paths inside a root folder, the one way minikit does it.

Dockerfiles, build contexts, layer tars and Git trees all name paths that
must stay inside some root, even when symbolic links on the way point
elsewhere. ``resolve_in_root`` walks such a path one component at a time and
evaluates each link relative to the root, as ``chroot`` would, so ``..`` and
absolute link targets can never leave it.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from pathlib import Path

# Linux gives up after 40 links in one lookup; so does this walk.
MAX_SYMLINKS = 40


class PathEscapeError(OSError):
    """A path that cannot be resolved inside its root."""


def clean_path(path: str) -> str:
    """Return ``path`` made absolute and normalized like Go's ``path.Clean``."""
    cleaned = posixpath.normpath("/" + path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def resolve_in_root(root: Path | str, path: str, *, follow_final: bool = True) -> Path:
    """Return the host path of ``path`` inside ``root``, resolving links within the root.

    Components that do not exist are kept as they are, so the result can
    name a file about to be created. With ``follow_final=False`` a final
    symbolic link is returned itself rather than its target.
    """
    root_text = os.fspath(root)
    pending = [part for part in clean_path(path).split("/") if part]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root_text, *resolved, part)
        is_final = not pending
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            resolved.append(part)
            continue
        except NotADirectoryError:
            raise PathEscapeError(
                errno.ENOTDIR, "not a directory", "/" + "/".join(resolved)
            ) from None
        if stat.S_ISLNK(info.st_mode) and (follow_final or not is_final):
            links += 1
            if links > MAX_SYMLINKS:
                raise PathEscapeError(
                    errno.ELOOP, "too many levels of symbolic links", path
                )
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending = [p for p in target.split("/") if p] + pending
            continue
        resolved.append(part)
    return Path(os.path.join(root_text, *resolved)) if resolved else Path(root_text)


def relative_to_root(root: Path, host_path: Path) -> str:
    """Return ``host_path`` as an absolute path inside ``root``."""
    rel = os.path.relpath(host_path, root)
    return "/" if rel == "." else "/" + rel


def has_glob(pattern: str) -> bool:
    """Tell whether ``pattern`` contains Go ``filepath.Match`` meta characters."""
    return any(ch in pattern for ch in "*?[")

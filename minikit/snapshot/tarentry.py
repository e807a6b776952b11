"""Tar headers for files on disk, and the sorted tree walk that every writer uses.

The headers are reproducible: numeric owners with empty user and group names,
whole-second mtimes taken from the file (optionally clamped), PAX records for long
names, large ids and xattrs, and hardlinks emitted as tar hardlinks.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

from minikit.snapshot.fsformat import read_xattrs

logger = logging.getLogger(__name__)

PAX_XATTR_PREFIX = "SCHILY.xattr."


def walk_sorted(root: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Yield ``(name, path, lstat)`` for everything below ``root``, depth first.

    Names are relative POSIX paths without a leading ``./``. Siblings come in byte
    order of their names and each folder comes right before its contents, as in
    Go's ``filepath.Walk``, so the order never depends on the filesystem. Symlinks
    are not followed.
    """
    stack = [iter(_sorted_children(root, ""))]
    while stack:
        item = next(stack[-1], None)
        if item is None:
            stack.pop()
            continue
        yield item
        name, path, st = item
        if stat.S_ISDIR(st.st_mode):
            stack.append(iter(_sorted_children(path, name + "/")))


def _sorted_children(
    folder: Path, prefix: str
) -> list[tuple[str, Path, os.stat_result]]:
    with os.scandir(folder) as entries:
        names = sorted((entry.name for entry in entries), key=os.fsencode)
    children = []
    for child in names:
        path = folder / child
        children.append((prefix + child, path, os.lstat(path)))
    return children


def clamp_mtime(st: os.stat_result, source_date_epoch: int | None) -> int:
    """Return the whole-second mtime of ``st``, clamped to ``source_date_epoch``."""
    mtime = st.st_mtime_ns // 1_000_000_000
    if source_date_epoch is not None and mtime > source_date_epoch:
        return source_date_epoch
    return mtime


def xattr_pax_headers(xattrs: dict[str, bytes]) -> dict[str, str]:
    """Return PAX records for ``xattrs``.

    Values are decoded with surrogateescape, which tarfile writes back as raw bytes.
    """
    return {
        PAX_XATTR_PREFIX + name: value.decode("utf-8", "surrogateescape")
        for name, value in sorted(xattrs.items())
    }


class HardlinkTracker:
    """The first tar name written for each inode that has more than one link."""

    def __init__(self) -> None:
        self._names: dict[tuple[int, int], str] = {}

    def first_name(self, name: str, st: os.stat_result) -> str | None:
        """Return the earlier name of this inode, or record ``name`` and return None."""
        if stat.S_ISDIR(st.st_mode) or st.st_nlink < 2:
            return None
        key = (st.st_dev, st.st_ino)
        earlier = self._names.get(key)
        if earlier is None:
            self._names[key] = name
        return earlier


def header_for(
    name: str,
    path: Path,
    st: os.stat_result,
    *,
    mtime: int,
    links: HardlinkTracker,
) -> tarfile.TarInfo | None:
    """Return the tar header of one file, or None for a socket."""
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid = st.st_uid
    info.gid = st.st_gid
    info.uname = ""
    info.gname = ""
    info.mtime = mtime
    info.pax_headers = xattr_pax_headers(read_xattrs(path))
    if not _set_type(info, path, st, links):
        logger.info("leaving socket %s out of the tar: tar cannot store sockets", path)
        return None
    return info


def _set_type(
    info: tarfile.TarInfo, path: Path, st: os.stat_result, links: HardlinkTracker
) -> bool:
    mode = st.st_mode
    earlier = links.first_name(info.name, st)
    if earlier is not None:
        info.type = tarfile.LNKTYPE
        info.linkname = earlier
    elif stat.S_ISREG(mode):
        info.type = tarfile.REGTYPE
        info.size = st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor = os.major(st.st_rdev)
        info.devminor = os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        return False
    return True


def add_to_tar(tar: tarfile.TarFile, info: tarfile.TarInfo, path: Path) -> None:
    """Append ``info`` to ``tar``, streaming the content of ``path`` for regular files.

    tarfile raises OSError when a regular file shrank while it was being read.
    """
    if info.type != tarfile.REGTYPE:
        tar.addfile(info)
        return
    with open(path, "rb") as content:
        tar.addfile(info, content)


def open_tar_writer(stream: object) -> tarfile.TarFile:
    """Open a PAX tar writer on a stream that has ``write`` and ``tell``."""
    return tarfile.open(
        fileobj=cast(IO[bytes], stream),
        mode="w",
        format=tarfile.PAX_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
    )

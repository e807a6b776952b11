"""Copying files, symlinks, devices and folders with their metadata.

Used by the native snapshotter (to merge a chain into one folder and to write a
diff) and by the local exporter.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from minikit.snapshot.fsformat import read_xattrs

logger = logging.getLogger(__name__)

_TEMP_SUFFIX = ".minikit-tmp"


class TreeCopier:
    """Copies entries one at a time, keeping hardlinks and setting folder times last.

    Call ``finish()`` after the last entry: it sets each copied folder's mode and
    mtime, deepest first, because creating entries inside a folder changes its
    mtime and a read-only mode would block them. Owners are copied only when
    ``preserve_owner`` is set. A device node that cannot be created is skipped
    with a message to ``on_warning``.
    """

    def __init__(
        self,
        *,
        preserve_owner: bool = True,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self._preserve_owner = preserve_owner
        self._warn = on_warning or (lambda message: logger.warning("%s", message))
        self._links: dict[tuple[int, int], Path] = {}
        self._folders: dict[Path, os.stat_result] = {}

    def reset_links(self) -> None:
        """Forget seen inodes, so no file of the next tree links to an earlier one."""
        self._links = {}

    def copy_folder(self, src: Path, st: os.stat_result, dst: Path) -> None:
        """Create (or keep) the folder ``dst`` with the owner and xattrs of ``src``."""
        if dst.is_symlink() or not dst.is_dir():
            remove_path(dst)
            os.mkdir(dst, 0o700)
        self._set_owner(dst, st)
        copy_xattrs(src, dst, self._warn)
        self._folders[dst] = st

    def copy_other(self, src: Path, st: os.stat_result, dst: Path) -> None:
        """Copy a non-folder ``src`` to ``dst``, replacing whatever ``dst`` is."""
        temp = dst.with_name(dst.name + _TEMP_SUFFIX)
        remove_path(temp)
        if not self._create(src, st, temp, dst):
            return
        if dst.is_dir() and not dst.is_symlink():
            remove_path(dst)
        os.replace(temp, dst)

    def _create(self, src: Path, st: os.stat_result, temp: Path, dst: Path) -> bool:
        key = (st.st_dev, st.st_ino)
        earlier = self._links.get(key) if st.st_nlink > 1 else None
        if earlier is not None and os.path.lexists(earlier):
            os.link(earlier, temp, follow_symlinks=False)
            return True
        if not self._create_new(src, st, temp):
            return False
        self._set_metadata(src, st, temp)
        if st.st_nlink > 1:
            self._links[key] = dst
        return True

    def _create_new(self, src: Path, st: os.stat_result, temp: Path) -> bool:
        mode = st.st_mode
        if stat.S_ISREG(mode):
            shutil.copyfile(src, temp, follow_symlinks=False)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), temp)
        elif stat.S_ISFIFO(mode):
            os.mkfifo(temp, 0o600)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            return self._create_device(src, st, temp)
        else:
            self._warn(f"skipping {src}: sockets cannot be copied")
            return False
        return True

    def _create_device(self, src: Path, st: os.stat_result, temp: Path) -> bool:
        kind = stat.S_IFMT(st.st_mode)
        try:
            os.mknod(temp, kind | 0o600, st.st_rdev)
        except PermissionError:
            self._warn(
                f"skipping device node {src} "
                f"({os.major(st.st_rdev)}:{os.minor(st.st_rdev)}): "
                "not permitted to create it here"
            )
            return False
        return True

    def _set_metadata(self, src: Path, st: os.stat_result, dst: Path) -> None:
        self._set_owner(dst, st)
        if not stat.S_ISLNK(st.st_mode):
            copy_xattrs(src, dst, self._warn)
            os.chmod(dst, stat.S_IMODE(st.st_mode))
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    def _set_owner(self, dst: Path, st: os.stat_result) -> None:
        if self._preserve_owner:
            os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)

    def finish(self) -> None:
        """Set the mode and times of every copied folder, deepest first."""
        deepest_first = sorted(
            self._folders.items(), key=lambda item: -len(item[0].parts)
        )
        for path, st in deepest_first:
            if path.is_symlink() or not path.is_dir():
                continue
            os.chmod(path, stat.S_IMODE(st.st_mode))
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        self._folders = {}


def copy_xattrs(src: Path, dst: Path, warn: Callable[[str], None]) -> None:
    """Make the layer xattrs of ``dst`` equal to those of ``src``.

    An xattr that the target filesystem rejects is reported to ``warn`` and skipped.
    """
    expected = read_xattrs(src)
    for name in read_xattrs(dst):
        if name not in expected:
            os.removexattr(dst, name, follow_symlinks=False)
    for name, value in expected.items():
        try:
            os.setxattr(dst, name, value, follow_symlinks=False)
        except OSError as error:
            if error.errno not in (errno.ENOTSUP, errno.EPERM, errno.EINVAL):
                raise
            warn(f"skipping xattr {name} of {dst}: {error.strerror}")


def remove_path(path: Path) -> None:
    """Delete ``path`` (a folder tree or any file), never following a symlink.

    A missing path is not an error.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)

"""The copying snapshotter, for hosts where overlayfs cannot be mounted.

``prepare`` copies the chain into one folder, lets the caller change it, then
compares it with what was copied and writes the difference in overlay format.
A changed entry is one whose inode or ctime differs from the copy. The kernel
updates ctime on every change to content or metadata, and user space cannot set
it back, so a change cannot hide behind a restored mtime. Unlike overlayfs, a
file that was only opened for writing, and not changed, is not copied up.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import struct
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from minikit.snapshot.copy import TreeCopier, remove_path
from minikit.snapshot.errors import SnapshotError
from minikit.snapshot.fsformat import is_opaque, is_whiteout, make_whiteout, set_opaque
from minikit.snapshot.tarentry import walk_sorted

logger = logging.getLogger(__name__)

# _IOR('v', 1, long) on 64-bit Linux: the inode generation, which changes when
# a freed inode number is reused. ext4 supports it, tmpfs does not.
_FS_IOC_GETVERSION = 0x80087601
_CTIME_WAIT_SECONDS = 2.0


@dataclass(frozen=True)
class _Copied:
    """Identity of an entry of the merged copy as it was handed to the caller."""

    inode: int
    generation: int | None
    ctime_ns: int
    is_folder: bool


class NativeSnapshotter:
    """A snapshotter that copies layers instead of mounting them."""

    name = "native"

    def __init__(self, state_dir: Path) -> None:
        self._views = state_dir / "native-views"
        self._views.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def prepare(
        self, lowers: Sequence[Path], upper: Path, work: Path
    ) -> Iterator[Path]:
        """Yield a merged copy of ``lowers``, then record its changes in ``upper``.

        The diff is written only when the body returns normally. The copy is
        deleted either way.
        """
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        merged = work / "merged"
        remove_path(merged)
        merged.mkdir()
        try:
            with _failure(f"copying the layers into {merged}"):
                merge_chain(lowers, merged)
                copied = _record(merged)
                _wait_for_ctime_tick(work, copied)
            yield merged
            with _failure(f"writing the changes of {merged} to {upper}"):
                write_diff(merged, copied, upper)
        finally:
            remove_path(merged)

    @contextlib.contextmanager
    def view(self, lowers: Sequence[Path]) -> Iterator[Path]:
        """Yield a merged copy of ``lowers``, whose changes are discarded on exit."""
        merged = Path(tempfile.mkdtemp(prefix="view-", dir=self._views))
        try:
            with _failure(f"copying the layers into {merged}"):
                merge_chain(lowers, merged)
            yield merged
        finally:
            remove_path(merged)


@contextlib.contextmanager
def _failure(action: str) -> Iterator[None]:
    """Turn an OSError raised while ``action`` runs into a SnapshotError."""
    try:
        yield
    except OSError as error:
        raise SnapshotError(
            f"native snapshotter failed while {action}: {error}",
            hint="check free space and permissions under the build's state folder",
        ) from error


def merge_chain(lowers: Sequence[Path], merged: Path) -> None:
    """Copy the chain ``lowers`` (top-most first) into the empty folder ``merged``."""
    copier = TreeCopier()
    for layer in reversed(lowers):
        copier.reset_links()
        for name, path, st in walk_sorted(layer):
            _merge_entry(copier, path, st, merged / name)
    copier.finish()


def _merge_entry(
    copier: TreeCopier, path: Path, st: os.stat_result, target: Path
) -> None:
    if is_whiteout(st):
        remove_path(target)
    elif stat.S_ISDIR(st.st_mode):
        if is_opaque(path):
            remove_path(target)
        copier.copy_folder(path, st, target)
    else:
        copier.copy_other(path, st, target)


def _record(merged: Path) -> dict[str, _Copied]:
    copied = {}
    for name, path, st in walk_sorted(merged):
        is_folder = stat.S_ISDIR(st.st_mode)
        generation = _inode_generation(path) if is_folder else None
        copied[name] = _Copied(st.st_ino, generation, st.st_ctime_ns, is_folder)
    return copied


def _inode_generation(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        result = fcntl.ioctl(fd, _FS_IOC_GETVERSION, b"\0" * 8)
    except OSError as error:
        if error.errno in (errno.ENOTTY, errno.EINVAL, errno.EOPNOTSUPP):
            return None
        raise
    finally:
        os.close(fd)
    return int(struct.unpack("l", result)[0])


def _wait_for_ctime_tick(work: Path, copied: dict[str, _Copied]) -> None:
    """Wait until the filesystem clock has moved past every recorded ctime.

    Timestamps are coarse (one kernel tick) on many filesystems. Without the wait,
    a change made within the tick of the copy could keep the recorded ctime and
    be missed.
    """
    newest = max((entry.ctime_ns for entry in copied.values()), default=0)
    probe = work / ".ctime-probe"
    probe.touch()
    deadline = time.monotonic() + _CTIME_WAIT_SECONDS
    try:
        while os.stat(probe).st_ctime_ns <= newest:
            if time.monotonic() > deadline:
                raise SnapshotError(
                    f"the clock of the filesystem under {work} did not advance",
                    hint="put the state folder on a filesystem with working timestamps",
                )
            time.sleep(0.001)
            os.utime(probe)
    finally:
        probe.unlink()


def write_diff(merged: Path, copied: dict[str, _Copied], upper: Path) -> None:
    """Write what changed in ``merged`` since ``copied`` was recorded to ``upper``."""
    writer = _DiffWriter(merged, copied, upper)
    for name, path, st in walk_sorted(merged):
        writer.add_present(name, path, st)
    for name, entry in sorted(copied.items()):
        writer.add_deleted(name, entry)
    writer.finish()


class _DiffWriter:
    def __init__(self, merged: Path, copied: dict[str, _Copied], upper: Path) -> None:
        self._merged = merged
        self._copied = copied
        self._upper = upper
        self._copier = TreeCopier()
        # Folders created anew: everything below them is new, and deletions below
        # them need no whiteout because the folder is opaque or new.
        self._fresh: set[str] = set()
        self._deleted_folders: set[str] = set()

    def add_present(self, name: str, path: Path, st: os.stat_result) -> None:
        entry = self._copied.get(name)
        if _has_ancestor_in(name, self._fresh):
            self._copy(name, path, st)
        elif stat.S_ISDIR(st.st_mode):
            self._add_folder(name, path, st, entry)
        elif entry is None or not _same_file(entry, st):
            self._copy(name, path, st)

    def _add_folder(
        self, name: str, path: Path, st: os.stat_result, entry: _Copied | None
    ) -> None:
        if entry is None:
            self._fresh.add(name)
            self._copy(name, path, st)
        elif not entry.is_folder or not _same_folder(entry, path, st):
            # Replaced: overlayfs marks a folder made where one was deleted opaque.
            self._fresh.add(name)
            self._copy(name, path, st)
            set_opaque(self._upper / name)
        elif entry.ctime_ns != st.st_ctime_ns:
            self._copy(name, path, st)

    def add_deleted(self, name: str, entry: _Copied) -> None:
        if _has_ancestor_in(name, self._fresh | self._deleted_folders):
            return
        if os.path.lexists(self._merged / name):
            return
        if not self._parent_is_folder(name):
            return
        self._ensure_parents(name)
        make_whiteout(self._upper / name)
        if entry.is_folder:
            self._deleted_folders.add(name)

    def _parent_is_folder(self, name: str) -> bool:
        parent = (self._merged / name).parent
        return parent.is_dir() and not parent.is_symlink()

    def _copy(self, name: str, path: Path, st: os.stat_result) -> None:
        self._ensure_parents(name)
        target = self._upper / name
        if stat.S_ISDIR(st.st_mode):
            self._copier.copy_folder(path, st, target)
        else:
            self._copier.copy_other(path, st, target)

    def _ensure_parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            target = self._upper / folder
            if not os.path.lexists(target):
                source = self._merged / folder
                self._copier.copy_folder(source, os.lstat(source), target)

    def finish(self) -> None:
        self._copier.finish()


def _same_file(entry: _Copied, st: os.stat_result) -> bool:
    return (
        not entry.is_folder
        and entry.inode == st.st_ino
        and entry.ctime_ns == st.st_ctime_ns
    )


def _same_folder(entry: _Copied, path: Path, st: os.stat_result) -> bool:
    if entry.inode != st.st_ino:
        return False
    # NOTE: without inode generations (tmpfs, for example) a folder that was
    # deleted and re-created under a reused inode number counts as changed in
    # place: its diff then lists whiteouts instead of being opaque. The merged
    # result is the same.
    return entry.generation is None or entry.generation == _inode_generation(path)


def _has_ancestor_in(name: str, folders: set[str]) -> bool:
    if not folders:
        return False
    parts = name.split("/")
    return any("/".join(parts[:depth]) in folders for depth in range(1, len(parts)))

"""Unpacking an OCI layer tar into a new overlay-format diff dir, entry by entry."""

from __future__ import annotations

import decimal
import errno
import logging
import os
import stat
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

from minikit.snapshot.compression import decompressing
from minikit.snapshot.copy import remove_path
from minikit.snapshot.errors import LayerError
from minikit.snapshot.fsformat import (
    OVERLAY_XATTR_PREFIXES,
    is_layer_xattr,
    make_whiteout,
    set_opaque,
)
from minikit.snapshot.layer import OPAQUE_MARKER, WHITEOUT_PREFIX
from minikit.snapshot.safepath import (
    CORRUPT_LAYER_HINT,
    resolve_in_root,
    split_entry_name,
)
from minikit.snapshot.tarentry import PAX_XATTR_PREFIX

logger = logging.getLogger(__name__)

_COPY_CHUNK = 1 << 20
_AUFS_META_PREFIX = ".wh..wh."


def apply_layer_tar(
    blob: Path,
    media_type: str,
    dest: Path,
    *,
    on_warning: Callable[[str], None] | None = None,
) -> None:
    """Unpack the layer ``blob`` into ``dest``, a new diff dir in overlay format.

    ``dest`` must be missing or empty. ``.wh.NAME`` entries become whiteouts and
    ``.wh..wh..opq`` marks its folder opaque. Each entry is created on its own and
    later entries replace earlier ones of the same path. Device nodes that cannot
    be created (rootless) are skipped with a message to ``on_warning``, and so are
    unsupported xattrs. Raises LayerError for an unreadable or unsafe tar, such as
    one whose names leave ``dest`` or write through a symlink. On error ``dest`` is
    left partly filled and the caller should delete it.
    """
    warn = on_warning or (lambda message: logger.warning("%s", message))
    _prepare_dest(dest)
    try:
        with open(blob, "rb") as raw, decompressing(raw, media_type) as stream:
            _apply_stream(stream, dest, warn)
    except (tarfile.TarError, EOFError, zlib.error) as error:
        raise LayerError(
            f"invalid layer tar {blob}: {error}",
            hint="the blob is truncated or not a tar. Delete it, then pull or build",
        ) from error
    except _zstd_errors() as error:
        raise LayerError(
            f"invalid zstd layer {blob}: {error}",
            hint="the blob is truncated or corrupt. Delete it, then pull or build",
        ) from error


def _prepare_dest(dest: Path) -> None:
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise LayerError(
            f"cannot unpack a layer into {dest}: it is not a folder",
            hint="unpack each layer into a new, empty folder",
        )
    if dest.exists() and any(dest.iterdir()):
        raise LayerError(
            f"cannot unpack a layer into {dest}: the folder is not empty",
            hint="unpack each layer into a new, empty folder",
        )
    dest.mkdir(parents=True, exist_ok=True)


def _apply_stream(stream: IO[bytes], dest: Path, warn: Callable[[str], None]) -> None:
    with tarfile.open(
        fileobj=stream,
        mode="r|",
        encoding="utf-8",
        errors="surrogateescape",
    ) as tar:
        applier = _Applier(tar, dest, warn)
        for member in tar:
            applier.apply(member)
        applier.finish()


def _zstd_errors() -> tuple[type[BaseException], ...]:
    try:
        import zstandard
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


class _Applier:
    def __init__(self, tar: tarfile.TarFile, dest: Path, warn: Callable[[str], None]):
        self._tar = tar
        self._dest = dest
        self._warn = warn
        # Folder metadata waits until the end, because creating entries inside a
        # folder changes its mtime and a read-only mode would block them.
        self._folders: dict[Path, tuple[int, int]] = {}
        self._current_mtime_ns = 0

    def apply(self, member: tarfile.TarInfo) -> None:
        parts = split_entry_name(member.name)
        if not parts:
            return
        self._current_mtime_ns = _mtime_ns(member)
        try:
            self._apply_named(member, parts[-1])
        except OSError as error:
            raise LayerError(
                f"failed to unpack layer entry {member.name!r}: "
                f"{error.strerror or error}",
                hint=_hint_for(error),
            ) from error

    def _apply_named(self, member: tarfile.TarInfo, base: str) -> None:
        path = resolve_in_root(self._dest, member.name, on_create=self._record_parent)
        if base == OPAQUE_MARKER:
            set_opaque(path.parent)
        elif base.startswith(_AUFS_META_PREFIX):
            self._warn(f"skipping AUFS metadata entry {member.name!r} in a layer")
        elif base.startswith(WHITEOUT_PREFIX):
            self._apply_whiteout(member, path.parent, base[len(WHITEOUT_PREFIX) :])
        else:
            self._apply_entry(member, path)

    def _record_parent(self, path: Path) -> None:
        """Give a folder that the tar never lists the mtime of the entry inside it."""
        self._folders[path] = (0o755, self._current_mtime_ns)

    def _apply_whiteout(self, member: tarfile.TarInfo, folder: Path, name: str) -> None:
        if name in ("", ".", ".."):
            raise LayerError(
                f"invalid whiteout entry {member.name!r} in a layer tar",
                hint=CORRUPT_LAYER_HINT,
            )
        target = folder / name
        remove_path(target)
        make_whiteout(target)
        # Owner and mtime come from the entry, so packing the folder again gives
        # the same tar.
        self._set_owner(member, target)
        mtime_ns = _mtime_ns(member)
        os.utime(target, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def _apply_entry(self, member: tarfile.TarInfo, path: Path) -> None:
        if member.isdir():
            self._apply_folder(member, path)
        elif member.isreg():
            self._apply_regular(member, path)
        elif member.issym():
            remove_path(path)
            os.symlink(member.linkname, path)
            self._set_metadata(member, path)
        elif member.islnk():
            self._apply_hardlink(member, path)
        elif member.ischr() or member.isblk() or member.isfifo():
            self._apply_special(member, path)
        else:
            self._warn(
                f"skipping layer entry {member.name!r}: "
                f"unsupported tar type {member.type!r}"
            )

    def _apply_folder(self, member: tarfile.TarInfo, path: Path) -> None:
        if path.is_symlink() or not path.is_dir():
            remove_path(path)
            os.mkdir(path, 0o700)
        self._set_owner(member, path)
        self._set_xattrs(member, path)
        self._folders[path] = (member.mode, _mtime_ns(member))

    def _apply_regular(self, member: tarfile.TarInfo, path: Path) -> None:
        remove_path(path)
        content = self._tar.extractfile(member)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        try:
            while content is not None and (chunk := content.read(_COPY_CHUNK)):
                _write_all(fd, chunk)
        finally:
            os.close(fd)
        self._set_metadata(member, path)

    def _apply_hardlink(self, member: tarfile.TarInfo, path: Path) -> None:
        target = resolve_in_root(self._dest, member.linkname)
        try:
            target_st = os.lstat(target)
        except FileNotFoundError:
            raise LayerError(
                f"invalid layer entry {member.name!r}: hardlink target "
                f"{member.linkname!r} is not in the layer",
                hint="a layer may only link to files that come earlier in the layer",
            ) from None
        if stat.S_ISDIR(target_st.st_mode):
            raise LayerError(
                f"invalid layer entry {member.name!r}: "
                f"hardlink to the folder {member.linkname!r}",
                hint=CORRUPT_LAYER_HINT,
            )
        if target == path:
            return
        remove_path(path)
        os.link(target, path, follow_symlinks=False)

    def _apply_special(self, member: tarfile.TarInfo, path: Path) -> None:
        remove_path(path)
        if member.isfifo():
            os.mkfifo(path, 0o600)
        else:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            try:
                os.mknod(
                    path, kind | 0o600, os.makedev(member.devmajor, member.devminor)
                )
            except PermissionError:
                self._warn(
                    f"skipping device node {member.name!r} "
                    f"({member.devmajor}:{member.devminor}): "
                    "not permitted to create it here"
                )
                return
        self._set_metadata(member, path)

    def _set_metadata(self, member: tarfile.TarInfo, path: Path) -> None:
        """Set owner, xattrs, mode and mtime, in the order that keeps setuid bits."""
        self._set_owner(member, path)
        if member.issym():
            self._warn_symlink_xattrs(member)
        else:
            self._set_xattrs(member, path)
            os.chmod(path, member.mode)
        mtime_ns = _mtime_ns(member)
        os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def _set_owner(self, member: tarfile.TarInfo, path: Path) -> None:
        os.chown(path, member.uid, member.gid, follow_symlinks=False)

    def _set_xattrs(self, member: tarfile.TarInfo, path: Path) -> None:
        for name, value in _xattrs_of(member).items():
            if not is_layer_xattr(name):
                if not name.startswith(OVERLAY_XATTR_PREFIXES):
                    self._warn(f"skipping xattr {name} of layer entry {member.name!r}")
                continue
            try:
                os.setxattr(path, name, value, follow_symlinks=False)
            except OSError as error:
                self._warn(
                    f"skipping xattr {name} of layer entry {member.name!r}: "
                    f"{error.strerror or error}"
                )

    def _warn_symlink_xattrs(self, member: tarfile.TarInfo) -> None:
        # Linux allows user.* xattrs only on regular files and folders.
        for name in _xattrs_of(member):
            self._warn(f"skipping xattr {name} of symlink {member.name!r}")

    def finish(self) -> None:
        deepest_first = sorted(
            self._folders.items(), key=lambda item: -len(item[0].parts)
        )
        for path, (mode, mtime_ns) in deepest_first:
            if path.is_symlink() or not path.is_dir():
                continue
            os.chmod(path, mode)
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _xattrs_of(member: tarfile.TarInfo) -> dict[str, bytes]:
    xattrs = {}
    for key, value in member.pax_headers.items():
        if key.startswith(PAX_XATTR_PREFIX):
            name = key[len(PAX_XATTR_PREFIX) :]
            xattrs[name] = value.encode("utf-8", "surrogateescape")
    return xattrs


def _mtime_ns(member: tarfile.TarInfo) -> int:
    """Return the entry's mtime in nanoseconds, exact for PAX fractional seconds."""
    text = member.pax_headers.get("mtime")
    if text is not None:
        try:
            return int(decimal.Decimal(text) * 1_000_000_000)
        except decimal.InvalidOperation:
            pass
    return int(member.mtime) * 1_000_000_000


def _hint_for(error: OSError) -> str:
    if isinstance(error, PermissionError) or error.errno == errno.EINVAL:
        return (
            "an owner or a file type in the layer is not allowed here. Rootless builds "
            "need a subordinate id range (/etc/subuid) that covers the layer's owners"
        )
    return "check free space and permissions of the layer folder"

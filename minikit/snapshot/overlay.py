"""The overlayfs snapshotter: one overlay mount per prepared or viewed chain.

Overlay is always mounted with ``userxattr`` (Linux >= 5.11), as root and rootless
alike, so opaque folders carry ``user.overlay.opaque`` everywhere. Long chains
are handled in three ways, best first:

1. the new mount API (``fsopen`` + ``fsconfig("lowerdir+")``, Linux >= 6.8), which
   passes one layer per call, so the count is limited only by overlay's stack depth;
2. ``mount(2)`` with absolute paths, while the option string fits in one page;
3. ``mount(2)`` with paths relative to the layers' common parent, after a
   ``chdir`` done in a forked child, so the threads of this process keep their
   working directory.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from minikit.snapshot import syscalls
from minikit.snapshot.errors import SnapshotError

logger = logging.getLogger(__name__)

MountAPI = Literal["auto", "new", "legacy"]

# The kernel's limit of lower layers. Linux 6.18 rejects 501 with "too many lower
# directories, limit is 500".
MAX_LAYERS = 500
# mount(2) copies at most one page of option data, including the final NUL.
_MAX_MOUNT_DATA = 4095
# fsconfig(2) takes string values of at most 255 bytes (checked on Linux 6.18).
_MAX_FSCONFIG_STRING = 255


class OverlaySnapshotter:
    """A snapshotter that mounts each chain as an overlayfs.

    ``state_dir`` contains the mountpoints and an empty folder that serves as the
    root of ``scratch``. ``mount_api`` forces one way of mounting, for tests.
    ``auto`` uses the new mount API when the kernel has ``lowerdir+``.
    """

    name = "overlayfs"

    def __init__(self, state_dir: Path, *, mount_api: MountAPI = "auto") -> None:
        self._mounts = state_dir / "overlay-mounts"
        # Two distinct empty folders, because overlay rejects a layer given twice.
        self._empty = (state_dir / "overlay-empty", state_dir / "overlay-empty-2")
        self._mounts.mkdir(parents=True, exist_ok=True)
        for folder in self._empty:
            folder.mkdir(parents=True, exist_ok=True)
        self._mount_api = mount_api
        self._lock = threading.Lock()
        self._has_lowerdir_plus: bool | None = None

    @contextlib.contextmanager
    def prepare(
        self, lowers: Sequence[Path], upper: Path, work: Path
    ) -> Iterator[Path]:
        """Mount a writable overlay of ``lowers`` whose changes land in ``upper``."""
        upper.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        layers = list(lowers) or [self._empty[0]]
        with self._mounted(layers, upper, work) as target:
            yield target

    @contextlib.contextmanager
    def view(self, lowers: Sequence[Path]) -> Iterator[Path]:
        """Mount a read-only overlay of ``lowers``."""
        # Overlay needs two lower layers when it has no upper layer.
        layers = list(lowers) + list(self._empty[: max(0, 2 - len(lowers))])
        with self._mounted(layers, None, None) as target:
            yield target

    @property
    def uses_new_mount_api(self) -> bool:
        """Whether mounts go through ``fsopen``/``fsconfig`` (probed on first use)."""
        return self._new_api_usable()

    @contextlib.contextmanager
    def _mounted(
        self, layers: list[Path], upper: Path | None, work: Path | None
    ) -> Iterator[Path]:
        _check_layer_count(layers)
        target = Path(tempfile.mkdtemp(prefix="mnt-", dir=self._mounts))
        try:
            self._mount(layers, upper, work, target)
        except BaseException:
            target.rmdir()
            raise
        try:
            yield target
        finally:
            _unmount(target)
            target.rmdir()

    def _mount(
        self, layers: list[Path], upper: Path | None, work: Path | None, target: Path
    ) -> None:
        options = _Options(layers, upper, work)
        try:
            if self._new_api_usable():
                _mount_new_api(options, target)
            else:
                _mount_legacy(options, target)
        except OSError as error:
            raise SnapshotError(
                f"failed to mount an overlay of {_count(layers)} at {target}: {error}",
                hint=(
                    "overlayfs needs Linux >= 5.11 for userxattr, and upper and work "
                    "folders on one filesystem that is not itself an overlay"
                ),
            ) from error

    def _new_api_usable(self) -> bool:
        if self._mount_api != "auto":
            return self._mount_api == "new"
        with self._lock:
            if self._has_lowerdir_plus is None:
                self._has_lowerdir_plus = _probe_lowerdir_plus(self._empty[0])
                logger.debug("overlay lowerdir+ available: %s", self._has_lowerdir_plus)
            return self._has_lowerdir_plus


class _Options:
    """The layers, upper and work folders of one overlay mount, as absolute paths."""

    def __init__(
        self, layers: list[Path], upper: Path | None, work: Path | None
    ) -> None:
        self.layers = [os.path.abspath(layer) for layer in layers]
        self.upper = os.path.abspath(upper) if upper is not None else None
        self.work = os.path.abspath(work) if work is not None else None

    @property
    def read_only(self) -> bool:
        return self.upper is None

    def legacy_data(self, base: str | None = None) -> str:
        """Return the mount(2) option string, with paths relative to ``base`` if given.

        Each path is spelled relative to ``base`` only where that is shorter, so
        an upper folder far from the layers keeps its absolute path.
        """

        def spell(path: str) -> str:
            if base is None:
                return _escape(path)
            relative = os.path.relpath(path, base)
            return _escape(min(relative, path, key=len))

        data = "userxattr,lowerdir=" + ":".join(spell(layer) for layer in self.layers)
        if self.upper is not None and self.work is not None:
            data += f",upperdir={spell(self.upper)},workdir={spell(self.work)}"
        return data

    def layers_parent(self) -> str:
        """Return the deepest folder that contains every layer."""
        return os.path.commonpath(self.layers)


def _count(layers: Sequence[object]) -> str:
    return "1 layer" if len(layers) == 1 else f"{len(layers)} layers"


def _escape(path: str) -> str:
    """Escape the characters that overlay's option parser splits on."""
    for char in ("\\", ":", ","):
        path = path.replace(char, "\\" + char)
    return path


def _check_layer_count(layers: list[Path]) -> None:
    if len(layers) > MAX_LAYERS:
        raise SnapshotError(
            f"cannot mount a chain of {_count(layers)}: overlayfs stacks at most "
            f"{MAX_LAYERS}",
            hint="squash the base image or merge RUN steps to use fewer layers",
        )


def _probe_lowerdir_plus(folder: Path) -> bool:
    """Tell whether the kernel takes overlay layers one at a time (``lowerdir+``)."""
    try:
        fd = syscalls.fsopen("overlay")
    except OSError as error:
        logger.debug("fsopen(overlay) failed, using mount(2): %s", error)
        return False
    try:
        syscalls.fsconfig_string(fd, "lowerdir+", str(folder))
    except OSError as error:
        logger.debug("overlay has no lowerdir+, using mount(2): %s", error)
        return False
    finally:
        os.close(fd)
    return True


def _mount_new_api(options: _Options, target: Path) -> None:
    fd = syscalls.fsopen("overlay")
    try:
        _configure(fd, options)
        mount_fd = syscalls.fsmount(
            fd, syscalls.MOUNT_ATTR_RDONLY if options.read_only else 0
        )
    except OSError as error:
        raise _with_kernel_log(error, fd) from error
    finally:
        os.close(fd)
    try:
        syscalls.move_mount(mount_fd, str(target))
    finally:
        os.close(mount_fd)


def _configure(fd: int, options: _Options) -> None:
    for layer in options.layers:
        _set_path(fd, "lowerdir+", layer)
    if options.upper is not None and options.work is not None:
        _set_path(fd, "upperdir", options.upper)
        _set_path(fd, "workdir", options.work)
    syscalls.fsconfig_flag(fd, "userxattr")
    syscalls.fsconfig_create(fd)


def _set_path(fd: int, key: str, path: str) -> None:
    """Pass a folder to the overlay context, even one with a path of any length.

    fsconfig copies at most 255 bytes of a string value. A longer path goes as
    an open file descriptor, which Linux 6.18 accepts, or else as its short
    ``/proc/self/fd/N`` alias. The alias works on 6.18 when tried by hand, but no
    test reaches that branch, because the kernel here takes the descriptor.
    """
    if len(os.fsencode(path)) <= _MAX_FSCONFIG_STRING:
        syscalls.fsconfig_string(fd, key, path)
        return
    folder = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            syscalls.fsconfig_fd(fd, key, folder)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            syscalls.fsconfig_string(fd, key, f"/proc/self/fd/{folder}")
    finally:
        os.close(folder)


def _with_kernel_log(error: OSError, fd: int) -> OSError:
    """Return ``error`` with the messages the kernel logged on the fs context."""
    messages = []
    for _ in range(16):
        try:
            messages.append(os.read(fd, 4096).decode(errors="replace").strip())
        except OSError:
            break
    if not messages:
        return error
    return OSError(
        error.errno, f"{error.strerror} ({'; '.join(messages)})", error.filename
    )


def _mount_legacy(options: _Options, target: Path) -> None:
    flags = syscalls.MS_RDONLY if options.read_only else 0
    data = options.legacy_data()
    if len(data.encode()) <= _MAX_MOUNT_DATA:
        syscalls.mount("overlay", str(target), "overlay", flags, data)
        return
    base = options.layers_parent()
    relative = options.legacy_data(base)
    if len(relative.encode()) > _MAX_MOUNT_DATA:
        raise SnapshotError(
            f"cannot mount a chain of {_count(options.layers)}: the overlay "
            f"options take {len(relative.encode())} bytes even with relative paths, "
            f"and mount(2) accepts {_MAX_MOUNT_DATA}",
            hint="use Linux >= 6.8 (overlay lowerdir+), or shorter state folder paths",
        )
    _mount_in_child(base, str(target), flags, relative)


def _mount_in_child(cwd: str, target: str, flags: int, data: str) -> None:
    """Call mount(2) from a forked child that changed into ``cwd`` first."""
    # Encode before forking, so the child of a threaded process does little.
    cwd_bytes, target_bytes, data_bytes = map(os.fsencode, (cwd, target, data))
    pid = os.fork()
    if pid == 0:
        code = errno.EIO
        try:
            os.chdir(cwd_bytes)
            syscalls.mount(b"overlay", target_bytes, b"overlay", flags, data_bytes)
            code = 0
        except OSError as error:
            code = error.errno or errno.EIO
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        raise OSError(
            errno.EIO, f"mount helper process killed by signal {-code}", target
        )
    if code != 0:
        raise OSError(code, f"mount overlay: {os.strerror(code)}", target)


def _unmount(target: Path) -> None:
    try:
        syscalls.umount(str(target))
    except OSError as error:
        if error.errno != errno.EBUSY:
            raise SnapshotError(
                f"failed to unmount the overlay at {target}: {error}"
            ) from error
        # A process still uses the mount: detach it now, the kernel frees it later.
        logger.warning("overlay at %s is busy, so it is detached instead", target)
        syscalls.umount(str(target), syscalls.MNT_DETACH)

"""Thin ctypes wrappers for the Linux mount system calls that the snapshotters use.

Each wrapper raises ``OSError`` with the errno of the failed call, so callers can
tell "not supported here" (ENOSYS, EINVAL) from real failures. The syscall
numbers of the new mount API (Linux >= 5.2) are the same on every architecture.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long

MS_RDONLY = 0x1
MNT_DETACH = 0x2

_SYS_MOVE_MOUNT = 429
_SYS_FSOPEN = 430
_SYS_FSCONFIG = 431
_SYS_FSMOUNT = 432

FSOPEN_CLOEXEC = 0x1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_SET_FD = 5
FSCONFIG_CMD_CREATE = 6
FSMOUNT_CLOEXEC = 0x1
MOUNT_ATTR_RDONLY = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100


def _check(result: int, call: str, path: str | None = None) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{call}: {os.strerror(errno)}", path)
    return result


def mount(
    source: str | bytes,
    target: str | bytes,
    fstype: str | bytes,
    flags: int,
    data: str | bytes,
) -> None:
    """Call mount(2) with ``data``, the comma-separated option string."""
    result = _libc.mount(
        os.fsencode(source),
        os.fsencode(target),
        os.fsencode(fstype),
        flags,
        os.fsencode(data),
    )
    _check(result, f"mount {os.fsdecode(fstype)}", os.fsdecode(target))


def umount(target: str, flags: int = 0) -> None:
    """Call umount2(2) on ``target``."""
    _check(_libc.umount2(os.fsencode(target), flags), "umount", target)


def fsopen(fstype: str) -> int:
    """Open a filesystem context for ``fstype`` and return its file descriptor."""
    fd = _libc.syscall(_SYS_FSOPEN, fstype.encode(), FSOPEN_CLOEXEC)
    return _check(fd, f"fsopen {fstype}")


def fsconfig_string(fd: int, key: str, value: str) -> None:
    """Set the string parameter ``key`` on a filesystem context."""
    result = _libc.syscall(
        _SYS_FSCONFIG,
        ctypes.c_int(fd),
        ctypes.c_uint(FSCONFIG_SET_STRING),
        key.encode(),
        os.fsencode(value),
        ctypes.c_int(0),
    )
    _check(result, f"fsconfig {key}", value)


def fsconfig_fd(fd: int, key: str, value_fd: int) -> None:
    """Set the parameter ``key`` of a filesystem context to the file ``value_fd``."""
    result = _libc.syscall(
        _SYS_FSCONFIG,
        ctypes.c_int(fd),
        ctypes.c_uint(FSCONFIG_SET_FD),
        key.encode(),
        None,
        ctypes.c_int(value_fd),
    )
    _check(result, f"fsconfig {key}")


def fsconfig_flag(fd: int, key: str) -> None:
    """Set the flag parameter ``key`` on a filesystem context."""
    result = _libc.syscall(
        _SYS_FSCONFIG,
        ctypes.c_int(fd),
        ctypes.c_uint(FSCONFIG_SET_FLAG),
        key.encode(),
        None,
        ctypes.c_int(0),
    )
    _check(result, f"fsconfig {key}")


def fsconfig_create(fd: int) -> None:
    """Create the superblock of a configured filesystem context."""
    result = _libc.syscall(
        _SYS_FSCONFIG,
        ctypes.c_int(fd),
        ctypes.c_uint(FSCONFIG_CMD_CREATE),
        None,
        None,
        ctypes.c_int(0),
    )
    _check(result, "fsconfig create")


def fsmount(fd: int, attr_flags: int) -> int:
    """Turn a created filesystem context into a detached mount and return its fd."""
    result = _libc.syscall(
        _SYS_FSMOUNT,
        ctypes.c_int(fd),
        ctypes.c_uint(FSMOUNT_CLOEXEC),
        ctypes.c_uint(attr_flags),
    )
    return _check(result, "fsmount")


def move_mount(mount_fd: int, target: str) -> None:
    """Attach the detached mount ``mount_fd`` at the absolute path ``target``."""
    result = _libc.syscall(
        _SYS_MOVE_MOUNT,
        ctypes.c_int(mount_fd),
        b"",
        ctypes.c_int(_AT_FDCWD),
        os.fsencode(target),
        ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
    )
    _check(result, "move_mount", target)

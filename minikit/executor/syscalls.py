"""ctypes bindings for the Linux system calls the executor makes.

Python 3.11 has no ``os.unshare``, ``os.mount`` or ``pivot_root``, so they
are called through libc here. Every wrapper raises ``SetupError`` naming the
operation, the path and the errno text, which is what the build process
turns into an ``ExecutorError``.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_SECCOMP = 22
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1

# pivot_root has a different number on each architecture; mount_setattr came
# after the kernel unified new syscall numbers (5.12), so it is 442 on all.
_PIVOT_ROOT = {
    "x86_64": 155,
    "aarch64": 41,
    "riscv64": 41,
    "ppc64le": 203,
    "s390x": 217,
}
_MOUNT_SETATTR = 442
_OPENAT2 = 437

# openat2(2) resolve flags (linux/openat2.h).
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.syscall.restype = ctypes.c_long


class SetupError(Exception):
    """A failed step of sandbox setup; it travels to the build process as JSON."""

    def __init__(self, message: str, *, hint: str = "", errno_value: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.errno_value = errno_value

    @classmethod
    def from_errno(
        cls, operation: str, path: str, errno_value: int, hint: str = ""
    ) -> SetupError:
        """Build the error for ``operation`` on ``path`` that failed with ``errno_value``."""
        target = f" {path}" if path else ""
        text = os.strerror(errno_value)
        return cls(
            f"failed to {operation}{target}: {text}", hint=hint, errno_value=errno_value
        )

    @classmethod
    def from_os_error(cls, operation: str, path: str, error: OSError) -> SetupError:
        """Build the error for ``operation`` on ``path`` from a caught ``OSError``."""
        return cls.from_errno(operation, path, error.errno or errno.EIO)

    def to_json(self) -> dict[str, Any]:
        """Return the status message that carries this error."""
        return {
            "type": "error",
            "message": self.message,
            "hint": self.hint,
            "errno": self.errno_value,
        }


def _fail(operation: str, path: str) -> SetupError:
    return SetupError.from_errno(operation, path, ctypes.get_errno())


def _encode(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    """Move the calling process into the new namespaces named by ``flags``."""
    if _libc.unshare(flags) != 0:
        raise _fail("unshare namespaces", f"(flags {flags:#x})")


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    data: str | None = None,
) -> None:
    """Call mount(2); ``target`` names the mount in the error message."""
    result = _libc.mount(
        _encode(source), os.fsencode(target), _encode(fstype), flags, _encode(data)
    )
    if result != 0:
        kind = fstype or ("bind" if flags & MS_BIND else "remount")
        raise _fail(f"mount {kind} on", target)


def umount(target: str, flags: int = 0) -> None:
    """Call umount2(2)."""
    if _libc.umount2(os.fsencode(target), flags) != 0:
        raise _fail("unmount", target)


def make_private(target: str) -> None:
    """Stop mount events from propagating out of (or into) ``target`` and below."""
    mount(None, target, None, MS_REC | MS_PRIVATE)


def pivot_root(new_root: str, put_old: str) -> None:
    """Call pivot_root(2) through syscall(2), since libc has no wrapper."""
    machine = os.uname().machine
    number = _PIVOT_ROOT.get(machine)
    if number is None:
        raise SetupError(f"failed to pivot_root: unsupported architecture {machine}")
    result = _libc.syscall(
        ctypes.c_long(number), os.fsencode(new_root), os.fsencode(put_old)
    )
    if result != 0:
        raise _fail("pivot_root to", new_root)


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def set_readonly(target: str, recursive: bool) -> None:
    """Make the mount at ``target`` read-only, with every submount if ``recursive``.

    mount_setattr(2) (Linux 5.12) changes only the read-only bit, so it keeps
    flags the kernel locked on mounts copied from another user namespace.
    Older kernels get a remount that repeats the current flags.
    """
    attr = _MountAttr(attr_set=MOUNT_ATTR_RDONLY)
    flags = AT_RECURSIVE if recursive else 0
    result = _libc.syscall(
        ctypes.c_long(_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        os.fsencode(target),
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if result == 0:
        return
    if ctypes.get_errno() != errno.ENOSYS:
        raise _fail("make read-only", target)
    mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(target))


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


def open_in_root(root: str, path: str) -> int:
    """Open ``path`` as an ``O_PATH`` descriptor, resolved as if ``root`` were ``/``.

    openat2(2) with RESOLVE_IN_ROOT (Linux 5.6) resolves every component in
    one step, so a symlink swapped in by a concurrent RUN still cannot lead
    outside ``root``. Raises ``SetupError`` when ``root`` or ``path`` does not
    exist.
    """
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise SetupError.from_os_error("open", root, error) from error
    try:
        how = _OpenHow(
            flags=os.O_PATH | os.O_CLOEXEC,
            resolve=RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        )
        result = _libc.syscall(
            ctypes.c_long(_OPENAT2),
            ctypes.c_int(root_fd),
            os.fsencode(path),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if result < 0:
            raise _fail("open", path)
        return int(result)
    finally:
        os.close(root_fd)


def locked_flags(target: str) -> int:
    """Return the per-mount flags of ``target`` that a bind remount must repeat."""
    current = os.statvfs(target).f_flag
    pairs = (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    )
    return sum(
        mount_flag for statvfs_flag, mount_flag in pairs if current & statvfs_flag
    )


def sethostname(name: str) -> None:
    """Set the hostname of the calling process's UTS namespace."""
    encoded = name.encode()
    if _libc.sethostname(encoded, len(encoded)) != 0:
        raise _fail("set hostname", name)


def set_process_name(name: bytes) -> None:
    """Set the calling thread's name (``comm``, at most 15 bytes) with PR_SET_NAME."""
    buffer = ctypes.create_string_buffer(name[:15])
    if _libc.prctl(PR_SET_NAME, ctypes.addressof(buffer), 0, 0, 0) != 0:
        raise _fail("set process name", name.decode(errors="replace"))


def prctl(
    option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0
) -> int:
    """Call prctl(2) with integer arguments and return its result."""
    result = _libc.prctl(option, arg2, arg3, arg4, arg5)
    if result < 0:
        raise _fail("call prctl", f"option {option}")
    return int(result)


def prctl_pointer(option: int, arg2: int, address: int) -> None:
    """Call prctl(2) with the memory ``address`` as its third argument."""
    if _libc.prctl(option, arg2, address, 0, 0) != 0:
        raise _fail("call prctl", f"option {option}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set the calling thread's capability sets from 64-bit masks."""
    header = _CapHeader(version=_LINUX_CAPABILITY_VERSION_3, pid=0)
    data = (_CapData * 2)()
    for index in range(2):
        shift = 32 * index
        data[index].effective = (effective >> shift) & 0xFFFFFFFF
        data[index].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[index].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise _fail("set capabilities", "")

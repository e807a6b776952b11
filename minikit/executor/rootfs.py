"""Assemble a RUN's root filesystem inside its own mount namespace, then pivot to it.

Everything here runs in the RUN's init process after it has unshared its
mount namespace, so every mount vanishes with the RUN. Destinations are
resolved inside the rootfs, so symlinks cannot point outside it. Missing
destinations are created as stubs, which the build process records before
and deletes after the RUN (``minikit.executor.stubs``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from dataclasses import dataclass

from minikit.executor.stubs import host_path, resolve_in_root
from minikit.executor.syscalls import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    MS_STRICTATIME,
    SetupError,
    mount,
    open_in_root,
    pivot_root,
    set_readonly,
    umount,
)
from minikit.executor.types import MountSpec, RunSpec

# Hidden (masked) and read-only paths of containerd's default OCI spec.
MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)

# Device nodes bind-mounted from the host's /dev, since a user namespace
# cannot create device nodes.
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_LINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
)
# The size Docker gives /dev/shm.
SHM_SIZE = "65536k"
# The group that owns terminals in Debian, Alpine and most other images.
TTY_GID = 5
SECRET_MODE = 0o400
TMPFS_MODE = 0o1777
ETC_FILES = ("hosts", "resolv.conf", "hostname")

# Destinations the executor itself mounts on, for stub recording.
SYSTEM_DESTINATIONS = ("/proc", "/dev", "/sys") + tuple(
    f"/etc/{name}" for name in ETC_FILES
)


@dataclass(frozen=True)
class RootOptions:
    """What besides the RunSpec decides how the root is built."""

    scratch: str
    files: dict[str, str]
    tty_gid_mapped: bool


def prepare_root(spec: RunSpec, options: RootOptions) -> None:
    """Mount the RUN's filesystems on ``spec.rootfs``, then make it ``/``."""
    root = spec.rootfs
    mount(root, root, None, MS_BIND | MS_REC)
    sandbox = spec.security != "insecure"
    mount_proc(root)
    mount_dev(root, options.tty_gid_mapped)
    mount_sys(root, spec.network != "host", writable=not sandbox)
    if sandbox:
        mask_paths(root)
    secrets_dir = mount_scratch(options.scratch, options.files)
    bind_etc_files(root, options.scratch)
    for mount_spec in spec.mounts:
        mount_one(root, mount_spec, secrets_dir)
    enter_root(root)
    if spec.readonly_rootfs:
        set_readonly("/", recursive=False)


def make_destination(root: str, destination: str, directory: bool) -> str:
    """Return the host path of ``destination`` in ``root``, creating it if missing.

    The deepest existing ancestor keeps its atime and mtime, so a stub that
    is deleted after the RUN leaves no trace in its parent either.
    """
    relative = resolve_in_root(root, destination)
    target = host_path(root, relative)
    if os.path.lexists(target):
        return target
    parts = relative.split("/")
    depth = len(parts) - 1
    while depth > 0 and not os.path.lexists(os.path.join(root, *parts[:depth])):
        depth -= 1
    ancestor = host_path(root, "/".join(parts[:depth]))
    try:
        before = os.stat(ancestor)
        _create_path(ancestor, parts[depth:], directory)
        os.utime(ancestor, ns=(before.st_atime_ns, before.st_mtime_ns))
    except OSError as error:
        raise SetupError.from_os_error(
            "create mount point", destination, error
        ) from error
    return target


def _create_path(ancestor: str, missing: list[str], directory: bool) -> None:
    # EEXIST is fine: the mount fails later if the type is wrong.
    current = ancestor
    for name in missing[:-1]:
        current = os.path.join(current, name)
        with contextlib.suppress(FileExistsError):
            os.mkdir(current, 0o755)
    last = os.path.join(current, missing[-1])
    with contextlib.suppress(FileExistsError):
        if directory:
            os.mkdir(last, 0o755)
        else:
            flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
            os.close(os.open(last, flags, 0o644))


def mount_proc(root: str) -> None:
    """Mount a procfs of the RUN's pid namespace on ``/proc``."""
    target = make_destination(root, "/proc", True)
    mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def mount_dev(root: str, tty_gid_mapped: bool) -> None:
    """Mount a minimal ``/dev`` on tmpfs: host devices, devpts, shm, mqueue, links."""
    dev = make_destination(root, "/dev", True)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
    for name in DEVICES:
        node = os.path.join(dev, name)
        os.close(os.open(node, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o666))
        mount(f"/dev/{name}", node, None, MS_BIND)
    pts = os.path.join(dev, "pts")
    os.mkdir(pts, 0o755)
    pts_options = "newinstance,ptmxmode=0666,mode=0620"
    if tty_gid_mapped:
        pts_options += f",gid={TTY_GID}"
    mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, pts_options)
    shm = os.path.join(dev, "shm")
    os.mkdir(shm, 0o1777)
    mount(
        "shm",
        shm,
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"mode=1777,size={SHM_SIZE}",
    )
    mqueue = os.path.join(dev, "mqueue")
    os.mkdir(mqueue, 0o755)
    mount("mqueue", mqueue, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name, target in DEV_LINKS:
        os.symlink(target, os.path.join(dev, name))


def mount_sys(root: str, own_network: bool, writable: bool) -> None:
    """Mount ``/sys``: a new sysfs when the RUN has its own network namespace.

    The kernel allows a new sysfs only to the owner of the network
    namespace, so with host networking ``/sys`` is a read-only bind.
    """
    target = make_destination(root, "/sys", True)
    read_only = 0 if writable else MS_RDONLY
    if own_network:
        try:
            mount(
                "sysfs", target, "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | read_only
            )
            return
        except SetupError as error:
            if error.errno_value not in (errno.EPERM, errno.EACCES):
                raise
    mount("/sys", target, None, MS_BIND | MS_REC)
    if not writable:
        set_readonly(target, recursive=True)


def mask_paths(root: str) -> None:
    """Hide kernel interfaces under /proc and /sys, and make others read-only."""
    for path in MASKED_PATHS:
        target = root + path
        if os.path.isdir(target):
            mount(
                "tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
            )
        elif os.path.exists(target):
            mount(os.path.join(root, "dev/null"), target, None, MS_BIND)
    for path in READONLY_PATHS:
        target = root + path
        if os.path.exists(target):
            mount(target, target, None, MS_BIND | MS_REC)
            set_readonly(target, recursive=True)


def mount_scratch(scratch: str, files: dict[str, str]) -> str:
    """Mount a private tmpfs on ``scratch`` holding the /etc files; return the
    directory for secrets, itself a tmpfs of mode 0711.

    The scratch directory is outside the rootfs and only this RUN's mount
    namespace sees the tmpfs, so nothing written here reaches a disk.
    """
    mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
    for name in ETC_FILES:
        path = os.path.join(scratch, name)
        descriptor = os.open(
            path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o644
        )
        try:
            os.write(descriptor, files.get(name, "").encode())
        finally:
            os.close(descriptor)
    secrets_dir = os.path.join(scratch, "secrets")
    os.mkdir(secrets_dir, 0o711)
    mount("tmpfs", secrets_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=711")
    return secrets_dir


def bind_etc_files(root: str, scratch: str) -> None:
    """Bind the generated hosts, resolv.conf and hostname read-only into ``/etc``."""
    for name in ETC_FILES:
        target = make_destination(root, f"/etc/{name}", False)
        _bind_readonly(os.path.join(scratch, name), target, MS_NOEXEC)


def _bind_readonly(source: str, target: str, extra_flags: int) -> None:
    mount(source, target, None, MS_BIND)
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | extra_flags
    mount(None, target, None, flags)


def mount_one(root: str, spec: MountSpec, secrets_dir: str) -> None:
    """Mount one requested ``MountSpec`` at its destination inside ``root``."""
    if spec.type == "bind":
        _mount_bind(root, spec)
    elif spec.type == "tmpfs":
        _mount_tmpfs(root, spec)
    elif spec.type == "secret":
        _mount_secret(root, spec, secrets_dir)
    elif spec.type == "socket":
        target = make_destination(root, spec.dest, False)
        mount(spec.source, target, None, MS_BIND)
    else:
        raise SetupError(
            f"failed to mount {spec.dest}: unknown mount type {spec.type!r}"
        )


def _mount_bind(root: str, spec: MountSpec) -> None:
    if spec.selector:
        try:
            descriptor = open_in_root(spec.source, spec.selector)
        except SetupError as error:
            raise SetupError(
                f"failed to mount {spec.dest}: source path {spec.selector} not found "
                "inside the mounted folder",
                hint="create the path in an earlier RUN (symlinks in it resolve "
                "inside the mounted folder, never outside it)",
                errno_value=error.errno_value,
            ) from error
        try:
            _bind_source(root, spec, f"/proc/self/fd/{descriptor}")
        finally:
            os.close(descriptor)
        return
    _bind_source(root, spec, spec.source)


def _bind_source(root: str, spec: MountSpec, source: str) -> None:
    try:
        is_directory = os.path.isdir(source)
        os.stat(source)
    except OSError as error:
        raise SetupError.from_os_error(
            "mount bind source", spec.source, error
        ) from error
    target = make_destination(root, spec.dest, is_directory)
    mount(source, target, None, MS_BIND | MS_REC)
    if spec.readonly:
        set_readonly(target, recursive=True)


def _mount_tmpfs(root: str, spec: MountSpec) -> None:
    target = make_destination(root, spec.dest, True)
    mode = TMPFS_MODE if spec.mode is None else spec.mode
    options = f"mode={mode:o}"
    if spec.size > 0:
        options += f",size={spec.size}"
    flags = MS_NOSUID | (MS_RDONLY if spec.readonly else 0)
    mount("tmpfs", target, "tmpfs", flags, options)


def _mount_secret(root: str, spec: MountSpec, secrets_dir: str) -> None:
    mode = (SECRET_MODE if spec.mode is None else spec.mode) & 0o777
    source = _write_secret(secrets_dir, spec, mode)
    target = make_destination(root, spec.dest, False)
    _bind_readonly(source, target, 0 if mode & 0o111 else MS_NOEXEC)


def _write_secret(secrets_dir: str, spec: MountSpec, mode: int) -> str:
    path = os.path.join(secrets_dir, secrets.token_hex(8))
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(path, flags, 0o600)
    try:
        view = memoryview(spec.data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fchown(descriptor, spec.uid, spec.gid)
        os.fchmod(descriptor, mode)
    except OSError as error:
        owner = f"{spec.uid}:{spec.gid}"
        raise SetupError.from_os_error(
            f"write secret for {spec.dest} with owner {owner} to", "tmpfs", error
        ) from error
    finally:
        os.close(descriptor)
    return path


def enter_root(root: str) -> None:
    """Make ``root`` the process's ``/`` with pivot_root and detach the old root.

    pivot_root(".", ".") stacks the old root on top of the new one, and the
    lazy unmount then removes it, so no directory for the old root is needed.
    """
    os.chdir(root)
    pivot_root(".", ".")
    umount(".", MNT_DETACH)
    os.chdir("/")

"""The executor's public values: namespaces, run requests and run results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

NetworkMode = Literal["default", "none", "host"]
SecurityMode = Literal["sandbox", "insecure"]
MountKind = Literal["bind", "tmpfs", "secret", "socket"]

# The largest id range a user namespace can map (the kernel reserves -1).
FULL_ID_RANGE = 4294967295


@dataclass(frozen=True)
class IdMapping:
    """One line of ``/proc/PID/uid_map``: ``size`` ids from ``container_id`` up
    map to host ids from ``host_id`` up."""

    container_id: int
    host_id: int
    size: int


@dataclass(frozen=True)
class BuildNamespace:
    """The namespaces the whole build runs in, as ``enter_build_namespace`` made them.

    ``uid_map`` and ``gid_map`` are the maps as read back from the kernel:
    the identity for root, ``0 -> host_uid`` plus the subordinate range for a
    rootless user. ``full_range`` is False when only container id 0 could be
    mapped, and ``warnings`` then names what will not work.
    """

    rootless: bool
    uid_map: tuple[IdMapping, ...]
    gid_map: tuple[IdMapping, ...]
    full_range: bool
    warnings: tuple[str, ...]
    host_uid: int
    host_gid: int


@dataclass(frozen=True)
class MountSpec:
    """A mount inside a RUN at ``dest``, created as a mount stub when missing.

    ``source`` is a host path for ``bind`` and ``socket``. A ``bind`` with a
    ``selector`` mounts that path inside ``source``, resolved when the RUN
    starts as if ``source`` were ``/``, so a symlink that a concurrent RUN
    puts there cannot lead outside ``source``. ``size`` is the tmpfs size in
    bytes (0 keeps the kernel default). ``data`` is the content of a secret
    and never appears in ``repr``. ``uid``, ``gid`` and ``mode`` apply to a
    secret file and to a tmpfs root (``mode`` only).
    """

    dest: str
    type: MountKind
    source: str = ""
    readonly: bool = False
    size: int = 0
    data: bytes = field(default=b"", repr=False)
    uid: int = 0
    gid: int = 0
    mode: int | None = None
    selector: str = ""


@dataclass(frozen=True)
class RunSpec:
    """One process to run on ``rootfs``, the directory that becomes ``/``.

    ``user`` is ``""`` (root), ``name``, ``uid``, ``name:group`` or
    ``uid:gid``, resolved in the rootfs's ``/etc/passwd`` and ``/etc/group``.
    ``extra_hosts`` lists ``(hostname, address)`` pairs for ``/etc/hosts``.
    Two RUNs must not share a rootfs at the same time: each deletes the
    mount stubs it recorded, which the other may still be mounted on.
    """

    rootfs: str
    args: tuple[str, ...]
    env: tuple[str, ...]
    cwd: str = "/"
    user: str = ""
    hostname: str = "buildkitsandbox"
    mounts: tuple[MountSpec, ...] = ()
    network: NetworkMode = "default"
    security: SecurityMode = "sandbox"
    readonly_rootfs: bool = False
    extra_hosts: tuple[tuple[str, str], ...] = ()
    remove_mount_stubs: bool = True


@dataclass(frozen=True)
class RunResult:
    """The end of a RUN: the command's exit status (128 + N after signal N).

    ``removed_stubs`` lists the container paths of the mount stubs that were
    deleted after the process exited, deepest first.
    """

    exit_code: int
    cancelled: bool = False
    removed_stubs: tuple[str, ...] = ()

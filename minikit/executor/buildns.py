"""The build namespace: the user and mount namespaces a whole build runs in.

``enter_build_namespace`` forks. The parent stays in the original
namespaces, forwards signals and exits with the child's status; the child
carries on with the build. A rootless user gets a user namespace that maps
container id 0 to the user and 1..N to the user's subordinate range, so
image files keep their owners. Both root and rootless builds get a mount
namespace whose mounts are private, so every mount the build makes dies
with the build process, even after SIGKILL.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import threading
from dataclasses import dataclass
from typing import NoReturn

from minikit.errors import ExecutorError
from minikit.executor import idmap
from minikit.executor.syscalls import (
    CLONE_NEWNS,
    CLONE_NEWUSER,
    PR_SET_PDEATHSIG,
    SetupError,
    make_private,
    prctl,
    unshare,
)
from minikit.executor.types import FULL_ID_RANGE, BuildNamespace, IdMapping

logger = logging.getLogger(__name__)

SUBUID_PATH = "/etc/subuid"
SUBGID_PATH = "/etc/subgid"
# si_code of a signal the kernel sent, such as a terminal's ^C, which the
# child receives directly because it shares the process group.
SI_KERNEL = 0x80
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_current: BuildNamespace | None = None


def current_build_namespace() -> BuildNamespace | None:
    """Return what ``enter_build_namespace`` returned in this process, if it ran."""
    return _current


def enter_build_namespace() -> BuildNamespace:
    """Fork, and continue in the child inside new namespaces; see the module docstring.

    Must be called before any thread starts. A second call returns the same
    namespace without forking again.
    """
    global _current
    if _current is not None:
        return _current
    if threading.active_count() > 1:
        raise ExecutorError(
            "failed to enter the build namespace: other threads are already running",
            hint="call enter_build_namespace() at startup, before any thread starts",
        )
    try:
        namespace = _enter_as_root() if os.geteuid() == 0 else _enter_rootless()
    except SetupError as error:
        raise ExecutorError(error.message, hint=error.hint or None) from error
    logger.debug(
        "entered the build namespace (%s)", "rootless" if namespace.rootless else "as root"
    )
    _current = namespace
    return namespace


def _enter_as_root() -> BuildNamespace:
    parent_pid = os.getpid()
    child_pid = os.fork()
    if child_pid != 0:
        _supervise(child_pid)
    _die_with(parent_pid)
    unshare(CLONE_NEWNS)
    make_private("/")
    identity = (IdMapping(0, 0, FULL_ID_RANGE),)
    return BuildNamespace(
        rootless=False,
        uid_map=_read_map("uid_map", identity),
        gid_map=_read_map("gid_map", identity),
        full_range=True,
        warnings=(),
        host_uid=0,
        host_gid=os.getgid(),
    )


@dataclass(frozen=True)
class _MappingPlan:
    """The parent's plan for mapping the child's new user namespace."""

    uid_args: tuple[str, ...]
    gid_args: tuple[str, ...]
    newuidmap: str
    newgidmap: str
    warning: str

    @property
    def full(self) -> bool:
        return not self.warning


def _plan_mapping(uid: int, gid: int) -> _MappingPlan:
    name = _user_name(uid)
    uid_ranges = idmap.read_subordinate_ranges(SUBUID_PATH, name, uid)
    gid_ranges = idmap.read_subordinate_ranges(SUBGID_PATH, name, uid)
    newuidmap = shutil.which("newuidmap") or ""
    newgidmap = shutil.which("newgidmap") or ""
    warning = ""
    if not (newuidmap and newgidmap):
        warning = "newuidmap/newgidmap not found (Debian package uidmap)"
    elif not (uid_ranges and gid_ranges):
        warning = f"no subordinate id range for user {name} in {SUBUID_PATH} and {SUBGID_PATH}"
    return _MappingPlan(
        uid_args=_map_arguments(uid, uid_ranges),
        gid_args=_map_arguments(gid, gid_ranges),
        newuidmap=newuidmap,
        newgidmap=newgidmap,
        warning=warning,
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _map_arguments(own_id: int, ranges: list[tuple[int, int]]) -> tuple[str, ...]:
    arguments = ["0", str(own_id), "1"]
    next_id = 1
    for start, count in ranges:
        arguments += [str(next_id), str(start), str(count)]
        next_id += count
    return tuple(arguments)


def _fallback_warning(reason: str) -> str:
    return (
        f"{reason}: only your own user is mapped, to root, inside the build, so "
        "files owned by other ids in images, USER with other ids and chown to "
        "other ids will not work"
    )


def _enter_rootless() -> BuildNamespace:
    uid, gid = os.getuid(), os.getgid()
    plan = _plan_mapping(uid, gid)
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    parent_pid = os.getpid()
    child_pid = os.fork()
    if child_pid != 0:
        os.close(request_w)
        os.close(reply_r)
        _map_child(child_pid, plan, request_r, reply_w)
        _supervise(child_pid)

    os.close(request_r)
    os.close(reply_w)
    unshare(CLONE_NEWUSER)
    os.write(request_w, b"u")
    os.close(request_w)
    reply = _read_all(reply_r)
    warning = ""
    if reply != b"mapped":
        reason = plan.warning or reply.decode("utf-8", "replace")
        warning = _fallback_warning(reason)
        _map_self(uid, gid)

    _die_with(parent_pid)
    unshare(CLONE_NEWNS)
    make_private("/")
    return BuildNamespace(
        rootless=True,
        uid_map=idmap.read_id_map("/proc/self/uid_map"),
        gid_map=idmap.read_id_map("/proc/self/gid_map"),
        full_range=not warning,
        warnings=(warning,) if warning else (),
        host_uid=uid,
        host_gid=gid,
    )


def _map_child(
    child_pid: int, plan: _MappingPlan, request_r: int, reply_w: int
) -> None:
    """In the parent: map the child's user namespace once it has unshared it."""
    try:
        if os.read(request_r, 1) != b"u":
            return
        if not plan.full:
            os.write(reply_w, b"self")
            return
        import subprocess

        try:
            _run_map_tool(plan.newuidmap, child_pid, plan.uid_args)
            _run_map_tool(plan.newgidmap, child_pid, plan.gid_args)
            os.write(reply_w, b"mapped")
        except (OSError, subprocess.SubprocessError) as error:
            os.write(reply_w, str(error).encode())
    finally:
        os.close(request_r)
        os.close(reply_w)


def _run_map_tool(tool: str, pid: int, arguments: tuple[str, ...]) -> None:
    import subprocess

    result = subprocess.run(
        [tool, str(pid), *arguments], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.strip() or f"exit status {result.returncode}"
        raise subprocess.SubprocessError(f"{os.path.basename(tool)} failed: {message}")


def _map_self(uid: int, gid: int) -> None:
    """Map only the caller's own ids to root, which needs no helper program.

    The kernel allows this single mapping to an unprivileged process only
    after setgroups(2) has been denied in the new namespace.
    """
    for path, text in (
        ("/proc/self/setgroups", "deny"),
        ("/proc/self/uid_map", f"0 {uid} 1\n"),
        ("/proc/self/gid_map", f"0 {gid} 1\n"),
    ):
        try:
            with open(path, "w", encoding="ascii") as handle:
                handle.write(text)
        except OSError as error:
            raise SetupError.from_os_error("write", path, error) from error


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _read_map(name: str, default: tuple[IdMapping, ...]) -> tuple[IdMapping, ...]:
    try:
        return idmap.read_id_map(f"/proc/self/{name}")
    except OSError:
        return default


def _die_with(parent_pid: int) -> None:
    """Make the kernel kill this process when the supervising parent dies."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def _supervise(child_pid: int) -> NoReturn:
    """In the parent: forward signals to the build and exit with its status."""
    waited = set(FORWARDED_SIGNALS) | {signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, waited)
    while True:
        pid, status = os.waitpid(child_pid, os.WNOHANG)
        if pid == child_pid:
            os._exit(_exit_code(status))
        info = signal.sigwaitinfo(waited)
        if info.si_signo == signal.SIGCHLD or info.si_code == SI_KERNEL:
            continue
        try:
            os.kill(child_pid, info.si_signo)
        except ProcessLookupError:
            pass


def _exit_code(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code

"""The processes of one RUN: its supervisor, its init (pid 1) and the command.

The namespace helper forks the supervisor for each request. The supervisor
unshares the user, pid, ipc, uts and (unless ``host``) network namespaces,
waits until the helper has written its id maps, and forks init, the first
process of the new pid namespace. Init unshares a mount namespace, builds
the root filesystem, drops its own privileges to the command's, starts the
command with posix_spawn and reaps every process until the command exits.
When init exits, the kernel kills whatever is left in the pid namespace. The supervisor stays outside that pid namespace, so it
can wait for init, kill it on cancellation and report the exit status.

Every function that runs in a forked process ends in ``os._exit``: an
exception must never unwind into the helper's loop inside a child.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
from dataclasses import dataclass
from typing import NoReturn

from minikit.executor import capabilities, idmap, network, rootfs, seccomp, users
from minikit.executor.protocol import RunRequest, send_status
from minikit.executor.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    SetupError,
    capset,
    make_private,
    prctl,
    set_process_name,
    sethostname,
    unshare,
)
from minikit.executor.types import IdMapping, RunSpec

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Exit status of a supervisor or init that failed before the command ran;
# the build process reports the error message, not this number.
SETUP_FAILED = 125
# Signals the command gets with their default action. Python ignores
# SIGPIPE and SIGXFSZ, the helper ignores SIGINT, SIGTERM and SIGHUP, and
# ignored signals would stay ignored across execve.
_DEFAULT_SIGNALS = (
    signal.SIGPIPE,
    signal.SIGXFSZ,
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
)
INIT_NAME = b"minikit-init"
# Signals init passes on to the command.
_FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Positions of arg_start and arg_end in /proc/PID/stat (proc(5)).
_ARG_START_FIELD = 48
_ARG_END_FIELD = 49
# Descriptors of a RUN are moved at or above this number, clear of 0-2.
_FIRST_CHANNEL_FD = 10


@dataclass(frozen=True)
class SandboxConfig:
    """The values the helper computes once and every RUN shares."""

    scratch: str
    uid_map: tuple[IdMapping, ...]
    gid_map: tuple[IdMapping, ...]
    seccomp_bpf: bytes
    last_capability: int


@dataclass
class RunChannels:
    """The descriptors a RUN's supervisor holds; -1 when unused."""

    status: int
    stdout: int
    stderr: int
    to_helper: int
    from_helper: int
    ready: int = -1
    exit_hold: int = -1

    def all(self) -> list[int]:
        """Return every descriptor in use."""
        fields = (
            self.status,
            self.stdout,
            self.stderr,
            self.to_helper,
            self.from_helper,
        )
        return [fd for fd in (*fields, self.ready, self.exit_hold) if fd >= 0]


def exit_code_of(wait_status: int) -> int:
    """Return a shell-style exit code: the status, or 128 + N after signal N."""
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code


def keep_only(channels: RunChannels) -> RunChannels:
    """Move the RUN's descriptors above stdio and close every other one.

    The helper has the pipes of other RUNs open, and a copy left open here
    would keep their output from ending until this RUN ended.
    """
    moved = {}
    for fd in channels.all():
        moved[fd] = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _FIRST_CHANNEL_FD)
    keep = set(moved.values())
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass

    def relocated(fd: int) -> int:
        return moved[fd] if fd >= 0 else -1

    return RunChannels(
        status=relocated(channels.status),
        stdout=relocated(channels.stdout),
        stderr=relocated(channels.stderr),
        to_helper=relocated(channels.to_helper),
        from_helper=relocated(channels.from_helper),
        ready=relocated(channels.ready),
        exit_hold=relocated(channels.exit_hold),
    )


def supervise_run(
    request: RunRequest, channels: RunChannels, config: SandboxConfig
) -> NoReturn:
    """Run one RUN from the supervisor process; never returns."""
    code = SETUP_FAILED
    status_fd = channels.status
    try:
        channels = keep_only(channels)
        status_fd = channels.status
        code = _supervise(request, channels, config)
    except SetupError as error:
        send_status(status_fd, error.to_json())
    except BaseException as error:  # noqa: BLE001 - a forked child must not unwind
        _report_unexpected(status_fd, error)
    finally:
        os._exit(code)


def _report_unexpected(status_fd: int, error: BaseException) -> None:
    message = f"RUN setup failed unexpectedly: {type(error).__name__}: {error}"
    try:
        send_status(status_fd, {"type": "error", "message": message})
    except OSError:
        pass


def _supervise(
    request: RunRequest, channels: RunChannels, config: SandboxConfig
) -> int:
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if request.spec.network != "host":
        flags |= CLONE_NEWNET
    try:
        unshare(flags)
    except SetupError as error:
        send_status(channels.status, error.to_json())
        return SETUP_FAILED
    os.write(channels.to_helper, b"u")
    os.close(channels.to_helper)
    if os.read(channels.from_helper, 1) != b"1":
        return SETUP_FAILED  # the helper has reported why
    os.close(channels.from_helper)
    init_pid = os.fork()
    if init_pid == 0:
        run_init(request, channels, config)
    for fd in (channels.stdout, channels.stderr, channels.ready):
        if fd >= 0:
            os.close(fd)
    code, cancelled = _wait_for_init(init_pid, channels.status)
    send_status(channels.status, {"type": "exit", "code": code, "cancelled": cancelled})
    return 0


def _wait_for_init(init_pid: int, status_fd: int) -> tuple[int, bool]:
    """Wait for init; a ``cancel`` message or a vanished build process kills it."""
    pidfd = os.pidfd_open(init_pid)
    watched = [pidfd, status_fd]
    cancelled = False
    while True:
        readable, _, _ = select.select(watched, [], [])
        if status_fd in readable and _cancel_requested(status_fd):
            os.kill(init_pid, signal.SIGKILL)
            cancelled = True
            watched = [pidfd]
        if pidfd in readable:
            _, wait_status = os.waitpid(init_pid, 0)
            os.close(pidfd)
            code = exit_code_of(wait_status)
            return (128 + signal.SIGKILL if cancelled else code), cancelled


def _cancel_requested(status_fd: int) -> bool:
    # End of file means the build process is gone, which cancels too.
    packet = os.read(status_fd, 4096)
    if not packet:
        return True
    try:
        message = json.loads(packet)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("type") == "cancel"


def run_init(
    request: RunRequest, channels: RunChannels, config: SandboxConfig
) -> NoReturn:
    """Be pid 1 of the RUN: build its root, run the command, reap; never returns."""
    code = SETUP_FAILED
    try:
        code = _init(request, channels, config)
    except SetupError as error:
        send_status(channels.status, error.to_json())
    except BaseException as error:  # noqa: BLE001 - a forked child must not unwind
        _report_unexpected(channels.status, error)
    finally:
        os._exit(code)


def _init(request: RunRequest, channels: RunChannels, config: SandboxConfig) -> int:
    spec = request.spec
    _enter_sandbox(request, config)

    identity = _resolve_identity(spec.user, config)
    _make_working_directory(spec.cwd, identity)
    environment = command_environment(spec.env, identity.home)
    if channels.ready >= 0:
        network.wait_until_ready(channels.ready)

    try:
        os.chdir(spec.cwd)
    except OSError as error:
        raise SetupError.from_os_error(
            "change to working directory", spec.cwd, error
        ) from error
    _switch_identity(spec, identity, config)
    # Init inherits SIGTERM and SIGINT ignored from the helper. Blocked until
    # the forwarding handlers are in place, a signal the command sends to
    # pid 1 right away is held and forwarded instead of dropped.
    signal.pthread_sigmask(signal.SIG_BLOCK, _FORWARDED_SIGNALS)
    command_pid = spawn_command(spec.args, environment, channels)

    os.close(channels.stdout)
    os.close(channels.stderr)
    return _reap_until_exit(command_pid)


def _enter_sandbox(request: RunRequest, config: SandboxConfig) -> None:
    spec = request.spec
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # Before PR_SET_DUMPABLE, which makes /proc/self/mem root's alone.
    _hide_command_line()
    # Non-dumpable: the command, although root in the same user namespace,
    # cannot ptrace init or read its memory and environment.
    prctl(PR_SET_DUMPABLE, 0)
    os.umask(0o022)
    unshare(CLONE_NEWNS)
    make_private("/")
    if spec.network != "host":
        network.bring_up_loopback()
    sethostname(spec.hostname)
    options = rootfs.RootOptions(
        scratch=config.scratch,
        files=request.files,
        tty_gid_mapped=idmap.is_mapped(config.gid_map, rootfs.TTY_GID),
    )
    rootfs.prepare_root(spec, options)


def _hide_command_line() -> None:
    """Show init as ``minikit-init`` in the RUN's ``ps``, not the build's command line.

    /proc/PID/cmdline reads the process's own argv memory, so overwriting
    that memory through /proc/self/mem changes what the command can see.
    """
    set_process_name(INIT_NAME)
    with open("/proc/self/stat", "rb") as handle:
        # Fields after the parenthesized command name start with field 3.
        fields = handle.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[_ARG_START_FIELD - 3]), int(fields[_ARG_END_FIELD - 3])
    if end - start <= len(INIT_NAME):
        return
    with open("/proc/self/mem", "r+b", buffering=0) as memory:
        memory.seek(start)
        memory.write(INIT_NAME.ljust(end - start, b"\0"))


def _resolve_identity(user: str, config: SandboxConfig) -> users.Identity:
    identity = users.resolve_identity(
        user, _read_optional(users.PASSWD_PATH), _read_optional(users.GROUP_PATH)
    )
    for kind, ids, mappings in (
        ("uid", (identity.uid,), config.uid_map),
        ("gid", (identity.gid, *identity.groups), config.gid_map),
    ):
        for value in ids:
            if not idmap.is_mapped(mappings, value):
                raise SetupError(
                    f"failed to switch to user {user or 'root'}: {kind} {value} is not "
                    "mapped into the build's user namespace",
                    hint="give the invoking user a subordinate id range in /etc/subuid "
                    "and /etc/subgid (usermod --add-subuids/--add-subgids)",
                )
    return identity


def _read_optional(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SetupError.from_os_error("read", path, error) from error


def _make_working_directory(cwd: str, identity: users.Identity) -> None:
    current = "/"
    for part in [p for p in cwd.split("/") if p]:
        current = os.path.join(current, part)
        try:
            os.mkdir(current, 0o755)
        except FileExistsError:
            continue
        except OSError as error:
            raise SetupError.from_os_error(
                "create working directory", current, error
            ) from error
        os.lchown(current, identity.uid, identity.gid)


def command_environment(env: tuple[str, ...], home: str) -> dict[str, str]:
    """Return the command's environment: ``env`` plus PATH and HOME when missing."""
    result: dict[str, str] = {}
    for entry in env:
        name, equals, value = entry.partition("=")
        if equals and name:
            result[name] = value
    result.setdefault("PATH", DEFAULT_PATH)
    result.setdefault("HOME", home)
    return result


def _reap_until_exit(command_pid: int) -> int:
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(command_pid, signum)
        except ProcessLookupError:
            pass

    for signum in _FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _FORWARDED_SIGNALS)
    while True:
        pid, wait_status = os.wait()
        if pid == command_pid:
            return exit_code_of(wait_status)


def _switch_identity(
    spec: RunSpec, identity: users.Identity, config: SandboxConfig
) -> None:
    """Drop init's privileges to the command's: the command inherits them on spawn.

    Init needs no privilege after this point, and applying the restrictions
    to init itself lets the command be started with posix_spawn (vfork)
    instead of a second copy of the interpreter.
    """
    sandbox = spec.security != "insecure"
    keep = capabilities.mask_of(capabilities.DEFAULT_CAPABILITIES)
    if sandbox:
        capabilities.drop_bounding_set(keep, config.last_capability)
    capabilities.clear_ambient()
    if sandbox:
        # Loading needs CAP_SYS_ADMIN (no no_new_privs, so setuid programs
        # keep working), hence before the capabilities go.
        seccomp.load_bpf(config.seccomp_bpf)
    try:
        if _setgroups_allowed():
            os.setgroups(list(identity.groups))
        os.setresgid(identity.gid, identity.gid, identity.gid)
        if identity.uid != 0:
            # Dropping uid 0 clears the permitted and effective sets.
            os.setresuid(identity.uid, identity.uid, identity.uid)
    except OSError as error:
        raise SetupError.from_os_error(
            "switch to user", spec.user or "root", error
        ) from error
    if identity.uid == 0 and sandbox:
        capset(keep, keep, 0)
    # The kernel clears the parent-death signal when credentials change.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _setgroups_allowed() -> bool:
    # Without subordinate gids the build namespace denies setgroups(2), and
    # the RUN's namespace inherits that.
    try:
        with open("/proc/self/setgroups", encoding="ascii") as handle:
            return handle.read().strip() == "allow"
    except OSError:
        return True


def find_executable(name: str, search_path: str) -> str | None:
    """Look ``name`` up like execvp, but in the command's PATH, not init's."""
    if "/" in name:
        return name
    for directory in search_path.split(":"):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def spawn_command(
    args: tuple[str, ...], environment: dict[str, str], channels: RunChannels
) -> int:
    """Start the command with stdin on /dev/null and output on the RUN's pipes."""
    path = find_executable(args[0], environment.get("PATH", ""))
    if path is None:
        raise SetupError(
            f'failed to start process: exec: "{args[0]}": executable file not found in $PATH'
        )
    file_actions = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, channels.stdout, 1),
        (os.POSIX_SPAWN_DUP2, channels.stderr, 2),
    ]
    try:
        return os.posix_spawn(
            path,
            list(args),
            environment,
            file_actions=file_actions,
            setsid=True,
            setsigdef=_DEFAULT_SIGNALS,
            setsigmask=(),
        )
    except OSError as error:
        raise SetupError.from_os_error("start process", path, error) from error

"""The default seccomp profile of a RUN, compiled with libseccomp.

The profile is containerd's default (``contrib/seccomp/seccomp_default.go``
in containerd 2.x), which BuildKit applies to every RUN that is not
``--security=insecure``. It is an allow-list whose default action is
ERRNO(EPERM), with argument rules for ``personality``, ``socket`` and
``clone``, and groups of syscalls that depend on the bounding set.

libseccomp (Debian ``libseccomp2``) turns the profile into a classic BPF
program once per helper process; each RUN loads those bytes with
``prctl(PR_SET_SECCOMP)``, which costs microseconds.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import platform
from dataclasses import dataclass

from minikit.executor import syscalls
from minikit.executor.syscalls import SetupError

logger = logging.getLogger(__name__)

# The allow-list shared by every architecture.
BASE_SYSCALLS = (
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
    "clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
    "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
    "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
    "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
    "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
    "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
    "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
    "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
    "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait",
    "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid",
    "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
    "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
    "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
    "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
    "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch",
    "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl",
    "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
    "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
    "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr",
    "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "map_shadow_stack",
    "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at",
    "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
    "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
    "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv",
    "preadv2", "prlimit64", "process_mrelease", "pselect6", "pselect6_time64",
    "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat",
    "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
    "remap_file_pages", "removexattr", "rename", "renameat", "renameat2",
    "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
    "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
    "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid",
    "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
    "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
    "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
    "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
    "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
    "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate",
    "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime",
    "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
    "waitid", "waitpid", "write", "writev",
)  # fmt: skip

# Allowed since Linux 4.8, where ptrace can no longer bypass seccomp.
PTRACE_SYSCALLS = ("process_vm_readv", "process_vm_writev", "ptrace")

ARCH_SYSCALLS = {
    "x86_64": ("arch_prctl", "modify_ldt"),
    "aarch64": (
        "arm_fadvise64_64",
        "arm_sync_file_range",
        "sync_file_range2",
        "breakpoint",
        "cacheflush",
        "set_tls",
    ),
    "ppc64le": ("sync_file_range2", "swapcontext"),
    "s390x": ("s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"),
    "riscv64": ("riscv_flush_icache",),
}

# libseccomp's names for the ABIs a native process of each machine can use.
ARCHITECTURES = {
    "x86_64": ("x86_64", "x86", "x32"),
    "aarch64": ("arm", "aarch64"),
    "ppc64le": ("ppc64le",),
    "s390x": ("s390", "s390x"),
    "riscv64": ("riscv64",),
}

# Syscalls allowed only while the bounding set contains the capability.
CAPABILITY_SYSCALLS = {
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_SYS_ADMIN": (
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
        "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
        "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname",
        "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
    ),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("delete_module", "init_module", "finit_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": (
        "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv",
        "process_vm_writev", "ptrace",
    ),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
}  # fmt: skip

NAMESPACE_CLONE_FLAGS = (
    syscalls.CLONE_NEWNS
    | syscalls.CLONE_NEWUTS
    | syscalls.CLONE_NEWIPC
    | syscalls.CLONE_NEWUSER
    | syscalls.CLONE_NEWPID
    | syscalls.CLONE_NEWNET
    | syscalls.CLONE_NEWCGROUP
)

# personality(2) values a process may set: PER_LINUX, UNAME26, PER_LINUX32,
# UNAME26|PER_LINUX32 and 0xffffffff, which only queries the current value.
PERSONALITY_VALUES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

AF_ALG = 38
AF_VSOCK = 40


@dataclass(frozen=True)
class ArgCondition:
    """A test on syscall argument ``index``: ``op`` is ``eq``, ``lt``, ``gt`` or
    ``masked_eq`` (``arg & value == value_two``)."""

    index: int
    op: str
    value: int
    value_two: int = 0


@dataclass(frozen=True)
class SyscallRule:
    """An action for the syscalls in ``names`` when every condition in ``args`` holds."""

    names: tuple[str, ...]
    errno_value: int | None = None
    args: tuple[ArgCondition, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A seccomp profile: its rules run in order, anything else fails with EPERM."""

    architectures: tuple[str, ...]
    rules: tuple[SyscallRule, ...]


def default_profile(
    bounding: frozenset[str],
    machine: str | None = None,
    kernel: tuple[int, int] | None = None,
) -> Profile:
    """Build containerd's default profile for a process whose bounding set is ``bounding``."""
    machine = machine or platform.machine()
    kernel = kernel or _kernel_version()
    rules = [SyscallRule(BASE_SYSCALLS)]
    rules.extend(_socket_rules())
    for value in PERSONALITY_VALUES:
        rules.append(
            SyscallRule(("personality",), args=(ArgCondition(0, "eq", value),))
        )
    if kernel >= (4, 8):
        rules.append(SyscallRule(PTRACE_SYSCALLS))
    if machine in ARCH_SYSCALLS:
        rules.append(SyscallRule(ARCH_SYSCALLS[machine]))
    for capability, names in CAPABILITY_SYSCALLS.items():
        if capability in bounding:
            rules.append(SyscallRule(names))
    if "CAP_SYS_ADMIN" not in bounding:
        rules.extend(_clone_rules(machine))
    return Profile(ARCHITECTURES.get(machine, ()), tuple(rules))


def _socket_rules() -> list[SyscallRule]:
    # Every address family but AF_ALG and AF_VSOCK, as three ranges, because
    # two "not equal" tests on one argument would be joined with OR.
    return [
        SyscallRule(("socket",), args=(ArgCondition(0, "lt", AF_ALG),)),
        SyscallRule(("socket",), args=(ArgCondition(0, "eq", AF_ALG + 1),)),
        SyscallRule(("socket",), args=(ArgCondition(0, "gt", AF_VSOCK),)),
    ]


def _clone_rules(machine: str) -> list[SyscallRule]:
    # s390 passes the clone flags in the second argument.
    index = 1 if machine.startswith("s390") else 0
    no_namespaces = ArgCondition(index, "masked_eq", NAMESPACE_CLONE_FLAGS, 0)
    return [
        SyscallRule(("clone",), args=(no_namespaces,)),
        # ENOSYS rather than EPERM makes glibc fall back from clone3 to clone.
        SyscallRule(("clone3",), errno_value=errno.ENOSYS),
    ]


def _kernel_version() -> tuple[int, int]:
    release = platform.release().split(".")
    try:
        return int(release[0]), int(release[1].split("-")[0])
    except (IndexError, ValueError):
        return (0, 0)


SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO = 0x00050000
_COMPARE_OPS = {"lt": 2, "eq": 4, "gt": 6, "masked_eq": 7}
_NR_SCMP_ERROR = -1


def errno_action(value: int) -> int:
    """Return libseccomp's action code for "fail with errno ``value``"."""
    return _SCMP_ACT_ERRNO | (value & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _load_libseccomp() -> ctypes.CDLL:
    try:
        library = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as error:
        raise SetupError(
            f"failed to load libseccomp: {error}",
            hint="install the Debian package libseccomp2, or run with --security=insecure",
        ) from error
    library.seccomp_init.restype = ctypes.c_void_p
    library.seccomp_init.argtypes = [ctypes.c_uint32]
    library.seccomp_release.argtypes = [ctypes.c_void_p]
    library.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    library.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    library.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    library.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    library.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    library.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return library


def compile_bpf(profile: Profile) -> bytes:
    """Compile ``profile`` into a classic BPF program (``struct sock_filter`` array).

    Syscall names that this libseccomp does not know are skipped, as runc
    does, so they fail with EPERM like any syscall outside the list.
    """
    library = _load_libseccomp()
    context = library.seccomp_init(errno_action(errno.EPERM))
    if not context:
        raise SetupError(
            "failed to create a seccomp filter: seccomp_init returned NULL"
        )
    try:
        _add_architectures(library, context, profile.architectures)
        for rule in profile.rules:
            _add_rule(library, context, rule)
        return _export(library, context)
    finally:
        library.seccomp_release(context)


def _add_architectures(
    library: ctypes.CDLL, context: int, names: tuple[str, ...]
) -> None:
    for name in names:
        token = library.seccomp_arch_resolve_name(name.encode())
        if token == 0:
            logger.debug("libseccomp does not know architecture %s", name)
            continue
        result = library.seccomp_arch_add(context, token)
        # -EEXIST: the native architecture is in every new filter already.
        if result not in (0, -errno.EEXIST):
            raise SetupError.from_errno("add seccomp architecture", name, -result)


def _add_rule(library: ctypes.CDLL, context: int, rule: SyscallRule) -> None:
    action = (
        SCMP_ACT_ALLOW if rule.errno_value is None else errno_action(rule.errno_value)
    )
    conditions = (_ArgCmp * max(1, len(rule.args)))()
    for position, condition in enumerate(rule.args):
        conditions[position] = _ArgCmp(
            condition.index,
            _COMPARE_OPS[condition.op],
            condition.value,
            condition.value_two,
        )
    for name in rule.names:
        number = library.seccomp_syscall_resolve_name(name.encode())
        if number == _NR_SCMP_ERROR:
            logger.debug("libseccomp does not know syscall %s; it stays denied", name)
            continue
        result = library.seccomp_rule_add_array(
            context, action, number, len(rule.args), conditions
        )
        if result != 0:
            raise SetupError.from_errno("add seccomp rule for", name, -result)


def _export(library: ctypes.CDLL, context: int) -> bytes:
    descriptor = os.memfd_create("minikit-seccomp", os.MFD_CLOEXEC)
    try:
        result = library.seccomp_export_bpf(context, descriptor)
        if result != 0:
            raise SetupError.from_errno("export the seccomp filter", "", -result)
        size = os.fstat(descriptor).st_size
        return os.pread(descriptor, size, 0)
    finally:
        os.close(descriptor)


def load_bpf(program: bytes) -> None:
    """Install ``program`` as a seccomp filter on the calling thread.

    Without no_new_privs the kernel requires CAP_SYS_ADMIN in the current
    user namespace, so this must run before the capabilities are dropped.
    """
    count = len(program) // ctypes.sizeof(_SockFilter)
    filters = (_SockFilter * count).from_buffer_copy(program)
    fprog = _SockFprog(count, ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    syscalls.prctl_pointer(
        syscalls.PR_SET_SECCOMP, syscalls.SECCOMP_MODE_FILTER, ctypes.addressof(fprog)
    )

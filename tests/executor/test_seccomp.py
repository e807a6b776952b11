"""Tests of the default seccomp profile and of the filter libseccomp compiles from it."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

import pytest

from minikit.executor.capabilities import DEFAULT_CAPABILITIES
from minikit.executor.seccomp import (
    NAMESPACE_CLONE_FLAGS,
    ArgCondition,
    compile_bpf,
    default_profile,
)

REPOSITORY = Path(__file__).resolve().parents[2]

# Loads the default filter into a fresh interpreter (no_new_privs allows it
# without CAP_SYS_ADMIN) and reports the errno of each probe.
PROBE = r"""
import ctypes, errno, json, os, socket
from minikit.executor import seccomp, syscalls
from minikit.executor.capabilities import DEFAULT_CAPABILITIES

library = ctypes.CDLL("libseccomp.so.2")
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def number(name):
    return library.seccomp_syscall_resolve_name(name.encode())

def call(name, *args):
    result = libc.syscall(ctypes.c_long(number(name)), *[ctypes.c_long(a) for a in args])
    return 0 if result >= 0 else ctypes.get_errno()

program = seccomp.compile_bpf(seccomp.default_profile(DEFAULT_CAPABILITIES))
syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
seccomp.load_bpf(program)
results = {
    "getpid": call("getpid"),
    "keyctl": call("keyctl", 0, 0),
    "add_key": call("add_key", 0, 0, 0, 0, 0),
    "unshare_user": call("unshare", syscalls.CLONE_NEWUSER),
    "mount": call("mount", 0, 0, 0, 0, 0),
    "clone3": call("clone3", 0, 0),
    "personality_query": call("personality", 0xFFFFFFFF),
    "personality_other": call("personality", 0x0040000),
    "reboot": call("reboot", 0, 0, 0, 0),
}
try:
    socket.socket(40, socket.SOCK_STREAM).close()
    results["socket_vsock"] = 0
except OSError as error:
    results["socket_vsock"] = error.errno
socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close()
results["fork"] = 0
pid = os.fork()
if pid == 0:
    os._exit(7)
results["child_status"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def probe_results() -> dict[str, int]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        cwd=REPOSITORY,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: dict[str, int] = json.loads(completed.stdout)
    return results


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        ("getpid", 0),
        ("keyctl", errno.EPERM),
        ("add_key", errno.EPERM),
        ("unshare_user", errno.EPERM),
        ("mount", errno.EPERM),
        ("clone3", errno.ENOSYS),
        ("personality_query", 0),
        ("personality_other", errno.EPERM),
        ("reboot", errno.EPERM),
        ("socket_vsock", errno.EPERM),
        ("child_status", 7),
    ],
)
def test_seccomp_filter_probe(
    probe_results: dict[str, int], probe: str, expected: int
) -> None:
    assert probe_results[probe] == expected


def test_profile_without_sys_admin_limits_clone() -> None:
    profile = default_profile(DEFAULT_CAPABILITIES, machine="x86_64", kernel=(6, 1))
    clone_rules = [rule for rule in profile.rules if rule.names == ("clone",)]
    assert clone_rules[0].args == (
        ArgCondition(0, "masked_eq", NAMESPACE_CLONE_FLAGS, 0),
    )


def test_profile_s390_clone_flags_argument() -> None:
    profile = default_profile(DEFAULT_CAPABILITIES, machine="s390x", kernel=(6, 1))
    clone_rules = [rule for rule in profile.rules if rule.names == ("clone",)]
    assert clone_rules[0].args[0].index == 1


def test_profile_capability_groups() -> None:
    names = {n for r in default_profile(DEFAULT_CAPABILITIES).rules for n in r.names}
    assert "chroot" in names
    assert "mount" not in names
    assert "ptrace" in names


def test_profile_with_sys_admin_allows_mount() -> None:
    profile = default_profile(DEFAULT_CAPABILITIES | {"CAP_SYS_ADMIN"})
    names = {n for r in profile.rules for n in r.names}
    assert {"mount", "unshare", "clone3"} <= names
    assert not [rule for rule in profile.rules if rule.errno_value is not None]


def test_profile_old_kernel_denies_ptrace() -> None:
    profile = default_profile(DEFAULT_CAPABILITIES, kernel=(4, 4))
    assert "ptrace" not in {n for r in profile.rules for n in r.names}


def test_compile_bpf_instruction_size() -> None:
    program = compile_bpf(default_profile(DEFAULT_CAPABILITIES))
    assert len(program) > 0
    assert len(program) % 8 == 0

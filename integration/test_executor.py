"""Integration tests of the rootless executor, as root and as an unprivileged user.

Every test runs twice: once with the driver as root and once as the
``minikit-exec-test`` user, whose build namespace maps its subordinate id
range. The driver (``executor_support.driver_main``) runs the RUN steps on
an overlay over a busybox root filesystem and reports what it saw.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import executor_support
import pytest
from executor_support import SandboxRunner
from fixtures.tools import missing

REPOSITORY = Path(__file__).resolve().parents[1]
# CAP_CHOWN .. CAP_SETFCAP as BuildKit grants them: 0xa80425fb.
DEFAULT_CAPS = "00000000a80425fb"
SECRET = b"s3cr3t-VALUE-7d1f2c"


@pytest.fixture(scope="session")
def busybox() -> str:
    path = executor_support.find_static_busybox()
    if path is None:
        missing("needs a static busybox (Debian package busybox-static)")
    return path


@pytest.fixture(scope="session", params=["root", "rootless"])
def sandbox(request: pytest.FixtureRequest, busybox: str) -> Iterator[SandboxRunner]:
    if os.geteuid() != 0:
        pytest.skip("runs as root: it creates the test user and runs the driver as it")
    if request.param == "root":
        paths = [str(REPOSITORY), str(REPOSITORY / "integration")]
        yield SandboxRunner("root", sys.executable, paths, busybox)
        return
    if not os.path.exists(executor_support.SYSTEM_PYTHON):
        missing(f"needs {executor_support.SYSTEM_PYTHON} (Debian package python3)")
    executor_support.ensure_test_user()
    code = executor_support.copy_for_test_user(str(REPOSITORY))
    yield SandboxRunner("rootless", executor_support.SYSTEM_PYTHON, [code], busybox)
    shutil.rmtree(code, ignore_errors=True)


@pytest.fixture(scope="session")
def rootless_sandbox(busybox: str) -> Iterator[SandboxRunner]:
    """A rootless runner on its own, for tests that only make sense rootless."""
    if os.geteuid() != 0:
        pytest.skip("runs as root: it creates the test user and runs the driver as it")
    executor_support.ensure_test_user()
    code = executor_support.copy_for_test_user(str(REPOSITORY))
    yield SandboxRunner("rootless", executor_support.SYSTEM_PYTHON, [code], busybox)
    shutil.rmtree(code, ignore_errors=True)


@pytest.fixture(scope="session")
def no_range_sandbox(busybox: str) -> Iterator[SandboxRunner]:
    """A rootless runner whose user has no subordinate ids (the fallback exists only rootless)."""
    if os.geteuid() != 0:
        pytest.skip("runs as root: it creates the test user and runs the driver as it")
    account = executor_support.ensure_test_user(
        executor_support.NO_RANGE_USER, subordinate_ids=False
    )
    with open("/etc/subuid", encoding="utf-8") as handle:
        if any(line.startswith(f"{account.pw_name}:") for line in handle):
            pytest.skip(f"{account.pw_name} has subordinate ids on this machine")
    code = executor_support.copy_for_test_user(str(REPOSITORY))
    yield SandboxRunner(
        "rootless",
        executor_support.SYSTEM_PYTHON,
        [code],
        busybox,
        user=executor_support.NO_RANGE_USER,
    )
    shutil.rmtree(code, ignore_errors=True)


def shell(script: str, **fields: Any) -> dict[str, Any]:
    """Return the spec fields of ``/bin/sh -c script``."""
    return {"args": ["/bin/sh", "-c", script], **fields}


def run_one(
    sandbox: SandboxRunner, spec: dict[str, Any], **step: Any
) -> dict[str, Any]:
    report = sandbox.run([{"spec": spec, **step}])
    result: dict[str, Any] = report["steps"][0]
    return result


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode()


class LoopbackServer:
    """A TCP server on 127.0.0.1 that records what each connection sends."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(30)
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _address = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                try:
                    self.received.append(connection.recv(1024))
                except OSError:
                    self.received.append(b"")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def loopback_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    yield server
    server.close()


# --- process basics -----------------------------------------------------


def test_run_exit_codes(sandbox: SandboxRunner) -> None:
    report = sandbox.run(
        [
            {"spec": shell("true")},
            {"spec": shell("exit 3")},
            {"spec": shell("kill -KILL $$")},
        ]
    )
    codes = [step.get("exit_code") for step in report["steps"]]
    assert codes[0] == 0
    assert codes[1] == 3
    assert codes[2] == 137


def test_run_output_streams(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, shell("echo to-stdout; echo to-stderr >&2"))
    assert result["stdout"] == "to-stdout\n"
    assert result["stderr"] == "to-stderr\n"


def test_run_missing_executable(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, {"args": ["no-such-program"]})
    assert "executable file not found in $PATH" in result["error"]


def test_build_namespace_maps(sandbox: SandboxRunner) -> None:
    namespace = sandbox.run([])["namespace"]
    assert namespace["rootless"] is sandbox.rootless
    assert namespace["full_range"] is True
    if sandbox.rootless:
        assert len(namespace["uid_map"]) == 2
        assert namespace["uid_map"][0][0] == 0
    else:
        assert namespace["uid_map"] == [[0, 0, 4294967295]]


# --- isolation ----------------------------------------------------------


def test_isolation_host_file_unreadable(sandbox: SandboxRunner) -> None:
    report = sandbox.run(
        [{"spec": shell("cat @WORKDIR@/host/outside.txt; echo cat=$?; ls /")}],
        host_files={"outside.txt": "HOST-ONLY-CONTENT"},
    )
    result = report["steps"][0]
    lines = result["stdout"].splitlines()
    assert "HOST-ONLY-CONTENT" not in result["stdout"]
    assert lines[0] == "cat=1"
    assert sorted(lines[1:]) == ["bin", "dev", "etc", "existing", "proc", "sys", "tmp"]


def test_isolation_processes(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, shell("ls /proc | grep -E '^[0-9]+$'"))
    pids = [int(pid) for pid in result["stdout"].split()]
    assert 1 in pids
    assert max(pids) < 10
    assert len(pids) <= 4


def test_isolation_init_hides_build(sandbox: SandboxRunner) -> None:
    script = "tr -d '\\0' < /proc/1/cmdline; echo; cat /proc/1/environ >/dev/null 2>&1; echo $?"
    result = run_one(sandbox, shell(script))
    assert result["stdout"].splitlines() == ["minikit-init", "1"]


def test_network_none_blocks_host_loopback(
    sandbox: SandboxRunner, loopback_server: LoopbackServer
) -> None:
    port = loopback_server.port
    result = run_one(
        sandbox,
        shell(
            f"echo from-none | nc -w 2 127.0.0.1 {port}; echo nc=$?; ip -o link",
            network="none",
        ),
    )
    assert "nc=1" in result["stdout"]
    assert [
        line.split(":")[1].strip() for line in result["stdout"].splitlines()[1:]
    ] == ["lo"]
    assert b"from-none\n" not in loopback_server.received


def test_network_host_reaches_host_loopback(
    sandbox: SandboxRunner, loopback_server: LoopbackServer
) -> None:
    port = loopback_server.port
    result = run_one(
        sandbox,
        shell(f"echo from-host | nc -w 2 127.0.0.1 {port}; echo nc=$?", network="host"),
    )
    loopback_server.close()
    loopback_server.thread.join(timeout=30)
    assert "nc=0" in result["stdout"]
    assert b"from-host\n" in loopback_server.received


def test_network_default_slirp_interface(sandbox: SandboxRunner) -> None:
    if shutil.which("slirp4netns") is None:
        missing("needs slirp4netns (Debian package slirp4netns)")
    if sandbox.rootless and not executor_support.tun_usable_by(
        executor_support.ensure_test_user()
    ):
        missing(
            "rootless slirp4netns needs /dev/net/tun mode 0666, as Debian's udev sets it"
        )
    result = run_one(
        sandbox,
        shell(
            "ip -4 -o addr show eth0; ip route; cat /etc/resolv.conf", network="default"
        ),
    )
    assert result.get("exit_code") == 0, result
    assert "inet 10.0.2." in result["stdout"]
    assert "default via 10.0.2.2 dev eth0" in result["stdout"]
    assert "nameserver 10.0.2.3" in result["stdout"]


def test_network_default_rootless_without_tun(rootless_sandbox: SandboxRunner) -> None:
    # The tests run one after another, so narrowing the device's mode for the
    # length of this test is seen by no other RUN; it is restored at once.
    original = os.stat("/dev/net/tun").st_mode & 0o777
    os.chmod("/dev/net/tun", 0o600)
    try:
        result = run_one(rootless_sandbox, shell("true", network="default"))
    finally:
        os.chmod("/dev/net/tun", original)
    assert "/dev/net/tun" in result["error"]
    assert "0666" in result["hint"]


def test_run_leaves_no_mount(sandbox: SandboxRunner) -> None:
    spec = shell(
        "mount | wc -l",
        mounts=[
            {"dest": "/cache", "type": "tmpfs"},
            {"dest": "/data", "type": "bind", "source": "@/host"},
            {"dest": "/run/secrets/x", "type": "secret", "data_b64": encoded(b"x")},
        ],
    )
    result = run_one(sandbox, spec)
    assert result["exit_code"] == 0
    assert result["mounts_unchanged"] is True


def test_run_leaves_no_process(sandbox: SandboxRunner) -> None:
    result = run_one(
        sandbox, shell("sleep 1000 & echo started"), leftover="sleep\x001000"
    )
    assert result["stdout"] == "started\n"
    assert result["leftover"] == []


def test_cancel_kills_everything(sandbox: SandboxRunner) -> None:
    result = run_one(
        sandbox,
        shell("sleep 1000 & echo READY; sleep 1000"),
        marker="READY",
        cancel=True,
        leftover="sleep\x001000",
    )
    assert result["cancelled"] is True
    assert result["exit_code"] == 137
    assert result["leftover"] == []


def test_parallel_runs(sandbox: SandboxRunner) -> None:
    report = sandbox.run(
        [
            {"spec": shell("sleep 0.5; echo first"), "parallel": True},
            {"spec": shell("echo second", rootfs="@/plain"), "parallel": True},
        ]
    )
    first, second = report["steps"]
    assert first["stdout"] == "first\n"
    assert second["stdout"] == "second\n"


# --- identity -------------------------------------------------------------


def test_chown_visible_in_upper(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, shell("touch /x && chown 1000:1000 /x"), upper=["/x"])
    assert result["exit_code"] == 0
    assert result["upper"]["/x"]["uid"] == 1000
    assert result["upper"]["/x"]["gid"] == 1000


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("", "uid=0(root) gid=0(root)"),
        ("user", "uid=1000(user) gid=1000(user) groups=50(staff)"),
        ("1000", "uid=1000(user) gid=1000(user) groups=50(staff)"),
        ("user:staff", "uid=1000(user) gid=50(staff)"),
        ("4242:4343", "uid=4242 gid=4343"),
        ("nobody", "uid=65534(nobody) gid=65534(nobody)"),
    ],
)
def test_user_identity(sandbox: SandboxRunner, user: str, expected: str) -> None:
    result = run_one(sandbox, shell("id", user=user))
    assert result["stdout"].strip() == expected


def test_user_home(sandbox: SandboxRunner) -> None:
    report = sandbox.run(
        [
            {"spec": shell("echo $HOME", user="user")},
            {"spec": shell("echo $HOME", user="4242:4343")},
            {"spec": shell("echo $HOME", user="user", env=["HOME=/custom"])},
        ]
    )
    homes = [step["stdout"].strip() for step in report["steps"]]
    assert homes == ["/home/user", "/", "/custom"]


def test_user_unknown_name(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, shell("id", user="app"))
    assert (
        result["error"] == "unable to find user app: no matching entries in /etc/passwd"
    )


def test_user_unknown_group(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, shell("id", user="user:wheel"))
    assert (
        result["error"]
        == "unable to find group wheel: no matching entries in /etc/group"
    )


def test_cwd_created_with_owner(sandbox: SandboxRunner) -> None:
    result = run_one(
        sandbox,
        shell("pwd", user="user", cwd="/work/sub"),
        upper=["/work", "/work/sub"],
    )
    assert result["stdout"] == "/work/sub\n"
    for path in ("/work", "/work/sub"):
        assert result["upper"][path] == {"uid": 1000, "gid": 1000, "mode": 0o755}


def test_process_environment(sandbox: SandboxRunner) -> None:
    script = "umask; readlink /proc/self/fd/0; hostname; cat /etc/hostname; echo $PATH"
    result = run_one(sandbox, shell(script, hostname="custom-host"))
    assert result["stdout"].splitlines() == [
        "0022",
        "/dev/null",
        "custom-host",
        "custom-host",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]


def test_etc_hosts_generated(sandbox: SandboxRunner) -> None:
    spec = shell(
        "cat /etc/hosts; echo x >> /etc/hosts; echo write=$?",
        extra_hosts=[["registry.local", "10.1.2.3"]],
    )
    result = run_one(sandbox, spec)
    assert result["stdout"].splitlines()[:3] == [
        "127.0.0.1\tlocalhost buildkitsandbox",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "10.1.2.3\tregistry.local",
    ]
    assert "write=1" in result["stdout"]


def test_resolv_conf_without_loopback(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, shell("grep nameserver /etc/resolv.conf", network="none"))
    for line in result["stdout"].splitlines():
        assert not line.split()[1].startswith("127.")


# --- mounts and stubs -----------------------------------------------------


def test_stubs_removed_with_parent_times(sandbox: SandboxRunner) -> None:
    spec = shell(
        "test -f /run/secrets/x && test -d /existing/sub",
        mounts=[
            {"dest": "/run/secrets/x", "type": "secret", "data_b64": encoded(b"x")},
            {"dest": "/existing/sub", "type": "tmpfs"},
        ],
    )
    result = run_one(
        sandbox,
        spec,
        upper=["/run/secrets/x", "/run/secrets", "/run", "/existing/sub"],
        times=["/", "/existing"],
    )
    assert result["exit_code"] == 0
    assert result["upper"]["/run/secrets/x"] is None
    assert result["upper"]["/run/secrets"] is None
    assert result["upper"]["/run"] is None
    assert result["upper"]["/existing/sub"] is None
    assert {"/run/secrets/x", "/run/secrets", "/run", "/existing/sub"} <= set(
        result["removed_stubs"]
    )
    assert result["times_restored"] == {"/": True, "/existing": True}


def test_stubs_kept_when_disabled(sandbox: SandboxRunner) -> None:
    spec = shell(
        "true",
        mounts=[{"dest": "/mnt/point", "type": "tmpfs"}],
        remove_mount_stubs=False,
    )
    result = run_one(sandbox, spec, upper=["/mnt/point"])
    assert result["removed_stubs"] == []
    assert result["upper"]["/mnt/point"] is not None


def test_secret_mount(sandbox: SandboxRunner) -> None:
    script = (
        "stat -c '%a %u %g' /run/secrets/tok; stat -f -c %T /run/secrets/tok; "
        "grep ' /run/secrets/tok ' /proc/self/mountinfo | cut -d' ' -f6; "
        "echo READY; sleep 1; (echo x > /run/secrets/tok) 2>/dev/null; echo write=$?"
    )
    mount = {
        "dest": "/run/secrets/tok",
        "type": "secret",
        "data_b64": encoded(SECRET),
        "uid": 1000,
        "gid": 50,
        "mode": 0o440,
    }
    report = sandbox.run(
        [
            {
                "spec": shell(script, mounts=[mount]),
                "marker": "READY",
                "scan_proc": encoded(SECRET),
                "scan_disk": encoded(SECRET),
            },
            {"spec": shell("test -e /run/secrets/tok; echo exists=$?")},
        ]
    )

    during, after = report["steps"]
    lines = during["stdout"].splitlines()
    assert lines[0] == "440 1000 50"
    assert lines[1] == "tmpfs"
    assert lines[2].split(",")[0] == "ro"
    assert "noexec" in lines[2].split(",")
    assert lines[-1] == "write=1"
    assert during["found_in_proc"] is False
    assert during["found_on_disk"] == []
    assert after["stdout"] == "exists=1\n"


def test_secret_mount_executable(sandbox: SandboxRunner) -> None:
    mount = {
        "dest": "/usr/local/bin/tool",
        "type": "secret",
        "data_b64": encoded(b"#!/bin/sh\necho tool-ran\n"),
        "mode": 0o755,
    }
    result = run_one(sandbox, {"args": ["tool"], "mounts": [mount]})
    assert result["stdout"] == "tool-ran\n"


def test_bind_mounts(sandbox: SandboxRunner) -> None:
    spec = shell(
        "echo hello > /data/new.txt; echo rw=$?; "
        "(echo x > /ro/other.txt) 2>/dev/null; echo ro=$?",
        mounts=[
            {"dest": "/data", "type": "bind", "source": "@/host"},
            {"dest": "/ro", "type": "bind", "source": "@/host", "readonly": True},
        ],
    )
    result = run_one(sandbox, spec, host=["/new.txt", "/other.txt"])
    assert "rw=0" in result["stdout"]
    assert "ro=1" in result["stdout"]
    assert result["host"]["/new.txt"] is not None
    assert result["host"]["/other.txt"] is None


def test_bind_missing_source(sandbox: SandboxRunner) -> None:
    spec = shell(
        "true", mounts=[{"dest": "/data", "type": "bind", "source": "@/absent"}]
    )
    result = run_one(sandbox, spec)
    assert "absent" in result["error"]
    assert "no such file or directory" in result["error"]


def test_socket_mount(sandbox: SandboxRunner) -> None:
    spec = shell(
        "test -S /run/buildkit/ssh_agent.0 && echo socket",
        mounts=[
            {
                "dest": "/run/buildkit/ssh_agent.0",
                "type": "socket",
                "source": "@/host/agent.sock",
            }
        ],
    )
    report = sandbox.run([{"spec": spec, "upper": ["/run"]}], unix_socket=True)
    result = report["steps"][0]
    assert result["stdout"] == "socket\n"
    assert result["upper"]["/run"] is None


def test_tmpfs_mount(sandbox: SandboxRunner) -> None:
    spec = shell(
        "stat -c %a /cache; stat -f -c %T /cache; df -k /cache | tail -1 | awk '{print $2}'",
        mounts=[{"dest": "/cache", "type": "tmpfs", "size": 1024 * 1024}],
    )
    result = run_one(sandbox, spec)
    assert result["stdout"].splitlines() == ["1777", "tmpfs", "1024"]


def test_readonly_rootfs(sandbox: SandboxRunner) -> None:
    spec = shell(
        "(touch /x) 2>/dev/null; echo root=$?; touch /scratch/y; echo tmp=$?",
        readonly_rootfs=True,
        mounts=[{"dest": "/scratch", "type": "tmpfs"}],
    )
    result = run_one(sandbox, spec, upper=["/x"])
    assert "root=1" in result["stdout"]
    assert "tmp=0" in result["stdout"]
    assert result["upper"]["/x"] is None


def test_mount_destination_under_file(sandbox: SandboxRunner) -> None:
    spec = shell("true", mounts=[{"dest": "/etc/passwd/sub", "type": "tmpfs"}])
    result = run_one(sandbox, spec)
    assert result["error"].startswith("failed to")
    assert "Not a directory" in result["error"]


def test_missing_rootfs(sandbox: SandboxRunner) -> None:
    result = run_one(sandbox, shell("true", rootfs="@/no-rootfs"))
    assert "no-rootfs does not exist" in result["error"]


# --- security -------------------------------------------------------------


SECURITY_PROBE = (
    "grep -E '^(Seccomp|CapInh|CapPrm|CapEff|CapBnd|CapAmb):' /proc/self/status; "
    "unshare -U true 2>/dev/null; echo unshare=$?; "
    "hostname renamed 2>/dev/null; echo hostname=$?"
)


def status_fields(stdout: str) -> dict[str, str]:
    fields = {}
    for line in stdout.splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    return fields


def test_sandbox_seccomp_and_capabilities(sandbox: SandboxRunner) -> None:
    fields = status_fields(run_one(sandbox, shell(SECURITY_PROBE))["stdout"])
    assert fields["Seccomp"] == "2"
    assert fields["CapEff"] == DEFAULT_CAPS
    assert fields["CapPrm"] == DEFAULT_CAPS
    assert fields["CapBnd"] == DEFAULT_CAPS
    assert fields["CapInh"] == "0000000000000000"
    assert fields["CapAmb"] == "0000000000000000"
    assert fields["unshare=1"] == ""
    assert fields["hostname=1"] == ""


def test_sandbox_user_has_no_capabilities(sandbox: SandboxRunner) -> None:
    fields = status_fields(
        run_one(sandbox, shell(SECURITY_PROBE, user="user"))["stdout"]
    )
    assert fields["CapEff"] == "0000000000000000"
    assert fields["CapPrm"] == "0000000000000000"
    assert fields["CapBnd"] == DEFAULT_CAPS


def test_insecure_lifts_seccomp_and_capabilities(sandbox: SandboxRunner) -> None:
    with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as handle:
        full = f"{(1 << (int(handle.read()) + 1)) - 1:016x}"
    result = run_one(sandbox, shell(SECURITY_PROBE, security="insecure"))
    fields = status_fields(result["stdout"])
    assert fields["Seccomp"] == "0"
    assert fields["CapEff"] == full
    assert fields["CapBnd"] == full
    assert fields["unshare=0"] == ""
    assert fields["hostname=0"] == ""


# --- rootless without subordinate ids -------------------------------------


def test_single_id_fallback(no_range_sandbox: SandboxRunner) -> None:
    report = no_range_sandbox.run(
        [
            {"spec": shell("id -u; cat /proc/self/uid_map")},
            {"spec": shell("id", user="user")},
        ]
    )
    namespace = report["namespace"]
    as_root, as_user = report["steps"]
    assert namespace["full_range"] is False
    assert "chown" in namespace["warnings"][0]
    assert len(namespace["uid_map"]) == 1
    assert as_root["stdout"].split()[:4] == ["0", "0", "0", "1"]
    assert "uid 1000 is not mapped" in as_user["error"]

"""SSH forwarding against OpenSSH's own ssh-agent, ssh-add and ssh-keygen."""

from __future__ import annotations

import os
import shutil
import socket as socket_module
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minikit.errors import SSHError
from minikit.session.ssh import SSHForwarder, check_ssh_flags
from minikit.worker.request import SSHSpec

TOOLS = ("ssh-agent", "ssh-add", "ssh-keygen")
# Seconds to wait for the agent to notice a closed connection.
SETTLE_TIMEOUT = 10.0

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in TOOLS),
    reason="needs OpenSSH's ssh-agent, ssh-add and ssh-keygen (openssh-client)",
)


def _keygen(path: Path, passphrase: str = "") -> Path:
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "unit",
            "-f",
            path,
        ],
        check=True,
    )
    return path


def _ssh_add(socket: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "SSH_AUTH_SOCK": str(socket)}
    return subprocess.run(
        ["ssh-add", *args], env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def agent(tmp_path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    socket = tmp_path / "agent.sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(socket)])
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not _accepts(socket) and time.monotonic() < deadline:
        time.sleep(0.01)
    key = _keygen(tmp_path / "key")
    assert _ssh_add(socket, "-q", str(key)).returncode == 0
    yield socket, process
    process.terminate()
    process.wait()


def _accepts(path: Path) -> bool:
    # The socket file appears at bind(), before the agent listens on it.
    with socket_module.socket(
        socket_module.AF_UNIX, socket_module.SOCK_STREAM
    ) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _settles(pid: int, expected: int) -> bool:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        if _open_fds(pid) == expected:
            return True
        time.sleep(0.02)
    return _open_fds(pid) == expected


def test_proxy_lists_keys(agent):
    forwarder = SSHForwarder.from_specs([SSHSpec("default", (str(agent[0]),))])
    with forwarder.socket("default", os.getuid(), os.getgid(), 0o600) as proxy:
        listed = _ssh_add(proxy, "-l")
    assert listed.returncode == 0
    assert "unit (ED25519)" in listed.stdout


def test_proxy_refuses_removal(agent):
    forwarder = SSHForwarder.from_specs([SSHSpec("default", (str(agent[0]),))])
    with forwarder.socket("default", os.getuid(), os.getgid(), 0o600) as proxy:
        removed = _ssh_add(proxy, "-D")
    assert removed.returncode != 0
    assert "unit (ED25519)" in _ssh_add(agent[0], "-l").stdout


def test_proxy_closes_each_connection(agent):
    socket, process = agent
    baseline = _open_fds(process.pid)
    forwarder = SSHForwarder.from_specs([SSHSpec("default", (str(socket),))])
    with forwarder.socket("default", os.getuid(), os.getgid(), 0o600) as proxy:
        for _ in range(3):
            assert _ssh_add(proxy, "-l").returncode == 0
        assert _settles(process.pid, baseline)


def test_proxy_socket_mode(agent):
    forwarder = SSHForwarder.from_specs([SSHSpec("default", (str(agent[0]),))])
    with forwarder.socket("default", os.getuid(), os.getgid(), 0o640) as proxy:
        assert proxy.stat().st_mode & 0o777 == 0o640


def test_proxy_removed_after_step(agent):
    forwarder = SSHForwarder.from_specs([SSHSpec("default", (str(agent[0]),))])
    with forwarder.socket("default", os.getuid(), os.getgid(), 0o600) as proxy:
        folder = proxy.parent
    assert not folder.exists()


def test_key_files_served(tmp_path):
    key = _keygen(tmp_path / "key")
    forwarder = SSHForwarder.from_specs([SSHSpec("default", (str(key),))])
    try:
        with forwarder.socket("default", os.getuid(), os.getgid(), 0o600) as proxy:
            listed = _ssh_add(proxy, "-l")
    finally:
        forwarder.close()
    assert "unit (ED25519)" in listed.stdout


def test_own_agent_stopped(tmp_path):
    key = _keygen(tmp_path / "key")
    forwarder = SSHForwarder.from_specs([SSHSpec("default", (str(key),))])
    process = forwarder._agents["default"].process
    forwarder.close()
    assert process is not None
    assert process.poll() is not None


def test_passphrase_key_rejected(tmp_path):
    key = _keygen(tmp_path / "locked", passphrase="pass phrase")
    with pytest.raises(SSHError) as caught:
        check_ssh_flags([SSHSpec("default", (str(key),))])
    assert "passphrase protected" in caught.value.message


def test_not_a_key_rejected(tmp_path):
    (tmp_path / "junk").write_text("not a key\n")
    with pytest.raises(SSHError) as caught:
        check_ssh_flags([SSHSpec("default", (str(tmp_path / "junk"),))])
    assert "not a usable private key" in caught.value.message


def test_socket_and_key_mixed(agent, tmp_path):
    key = _keygen(tmp_path / "other")
    with pytest.raises(SSHError) as caught:
        SSHForwarder.from_specs([SSHSpec("default", (str(agent[0]), str(key)))])
    assert "cannot be mixed" in caught.value.message


def test_missing_auth_sock(monkeypatch):
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    with pytest.raises(SSHError) as caught:
        SSHForwarder.from_specs([SSHSpec("default", ())])
    assert "SSH_AUTH_SOCK is not set" in caught.value.message


def test_duplicate_id(agent):
    spec = SSHSpec("default", (str(agent[0]),))
    with pytest.raises(SSHError) as caught:
        SSHForwarder.from_specs([spec, spec])
    assert "given twice" in caught.value.message

"""SSH agent forwarding for ``RUN --mount=type=ssh``.

Each ``--ssh ID=...`` names an agent: the caller's own (``$SSH_AUTH_SOCK``),
another agent socket, or key files that minikit loads into an OpenSSH
``ssh-agent`` it starts and owns. A RUN never sees the agent itself: it gets
a socket served by a proxy in the build process, which relays only the two
requests a client needs (list identities, sign) and answers every other one
(add, remove, lock, extensions) with a failure, as BuildKit's read-only agent
does. Each connection is closed when its client is done, and the proxy is
gone when the step ends.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from minikit.errors import SSHError

log = logging.getLogger(__name__)

# Agent protocol message numbers (draft-miller-ssh-agent).
SSH_AGENT_FAILURE = 5
SSH_AGENTC_REQUEST_IDENTITIES = 11
SSH_AGENTC_SIGN_REQUEST = 13
_ALLOWED = {SSH_AGENTC_REQUEST_IDENTITIES, SSH_AGENTC_SIGN_REQUEST}
# Largest agent message relayed; OpenSSH's own limit is 256 KiB.
MAX_MESSAGE = 256 * 1024
# BuildKit reads at most this much of a key file.
MAX_KEY_FILE = 100 * 1024
# Seconds ssh-keygen and ssh-add may take on one key file.
KEY_TOOL_TIMEOUT = 30


class _Agent:
    """One forwarded id: an upstream agent socket, maybe one minikit started."""

    def __init__(
        self,
        socket_path: str,
        process: subprocess.Popen | None = None,
        folder: str | None = None,
    ):
        self.socket_path = socket_path
        self.process = process
        self.folder = folder

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


class SSHForwarder:
    """The agents forwarded to a build, by id."""

    def __init__(self, agents: dict[str, _Agent]) -> None:
        self._agents = agents

    @classmethod
    def from_specs(cls, specs: Sequence[object]) -> SSHForwarder:
        """Check every ``--ssh`` flag and start what it needs; raise SSHError early."""
        agents: dict[str, _Agent] = {}
        try:
            for spec in specs:
                ssh_id = spec.id
                paths = tuple(spec.paths)
                if ssh_id in agents:
                    raise SSHError(
                        f"--ssh {ssh_id} is given twice", hint="give each ssh id once"
                    )
                agents[ssh_id] = _agent_for(ssh_id, paths)
        except BaseException:
            for agent in agents.values():
                agent.close()
            raise
        return cls(agents)

    def has(self, ssh_id: str) -> bool:
        """Tell whether ``ssh_id`` was forwarded."""
        return ssh_id in self._agents

    def any(self) -> bool:
        """Tell whether anything was forwarded."""
        return bool(self._agents)

    @contextmanager
    def socket(self, ssh_id: str, uid: int, gid: int, mode: int) -> Iterator[Path]:
        """Serve a proxy socket for ``ssh_id`` during one step, with this owner."""
        agent = self._agents[ssh_id]
        folder = tempfile.mkdtemp(prefix="minikit-ssh-")
        path = Path(folder) / "ssh_auth_sock"
        proxy = _Proxy(path, agent.socket_path)
        try:
            os.chown(path, uid, gid)
            os.chmod(path, mode & 0o777)
            os.chmod(folder, 0o711)
            proxy.start()
            yield path
        finally:
            proxy.stop()
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Stop the agents minikit started."""
        for agent in self._agents.values():
            agent.close()


def check_ssh_flags(specs: Sequence[object]) -> None:
    """Check every ``--ssh`` key file now, so a bad key fails before the build starts.

    Raise SSHError for a file that is missing, too large, not a private key,
    or protected by a passphrase. Sockets and agents are checked when
    ``SSHForwarder.from_specs`` starts them.
    """
    for spec in specs:
        ssh_id = spec.id
        for path in spec.paths:
            if not _is_socket(path):
                _check_key(ssh_id, path)


def _agent_for(ssh_id: str, paths: tuple[str, ...]) -> _Agent:
    if not paths:
        sock = os.environ.get("SSH_AUTH_SOCK", "")
        if not sock:
            raise SSHError(
                f"--ssh {ssh_id}: SSH_AUTH_SOCK is not set, so there is no agent "
                "to forward",
                hint="start an agent (eval $(ssh-agent); ssh-add) or pass --ssh "
                f"{ssh_id}=PATH to a socket or key file",
            )
        paths = (sock,)
    sockets = [path for path in paths if _is_socket(path)]
    if sockets:
        if len(paths) > 1:
            raise SSHError(
                f"--ssh {ssh_id}: a socket cannot be mixed with other sockets or "
                "key files",
                hint=f"pass either one agent socket or key files to --ssh {ssh_id}=...",
            )
        return _Agent(sockets[0])
    for path in paths:
        _check_key(ssh_id, path)
    return _start_agent(ssh_id, paths)


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _check_key(ssh_id: str, path: str) -> None:
    try:
        with open(path, "rb") as handle:
            size = len(handle.read(MAX_KEY_FILE + 1))
    except OSError as exc:
        raise SSHError(
            f"--ssh {ssh_id}: failed to read {path}: {exc.strerror}",
            hint="check the path",
        ) from None
    if size > MAX_KEY_FILE:
        raise SSHError(
            f"--ssh {ssh_id}: {path} is larger than 100 KiB and is not a private key"
        )
    keygen = shutil.which("ssh-keygen")
    if keygen is None:
        raise SSHError(
            f"--ssh {ssh_id}: loading key files needs OpenSSH's ssh-keygen and "
            "ssh-agent",
            hint="install the openssh-client package",
        )
    result = subprocess.run(
        [keygen, "-y", "-P", "", "-f", path],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=_tool_env(),
        timeout=KEY_TOOL_TIMEOUT,
        check=False,
    )
    if result.returncode == 0:
        return
    text = result.stderr.decode(errors="replace").lower()
    if "passphrase" in text or "incorrect" in text:
        raise SSHError(
            f"--ssh {ssh_id}: ssh: this private key is passphrase protected: {path}",
            hint="add the key to your ssh-agent (ssh-add) and pass --ssh default, "
            "or use a key without a passphrase",
        )
    raise SSHError(
        f"--ssh {ssh_id}: {path} is not a usable private key",
        hint="pass an OpenSSH or PEM private key file",
    )


def _start_agent(ssh_id: str, keys: tuple[str, ...]) -> _Agent:
    agent_bin = shutil.which("ssh-agent")
    add_bin = shutil.which("ssh-add")
    if agent_bin is None or add_bin is None:
        raise SSHError(
            f"--ssh {ssh_id}: loading key files needs OpenSSH's ssh-agent",
            hint="install openssh-client",
        )
    agent = _spawn_agent(ssh_id, agent_bin)
    try:
        for key in keys:
            _add_key(ssh_id, add_bin, agent.socket_path, key)
    except BaseException:
        agent.close()
        raise
    return agent


def _tool_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SSH_ASKPASS_REQUIRE": "never",
    }


def _spawn_agent(ssh_id: str, agent_bin: str) -> _Agent:
    folder = tempfile.mkdtemp(prefix="minikit-agent-")
    sock = os.path.join(folder, "agent.sock")
    # NOTE: the agent runs in its own session; if minikit is killed before
    # close(), the agent outlives it until someone stops it.
    process = subprocess.Popen(
        [agent_bin, "-D", "-a", sock],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_tool_env(),
        start_new_session=True,
    )
    agent = _Agent(sock, process, folder)
    deadline = time.monotonic() + KEY_TOOL_TIMEOUT
    # The socket file appears at bind(), before the agent listens on it.
    while not _accepts(sock):
        if process.poll() is not None or time.monotonic() > deadline:
            agent.close()
            raise SSHError(f"--ssh {ssh_id}: ssh-agent did not start")
        time.sleep(0.01)
    return agent


def _accepts(path: str) -> bool:
    """Tell whether something listens on the unix socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _add_key(ssh_id: str, add_bin: str, sock: str, key: str) -> None:
    added = subprocess.run(
        [add_bin, "-q", key],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env={**_tool_env(), "SSH_AUTH_SOCK": sock},
        timeout=KEY_TOOL_TIMEOUT,
        check=False,
    )
    if added.returncode != 0:
        detail = added.stderr.decode(errors="replace").strip().splitlines()
        reason = f": {detail[-1]}" if detail else ""
        raise SSHError(
            f"--ssh {ssh_id}: failed to load {key} into the agent{reason}",
            hint="check that it is a private key",
        )


class _Proxy:
    """A unix socket server that relays the read-only agent requests upstream."""

    def __init__(self, path: Path, upstream: str) -> None:
        self.path = path
        self.upstream = upstream
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(16)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(
            target=self._accept, name="ssh-proxy", daemon=True
        )

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self._stopping.set()
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        with self._lock:
            for client in list(self._clients):
                _close(client)
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                self._clients.add(client)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.upstream)
            while True:
                message = _read_message(client)
                if message is None:
                    return
                if not message or message[0] not in _ALLOWED:
                    _write_message(client, bytes([SSH_AGENT_FAILURE]))
                    continue
                _write_message(upstream, message)
                answer = _read_message(upstream)
                if answer is None:
                    return
                _write_message(client, answer)
        except OSError as exc:
            log.debug("ssh agent proxy connection ended: %s", exc)
        finally:
            if upstream is not None:
                _close(upstream)
            _close(client)
            with self._lock:
                self._clients.discard(client)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def _read_exact(sock: socket.socket, count: int) -> bytes | None:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_message(sock: socket.socket) -> bytes | None:
    header = _read_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    if length > MAX_MESSAGE:
        raise OSError("agent message too large")
    return _read_exact(sock, length) if length else b""


def _write_message(sock: socket.socket, message: bytes) -> None:
    sock.sendall(struct.pack(">I", len(message)) + message)

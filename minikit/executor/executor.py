"""The build process's side of the executor: ``Executor.start`` and ``Executor.run``."""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Self

from minikit.errors import ExecutorError
from minikit.executor import idmap
from minikit.executor.protocol import (
    RunRequest,
    encode_request,
    receive_status,
    send_request,
)
from minikit.executor.syscalls import SetupError
from minikit.executor.types import BuildNamespace, MountSpec, RunResult, RunSpec

logger = logging.getLogger(__name__)

OutputCallback = Callable[[int, bytes], None]

# How often a RUN with a cancel event checks it, in seconds.
CANCEL_POLL_INTERVAL = 0.05
MAX_HOSTNAME_LENGTH = 64
_NETWORK_MODES = ("default", "none", "host")
_SECURITY_MODES = ("sandbox", "insecure")
_MOUNT_TYPES = ("bind", "tmpfs", "secret", "socket")


@dataclass
class _Outcome:
    """The status messages received for one RUN."""

    exit_code: int | None = None
    cancelled: bool = False
    error: dict[str, Any] | None = None
    diagnostic: str = ""


class Executor:
    """Runs RUN steps in fresh namespaces through a forked namespace helper.

    ``run`` is thread-safe: each call has its own pipes and status socket,
    and only the request send is serialized.
    """

    def __init__(
        self,
        namespace: BuildNamespace,
        helper_pid: int,
        control: socket.socket,
        scratch: str,
    ) -> None:
        self._namespace = namespace
        self._helper_pid = helper_pid
        self._control = control
        self._scratch = scratch
        self._send_lock = threading.Lock()
        self._closed = False
        self._used = False

    @classmethod
    def start(cls, namespace: BuildNamespace, scratch_parent: str | None = None) -> Executor:
        """Fork the namespace helper; call right after ``enter_build_namespace``.

        Forking is only safe while this process has a single thread, so this
        raises ``ExecutorError`` when other threads already run. The helper's
        scratch folder goes under ``scratch_parent`` (default: the system
        temporary folder), named after this process's pid, so a store's
        sweep can remove it after a build killed with SIGKILL.
        """
        if threading.active_count() > 1:
            raise ExecutorError(
                "failed to start the executor: other threads are already running",
                hint="call Executor.start() right after enter_build_namespace(), "
                "before any thread starts",
            )
        scratch = tempfile.mkdtemp(prefix=f"{os.getpid()}-exec-", dir=scratch_parent)
        parent_end, helper_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        uid_map = idmap.identity_of(namespace.uid_map)
        gid_map = idmap.identity_of(namespace.gid_map)
        parent_pid = os.getpid()
        helper_pid = os.fork()
        if helper_pid == 0:
            parent_end.close()
            # Imported after the fork: a build whose steps are all cached
            # never pays for the sandbox code in the build process.
            from minikit.executor.helper import HelperSettings, helper_main

            settings = HelperSettings(scratch=scratch, uid_map=uid_map, gid_map=gid_map)
            helper_main(helper_end, settings, parent_pid)
        helper_end.close()
        logger.debug(
            "namespace helper %d started, scratch directory %s", helper_pid, scratch
        )
        return cls(namespace, helper_pid, parent_end, scratch)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the helper, which kills RUNs still running, and wait for it."""
        if self._closed:
            return
        self._closed = True
        if not self._used:
            # The helper never ran a step, so nothing of it needs an orderly
            # stop; killing it spares a fully cached build its start-up time.
            os.kill(self._helper_pid, signal.SIGKILL)
        self._control.close()
        try:
            os.waitpid(self._helper_pid, 0)
        except ChildProcessError:
            pass
        shutil.rmtree(self._scratch, ignore_errors=True)
        logger.debug("namespace helper %d stopped", self._helper_pid)

    def run(
        self,
        spec: RunSpec,
        *,
        on_output: OutputCallback,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run ``spec`` and return how it ended; a non-zero exit is not an error.

        ``on_output(stream, data)`` is called from this thread as output
        arrives (stream 1 is stdout, 2 is stderr). Setting ``cancel`` kills
        the RUN; ``run`` then returns exit code 137 with ``cancelled`` set.
        When ``run`` returns, no process and no mount of the RUN remains.
        Raises ``ExecutorError`` when the sandbox cannot be set up.
        """
        if self._closed:
            raise ExecutorError("failed to run: the executor is closed")
        from minikit.executor import stubs

        self._used = True
        request = build_request(spec)
        recorded = self._record_stubs(spec)
        try:
            outcome = self._execute(request, on_output, cancel)
        finally:
            removed = stubs.remove_stubs(recorded) if recorded is not None else ()
        if outcome.error is not None:
            raise _executor_error(outcome)
        if outcome.exit_code is None:
            raise ExecutorError(
                "failed to run: the namespace helper stopped before the RUN finished",
                hint="run with --debug to see the helper's log",
            )
        return RunResult(outcome.exit_code, outcome.cancelled, removed)

    def _record_stubs(self, spec: RunSpec) -> Any:
        from minikit.executor import rootfs, stubs

        if not spec.remove_mount_stubs:
            return None
        destinations = list(rootfs.SYSTEM_DESTINATIONS) + [m.dest for m in spec.mounts]
        try:
            return stubs.record_stubs(spec.rootfs, destinations)
        except SetupError as error:
            raise ExecutorError(error.message, hint=error.hint or None) from error

    def _execute(
        self,
        request: RunRequest,
        on_output: OutputCallback,
        cancel: threading.Event | None,
    ) -> _Outcome:
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        status, status_remote = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with self._send_lock:
                send_request(
                    self._control,
                    encode_request(request),
                    [stdout_w, stderr_w, status_remote.fileno()],
                )
        except OSError as error:
            for fd in (stdout_r, stderr_r):
                os.close(fd)
            status.close()
            raise ExecutorError(
                f"failed to send the RUN to the namespace helper: {error}",
                hint="the helper has exited; run with --debug to see its log",
            ) from error
        finally:
            os.close(stdout_w)
            os.close(stderr_w)
            status_remote.close()
        return _collect(status, stdout_r, stderr_r, on_output, cancel)


def _collect(
    status: socket.socket,
    stdout_r: int,
    stderr_r: int,
    on_output: OutputCallback,
    cancel: threading.Event | None,
) -> _Outcome:
    """Read output and status until every process of the RUN has closed them."""
    outcome = _Outcome()
    selector = selectors.DefaultSelector()
    selector.register(stdout_r, selectors.EVENT_READ, 1)
    selector.register(stderr_r, selectors.EVENT_READ, 2)
    selector.register(status, selectors.EVENT_READ, 0)
    cancel_sent = False
    callback_error: BaseException | None = None
    try:
        while selector.get_map():
            timeout = (
                CANCEL_POLL_INTERVAL if cancel is not None and not cancel_sent else None
            )
            events = selector.select(timeout)
            if not cancel_sent and (
                callback_error or (cancel is not None and cancel.is_set())
            ):
                cancel_sent = _send_cancel(status)
            for key, _mask in events:
                if key.data == 0:
                    _read_status(selector, status, outcome)
                    continue
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                elif callback_error is None:
                    try:
                        on_output(key.data, data)
                    except BaseException as error:  # noqa: BLE001 - re-raised below
                        callback_error = error
    finally:
        selector.close()
        status.close()
        os.close(stdout_r)
        os.close(stderr_r)
    if callback_error is not None:
        raise callback_error
    return outcome


def _send_cancel(status: socket.socket) -> bool:
    try:
        status.send(b'{"type":"cancel"}')
    except OSError:
        pass
    return True


def _read_status(
    selector: selectors.BaseSelector, status: socket.socket, outcome: _Outcome
) -> None:
    message = receive_status(status)
    if message is None:
        selector.unregister(status)
        return
    kind = message.get("type")
    if kind == "error" and outcome.error is None:
        outcome.error = message
    elif kind == "exit":
        outcome.exit_code = int(message["code"])
        outcome.cancelled = bool(message.get("cancelled"))
    elif kind == "diagnostic":
        outcome.diagnostic = str(message.get("text", ""))


def _executor_error(outcome: _Outcome) -> ExecutorError:
    assert outcome.error is not None
    hint = str(outcome.error.get("hint") or "")
    if outcome.diagnostic:
        detail = f"slirp4netns said: {outcome.diagnostic.splitlines()[-1]}"
        hint = f"{hint}; {detail}" if hint else detail
    return ExecutorError(str(outcome.error.get("message")), hint=hint or None)


def build_request(spec: RunSpec) -> RunRequest:
    """Check ``spec`` and add what only the build namespace can know.

    Raises ``ExecutorError`` for an invalid spec, a missing rootfs or a
    missing slirp4netns.
    """
    from minikit.executor import etcfiles, network

    validate_spec(spec)
    host_resolv = etcfiles.read_host_resolv_conf()
    files = {
        "hosts": etcfiles.hosts_file(spec.hostname, spec.extra_hosts),
        "resolv.conf": etcfiles.resolv_conf(host_resolv, spec.network),
        "hostname": etcfiles.hostname_file(spec.hostname),
    }
    slirp = ""
    if spec.network == "default":
        try:
            slirp = network.find_slirp4netns()
            network.check_tun_device()
        except SetupError as error:
            raise ExecutorError(error.message, hint=error.hint or None) from error
    absolute = replace(spec, rootfs=os.path.abspath(spec.rootfs))
    return RunRequest(absolute, files, slirp)


def validate_spec(spec: RunSpec) -> None:
    """Raise ``ExecutorError`` naming the first invalid field of ``spec``."""
    if not os.path.isdir(spec.rootfs):
        raise ExecutorError(
            f"failed to run: rootfs {spec.rootfs} does not exist or is not a directory",
            hint="the snapshotter must prepare the root filesystem before the RUN",
        )
    if not spec.args:
        raise ExecutorError("failed to run: no command given (args is empty)")
    if not spec.cwd.startswith("/"):
        raise ExecutorError(
            f"failed to run: working directory {spec.cwd!r} is not absolute"
        )
    if spec.network not in _NETWORK_MODES:
        raise ExecutorError(f"failed to run: invalid network mode {spec.network!r}")
    if spec.security not in _SECURITY_MODES:
        raise ExecutorError(f"failed to run: invalid security mode {spec.security!r}")
    if not spec.hostname or len(spec.hostname) > MAX_HOSTNAME_LENGTH:
        raise ExecutorError(
            f"failed to run: invalid hostname {spec.hostname!r}: "
            f"expected 1 to {MAX_HOSTNAME_LENGTH} characters"
        )
    for mount in spec.mounts:
        _validate_mount(mount)


def _validate_mount(mount: MountSpec) -> None:
    if mount.type not in _MOUNT_TYPES:
        raise ExecutorError(
            f"failed to mount {mount.dest}: unknown mount type {mount.type!r}"
        )
    if not mount.dest.startswith("/") or mount.dest.rstrip("/") == "":
        raise ExecutorError(
            f"failed to mount {mount.type}: invalid destination {mount.dest!r}"
        )
    if mount.type in ("bind", "socket") and not os.path.lexists(mount.source):
        raise ExecutorError(
            f"failed to mount {mount.type} source {mount.source!r} on {mount.dest}: "
            "no such file or directory"
        )

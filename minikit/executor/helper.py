"""The namespace helper: a single-threaded process that forks every RUN.

The build process forks the helper before it starts any thread, because
forking a multi-threaded process is unsafe and a fresh interpreter per RUN
is too slow. The helper serves requests from one socketpair. For each it
forks a supervisor (``minikit.executor.sandbox``), writes the uid and gid
maps of the supervisor's new user namespace, starts slirp4netns when the
RUN has the default network, and goes back to serving, so several RUNs can
run at once. It closes a RUN's status socket only after it has reaped the
supervisor and slirp4netns, so the end of that socket means to the build
process that nothing of the RUN is left.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from minikit.executor import capabilities, idmap, network, seccomp
from minikit.executor.protocol import (
    ProtocolError,
    RunRequest,
    decode_request,
    receive_request,
    send_status,
)
from minikit.executor.sandbox import RunChannels, SandboxConfig, supervise_run
from minikit.executor.syscalls import PR_SET_PDEATHSIG, SetupError, prctl
from minikit.executor.types import IdMapping

logger = logging.getLogger(__name__)

# The last bytes of slirp4netns's stderr kept for an error report.
SLIRP_OUTPUT_TAIL = 4096


@dataclass(frozen=True)
class HelperSettings:
    """The settings the build process passes to the helper when it forks it."""

    scratch: str
    uid_map: tuple[IdMapping, ...]
    gid_map: tuple[IdMapping, ...]


@dataclass
class _Run:
    """The helper's record of one RUN until everything of it has been reaped."""

    pid: int
    status: int
    supervisor_done: bool = False
    slirp: subprocess.Popen[bytes] | None = None
    slirp_output: bytearray = field(default_factory=bytearray)

    def finished(self) -> bool:
        return self.supervisor_done and self.slirp is None


def helper_main(
    control: socket.socket, settings: HelperSettings, parent_pid: int
) -> NoReturn:
    """Serve requests on ``control`` until the build process closes it; never returns."""
    code = 0
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:
            os._exit(1)
        # The build process decides when the helper stops: a terminal's ^C
        # reaches the whole process group, and must not kill RUNs behind its back.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        Helper(control, settings).serve()
    except BaseException:
        logger.exception("namespace helper failed")
        code = 1
    finally:
        os._exit(code)


class Helper:
    """The helper's event loop over the request socket and its RUNs' processes."""

    def __init__(self, control: socket.socket, settings: HelperSettings) -> None:
        self._control = control
        self._settings = settings
        self._selector = selectors.DefaultSelector()
        self._runs: dict[int, _Run] = {}
        self._seccomp_bpf: bytes | None = None
        self._last_capability = capabilities.last_capability()
        # pyroute2 encodes the loopback request in a child, in the background.
        network.start_loopback_encoder()

    def serve(self) -> None:
        """Handle requests and process exits until the request socket closes."""
        self._selector.register(self._control, selectors.EVENT_READ, None)
        while True:
            for key, _events in self._selector.select():
                if key.data is not None:
                    key.data()
                elif not self._accept():
                    self._shutdown()
                    return

    def _accept(self) -> bool:
        try:
            received = receive_request(self._control)
        except (OSError, ProtocolError, ValueError) as error:
            logger.error("namespace helper: unreadable request, stopping: %s", error)
            return False
        if received is None:
            return False
        body, fds = received
        if len(fds) != 3:
            logger.error(
                "namespace helper: request with %d descriptors, expected 3", len(fds)
            )
            for fd in fds:
                os.close(fd)
            return True
        self._handle(body, *fds)
        return True

    def _handle(
        self, body: dict[str, object], stdout: int, stderr: int, status: int
    ) -> None:
        try:
            request = decode_request(body)
            self._start_run(request, stdout, stderr, status)
        except SetupError as error:
            send_status(status, error.to_json())
            os.close(status)
        except (KeyError, TypeError, ValueError) as error:
            send_status(
                status, {"type": "error", "message": f"invalid RUN request: {error}"}
            )
            os.close(status)
        except OSError as error:
            send_status(
                status, SetupError.from_os_error("start the RUN", "", error).to_json()
            )
            os.close(status)
        finally:
            os.close(stdout)
            os.close(stderr)

    def _config(self, request: RunRequest) -> SandboxConfig:
        if request.spec.security != "insecure" and self._seccomp_bpf is None:
            profile = seccomp.default_profile(capabilities.DEFAULT_CAPABILITIES)
            self._seccomp_bpf = seccomp.compile_bpf(profile)
        return SandboxConfig(
            scratch=self._settings.scratch,
            uid_map=self._settings.uid_map,
            gid_map=self._settings.gid_map,
            seccomp_bpf=self._seccomp_bpf or b"",
            last_capability=self._last_capability,
        )

    def _start_run(
        self, request: RunRequest, stdout: int, stderr: int, status: int
    ) -> None:
        config = self._config(request)
        if request.spec.network != "host":
            # A SetupError goes to _handle, which reports it and closes the
            # status socket; the build waits for that socket to close.
            network.loopback_up_request()
        to_helper_r, to_helper_w = os.pipe()
        from_helper_r, from_helper_w = os.pipe()
        ready_r = ready_w = exit_r = exit_w = -1
        if request.slirp4netns:
            ready_r, ready_w = os.pipe()
            exit_r, exit_w = os.pipe()
        channels = RunChannels(
            status, stdout, stderr, to_helper_w, from_helper_r, ready_r, exit_w
        )
        pid = os.fork()
        if pid == 0:
            supervise_run(request, channels, config)

        for fd in (to_helper_w, from_helper_r, ready_r, exit_w):
            if fd >= 0:
                os.close(fd)
        run = _Run(pid, status)
        self._runs[pid] = run
        self._watch_exit(pid, lambda: self._supervisor_exited(run))

        try:
            self._set_up_namespaces(
                run, request, to_helper_r, ready_w, exit_r, from_helper_w
            )
        except SetupError as error:
            send_status(status, error.to_json())
            os.kill(pid, signal.SIGKILL)
        except OSError as error:
            # The supervisor died between its two messages; it reported why.
            logger.debug("RUN supervisor %d vanished during setup: %s", pid, error)
            os.kill(pid, signal.SIGKILL)
        finally:
            for fd in (to_helper_r, from_helper_w, ready_w, exit_r):
                if fd >= 0:
                    os.close(fd)

    def _set_up_namespaces(
        self,
        run: _Run,
        request: RunRequest,
        to_helper: int,
        ready_w: int,
        exit_r: int,
        go: int,
    ) -> None:
        # The supervisor writes one byte once it has unshared; end of file
        # means it failed and has reported the error itself.
        if os.read(to_helper, 1) != b"u":
            return
        self._write_id_maps(run.pid)
        if request.slirp4netns:
            self._start_slirp(run, request.slirp4netns, ready_w, exit_r)
        os.write(go, b"1")

    def _write_id_maps(self, pid: int) -> None:
        for name, mappings in (
            ("uid_map", self._settings.uid_map),
            ("gid_map", self._settings.gid_map),
        ):
            path = f"/proc/{pid}/{name}"
            try:
                with open(path, "w", encoding="ascii") as handle:
                    handle.write(idmap.format_id_map(mappings))
            except OSError as error:
                raise SetupError.from_os_error("write", path, error) from error

    def _start_slirp(
        self, run: _Run, executable: str, ready_w: int, exit_r: int
    ) -> None:
        command = network.slirp_command(executable, run.pid, ready_w, exit_r)
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(ready_w, exit_r),
            )
        except OSError as error:
            raise SetupError.from_os_error("start", executable, error) from error
        run.slirp = process
        assert process.stderr is not None
        os.set_blocking(process.stderr.fileno(), False)
        self._selector.register(
            process.stderr,
            selectors.EVENT_READ,
            lambda: self._read_slirp_output(run, process),
        )
        self._watch_exit(process.pid, lambda: self._slirp_exited(run, process))

    def _watch_exit(self, pid: int, callback: Callable[[], None]) -> None:
        pidfd = os.pidfd_open(pid)

        def on_exit() -> None:
            self._selector.unregister(pidfd)
            os.close(pidfd)
            callback()

        self._selector.register(pidfd, selectors.EVENT_READ, on_exit)

    def _read_slirp_output(self, run: _Run, process: subprocess.Popen[bytes]) -> None:
        stream = process.stderr
        if stream is None or stream.closed:
            return
        while True:
            try:
                data = os.read(stream.fileno(), 65536)
            except BlockingIOError:
                return
            if not data:
                break
            run.slirp_output.extend(data)
            del run.slirp_output[:-SLIRP_OUTPUT_TAIL]
        self._selector.unregister(stream)
        stream.close()

    def _supervisor_exited(self, run: _Run) -> None:
        os.waitpid(run.pid, 0)
        run.supervisor_done = True
        self._finish_if_done(run)

    def _slirp_exited(self, run: _Run, process: subprocess.Popen[bytes]) -> None:
        returncode = process.wait()
        self._read_slirp_output(run, process)
        if process.stderr is not None and not process.stderr.closed:
            # Output still open after exit: a process slirp4netns forked keeps it open.
            self._selector.unregister(process.stderr)
            process.stderr.close()
        if returncode != 0:
            text = run.slirp_output.decode("utf-8", "replace").strip()
            logger.debug(
                "slirp4netns for RUN %d exited with %d: %s", run.pid, returncode, text
            )
            send_status(
                run.status,
                {"type": "diagnostic", "source": "slirp4netns", "text": text},
            )
        run.slirp = None
        self._finish_if_done(run)

    def _finish_if_done(self, run: _Run) -> None:
        if run.finished():
            os.close(run.status)
            del self._runs[run.pid]

    def _shutdown(self) -> None:
        """Kill what is still running once the build process has closed the socket."""
        for run in list(self._runs.values()):
            if not run.supervisor_done:
                os.kill(run.pid, signal.SIGKILL)
        while self._runs:
            for key, _events in self._selector.select():
                if key.data is not None:
                    key.data()
